/**
 * Zero-shot classification (PRODUCT.md §2): per image, softmax(exp(scalingFactor) · img · textᵀ) over the
 * candidate labels; the most probable label and its probability.
 */
import { dotRows } from "./similarity";

export interface ZeroShotResult {
	/** Index of the most probable label per image. */
	best: Int32Array;
	/** Its probability. */
	probability: Float32Array;
	/** The logit scale used: exp(scalingFactor). */
	scale: number;
}

/** Softmax of `logits` (numerically stable), written to `out`. */
export function softmax(logits: ArrayLike<number>, out: Float64Array = new Float64Array(logits.length)): Float64Array {
	let max = -Infinity;
	for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
	let sum = 0;
	for (let i = 0; i < logits.length; i++) {
		const e = Math.exp((logits[i] as number) - max);
		out[i] = e;
		sum += e;
	}
	for (let i = 0; i < logits.length; i++) out[i] = (out[i] as number) / sum;
	return out;
}

/**
 * `texts` are the label embeddings (each `dim` long, L2-normalised); `scalingFactor` is the endpoint's
 * log logit scale (MedImageInsight reports it with every response; CLIP-style models use ln 100 ≈ 4.6).
 */
export function zeroShot(vectors: Float32Array, dim: number, texts: Float32Array[], scalingFactor: number): ZeroShotResult {
	if (texts.length === 0) throw new Error("Zero-shot needs at least one label.");
	for (const t of texts) if (t.length !== dim) throw new Error(`A label embedding has ${t.length} values, the images ${dim}.`);
	if (!Number.isFinite(scalingFactor)) throw new Error("The scaling factor is not a finite number.");
	const n = dim === 0 ? 0 : vectors.length / dim;
	const L = texts.length;
	const T = new Float32Array(L * dim);
	texts.forEach((t, j) => T.set(t, j * dim));
	const scale = Math.exp(scalingFactor);
	const best = new Int32Array(n);
	const probability = new Float32Array(n);
	const logits = new Float64Array(L);
	const p = new Float64Array(L);
	for (let i = 0; i < n; i++) {
		for (let j = 0; j < L; j++) logits[j] = scale * dotRows(vectors, i, T, j, dim);
		softmax(logits, p);
		let b = 0;
		for (let j = 1; j < L; j++) if ((p[j] as number) > (p[b] as number)) b = j;
		best[i] = b;
		probability[i] = p[b] as number;
	}
	return { best, probability, scale };
}
