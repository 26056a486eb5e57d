/**
 * A seeded 2-D UMAP layout of the embeddings (umap-js) for the results map. The L2-normalised vectors
 * are first projected on their leading PCA axes (32 by default: on unit vectors Euclidean distance is
 * a function of cosine similarity, and the leading axes keep the neighbourhoods while making the
 * nearest-neighbour search ~30× cheaper); UMAP then runs on those coordinates with a fixed seed, so
 * the same results give the same map. Meant to run off the UI thread (src/workers/umapWorker.ts).
 */
import { UMAP } from "umap-js";
import { seededRandom } from "../util/random";
import { noYield, type Yielder } from "./cooperative";
import { pca } from "./pca";
import { minUmapPoints } from "./mapLimits";

export interface UmapOptions {
	seed?: number;
	/** PCA dimensions UMAP runs on (default 32). */
	pcaDims?: number;
	/** Neighbours per point (default 15, at most n − 1). */
	nNeighbors?: number;
	/** Optimisation epochs (default: umap-js's choice, 500 below 10,000 points and 200 above). */
	nEpochs?: number;
	minDist?: number;
	yielder?: Yielder;
	/** Called with (epochs done, epochs in all) now and then. */
	onProgress?: (done: number, total: number) => void;
}


/** n × 2 coordinates (Float32, row-major) of a UMAP layout of the n rows of `vectors` (dim wide). */
export async function umapLayout(vectors: Float32Array, dim: number, options: UmapOptions = {}): Promise<Float32Array> {
	const yielder = options.yielder ?? noYield;
	const n = dim === 0 ? 0 : vectors.length / dim;
	if (n < minUmapPoints) throw new Error(`UMAP needs at least ${minUmapPoints} images (there are ${n}).`);
	const seed = options.seed ?? 42;
	const k = Math.min(options.pcaDims ?? 32, dim, n - 1);
	const reduced = await pca(vectors, dim, k, { maxIterations: 12, sampleRows: 3000, seed, yielder });
	const m = reduced.components;
	const X: number[][] = new Array(n);
	for (let i = 0; i < n; i++) X[i] = Array.from(reduced.coords.subarray(i * m, (i + 1) * m));
	await yielder();
	const params: ConstructorParameters<typeof UMAP>[0] = {
		nComponents: 2,
		nNeighbors: Math.max(2, Math.min(options.nNeighbors ?? 15, n - 1)),
		minDist: options.minDist ?? 0.1,
		random: seededRandom(seed),
	};
	if (options.nEpochs !== undefined) params.nEpochs = options.nEpochs;
	const umap = new UMAP(params);
	const epochs = umap.initializeFit(X);
	await yielder();
	for (let e = 0; e < epochs; e++) {
		umap.step();
		if (e % 10 === 9) {
			options.onProgress?.(e + 1, epochs);
			await yielder();
		}
	}
	const emb = umap.getEmbedding();
	const out = new Float32Array(n * 2);
	for (let i = 0; i < n; i++) {
		const p = emb[i] as number[];
		out[i * 2] = p[0] as number;
		out[i * 2 + 1] = p[1] as number;
	}
	return out;
}
