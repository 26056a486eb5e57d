/**
 * Outlier score per image: 1 − mean cosine similarity to its k nearest other images (k = 1 gives
 * 1 − max similarity). Exact all-pairs (blocked, symmetric) up to `exactLimit` rows; above it the
 * candidates come from a PCA-reduced space (squared distance there) and are rescored exactly on the
 * full vectors, which keeps 10,000 × 1024 at a few seconds instead of about a minute.
 */
import { noYield, type Yielder } from "./cooperative";
import { pca } from "./pca";
import { dotRows } from "./similarity";
import { TopK } from "./topK";

export interface OutlierOptions {
	/** Neighbours averaged (default 5). */
	k?: number;
	/** Largest row count scored exactly (default 4000). */
	exactLimit?: number;
	/** Reduced dimension for the approximate path (default 32). */
	reducedDim?: number;
	/** Extra candidates rescored exactly per row on the approximate path (default 24). */
	extraCandidates?: number;
	yielder?: Yielder;
}

export interface OutlierResult {
	/** One score per row (higher = more unusual). */
	scores: Float32Array;
	exact: boolean;
	k: number;
}

const block = 64;

/**
 * For every row, the best `k` partners over all j ≠ i, scored by the dot product of rows of `x` (d wide),
 * or, when `sq` (squared norms) is given, by −‖xᵢ − xⱼ‖² = 2 xᵢ·xⱼ − ‖xᵢ‖² − ‖xⱼ‖². Symmetric and blocked:
 * each pair is scored once, tiles of rows stay in cache.
 */
async function allPairsTopK(x: Float32Array, d: number, sq: Float32Array | undefined, k: number, yielder: Yielder): Promise<TopK[]> {
	const n = x.length / d;
	const tops = Array.from({ length: n }, () => new TopK(k));
	for (let i0 = 0; i0 < n; i0 += block) {
		const i1 = Math.min(n, i0 + block);
		for (let j0 = i0; j0 < n; j0 += block) {
			scoreTile(x, d, sq, tops, i0, i1, j0, Math.min(n, j0 + block));
			await yielder();
		}
	}
	return tops;
}

function scoreTile(x: Float32Array, d: number, sq: Float32Array | undefined, tops: TopK[], i0: number, i1: number, j0: number, j1: number): void {
	for (let i = i0; i < i1; i++) {
		const ti = tops[i] as TopK;
		const si = sq ? (sq[i] as number) : 0;
		for (let j = Math.max(j0, i + 1); j < j1; j++) {
			const dot = dotRows(x, i, x, j, d);
			const s = sq ? 2 * dot - si - (sq[j] as number) : dot;
			if (s > ti.threshold) ti.push(j, s);
			const tj = tops[j] as TopK;
			if (s > tj.threshold) tj.push(i, s);
		}
	}
}

export async function outlierScores(vectors: Float32Array, dim: number, options: OutlierOptions = {}): Promise<OutlierResult> {
	const yielder = options.yielder ?? noYield;
	const n = dim === 0 ? 0 : vectors.length / dim;
	const k = Math.max(1, Math.min(options.k ?? 5, n - 1));
	const scores = new Float32Array(n);
	if (n < 2) return { scores, exact: true, k };
	const exact = n <= (options.exactLimit ?? 4000) || dim <= (options.reducedDim ?? 32);
	let tops: TopK[];
	if (exact) {
		tops = await allPairsTopK(vectors, dim, undefined, k, yielder);
	} else {
		const r = Math.min(options.reducedDim ?? 32, dim);
		const reduced = await pca(vectors, dim, r, { maxIterations: 4, oversample: 0, sampleRows: 3000, yielder });
		const sq = new Float32Array(n);
		for (let i = 0; i < n; i++) sq[i] = dotRows(reduced.coords, i, reduced.coords, i, r);
		const candidates = await allPairsTopK(reduced.coords, r, sq, k + (options.extraCandidates ?? 24), yielder);
		tops = [];
		for (let i = 0; i < n; i++) {
			const t = new TopK(k);
			for (const c of (candidates[i] as TopK).sorted()) t.push(c.index, dotRows(vectors, i, vectors, c.index, dim));
			tops.push(t);
			if ((i & 255) === 255) await yielder();
		}
	}
	for (let i = 0; i < n; i++) {
		const t = tops[i] as TopK;
		let s = 0;
		for (let j = 0; j < t.size; j++) s += t.scores[j] as number;
		scores[i] = 1 - s / t.size;
	}
	return { scores, exact, k };
}
