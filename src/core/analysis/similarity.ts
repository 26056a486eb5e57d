/**
 * Cosine similarity on L2-normalised row vectors (a dot product): nearest neighbours of one image and
 * the ranking of all images against a query vector (free-text search).
 */
import { TopK } from "./topK";

export interface Scored {
	index: number;
	score: number;
}

/** Dot product of row `a` of `x` and row `b` of `y` (both `dim` wide), unrolled by four. */
export function dotRows(x: Float32Array, a: number, y: Float32Array, b: number, dim: number): number {
	let s0 = 0;
	let s1 = 0;
	let s2 = 0;
	let s3 = 0;
	const oa = a * dim;
	const ob = b * dim;
	const end = dim - (dim % 4);
	let d = 0;
	for (; d < end; d += 4) {
		s0 += (x[oa + d] as number) * (y[ob + d] as number);
		s1 += (x[oa + d + 1] as number) * (y[ob + d + 1] as number);
		s2 += (x[oa + d + 2] as number) * (y[ob + d + 2] as number);
		s3 += (x[oa + d + 3] as number) * (y[ob + d + 3] as number);
	}
	for (; d < dim; d++) s0 += (x[oa + d] as number) * (y[ob + d] as number);
	return s0 + s1 + s2 + s3;
}

/** Similarity of every row of `vectors` to `query` (length dim). */
export function scoreAll(vectors: Float32Array, dim: number, query: Float32Array): Float32Array {
	if (query.length !== dim) throw new Error(`Query has ${query.length} values, the embeddings ${dim}.`);
	const n = dim === 0 ? 0 : vectors.length / dim;
	const out = new Float32Array(n);
	for (let i = 0; i < n; i++) out[i] = dotRows(vectors, i, query, 0, dim);
	return out;
}

/** The k best entries of `scores`, best first (ties: lower index first), skipping `exclude`. */
export function topOf(scores: Float32Array, k: number, exclude = -1): Scored[] {
	const top = new TopK(Math.max(0, Math.min(k, scores.length - (exclude >= 0 && exclude < scores.length ? 1 : 0))));
	for (let i = 0; i < scores.length; i++) if (i !== exclude) top.push(i, scores[i] as number);
	return top.sorted();
}

/** The k nearest neighbours of row `index` by cosine similarity, excluding itself, best first. */
export function nearestNeighbors(vectors: Float32Array, dim: number, index: number, k: number): Scored[] {
	const n = dim === 0 ? 0 : vectors.length / dim;
	if (!Number.isInteger(index) || index < 0 || index >= n) throw new Error(`No image ${index} (there are ${n}).`);
	const query = vectors.subarray(index * dim, (index + 1) * dim);
	return topOf(scoreAll(vectors, dim, query), k, index);
}

/** Scales `v` to unit length in place (a zero vector stays zero) and returns it. */
export function normalize(v: Float32Array): Float32Array {
	let s = 0;
	for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
	if (s > 0) {
		const inv = 1 / Math.sqrt(s);
		for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * inv;
	}
	return v;
}
