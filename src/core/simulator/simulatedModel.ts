/**
 * The simulated endpoint's "model": deterministic, L2-normalised 1024-long vectors that depend on the
 * image CONTENT, so that similar images land close together. It is a simulation, not MedImageInsight:
 * an image is decoded, reduced to a 16×16 grey grid (structure), a 16-bin intensity histogram and a few
 * global measures (brightness, contrast, colourfulness, aspect), and that feature vector is projected
 * to 1024 dimensions with a fixed seeded random matrix (a random projection keeps cosine similarities
 * approximately). Texts hash their words to seeded random vectors in the same space; they are not
 * grounded in images (a word means nothing about what an image shows), only deterministic and normalised.
 */
import { PNG } from "pngjs";
import { seededRandom } from "../util/random";

export const simulatedDimension = 1024;
const grid = 16;
const histBins = 16;
const globals = 4;
const featureCount = grid * grid + histBins + globals;
const maxTextTokens = 77;

/** An approximately normal value from a uniform PRNG (sum of four uniforms, centred). */
function gaussian(rand: () => number): number {
	return (rand() + rand() + rand() + rand() - 2) * 1.7320508;
}

/** FNV-1a 32-bit hash of a string. */
function fnv1a(s: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193);
	}
	return h >>> 0;
}

function normalise(v: Float32Array): Float32Array {
	let n = 0;
	for (const x of v) n += x * x;
	n = Math.sqrt(n);
	if (n > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / n;
	return v;
}

export class SimulatedModel {
	/** Row-major 1024 × featureCount projection. */
	private readonly projection: Float32Array;
	private readonly tokenCache = new Map<string, Float32Array>();

	constructor(readonly seed = 20240601) {
		const rand = seededRandom(seed);
		this.projection = new Float32Array(simulatedDimension * featureCount);
		for (let i = 0; i < this.projection.length; i++) this.projection[i] = gaussian(rand);
	}

	/**
	 * Embeds a PNG given as base64; throws an Error with a one-line reason if it is not a readable PNG.
	 * Like MedImageInsight, it turns a gray PNG into RGB first (pngjs gives every PNG as RGBA, a gray
	 * sample in all three channels), so an 8-bit grayscale PNG and its RGB twin get the same vector.
	 */
	embedImage(base64: string): Float32Array {
		let png: PNG;
		try {
			png = PNG.sync.read(Buffer.from(base64, "base64"));
		} catch (e) {
			throw new Error(`cannot decode the image as PNG (${e instanceof Error ? e.message : String(e)})`, { cause: e });
		}
		return this.project(this.features(png.width, png.height, png.data));
	}

	/** Embeds a text (cut at 77 words, as the real service cuts at 77 tokens). */
	embedText(text: string): Float32Array {
		const tokens = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, maxTextTokens);
		const out = new Float32Array(simulatedDimension);
		for (const t of tokens.length > 0 ? tokens : [""]) {
			const v = this.tokenVector(t);
			for (let i = 0; i < simulatedDimension; i++) out[i] = (out[i] as number) + (v[i] as number);
		}
		return normalise(out);
	}

	private tokenVector(token: string): Float32Array {
		let v = this.tokenCache.get(token);
		if (!v) {
			const rand = seededRandom(fnv1a(token) ^ this.seed);
			v = new Float32Array(simulatedDimension);
			for (let i = 0; i < simulatedDimension; i++) v[i] = gaussian(rand);
			if (this.tokenCache.size > 10000) this.tokenCache.clear();
			this.tokenCache.set(token, v);
		}
		return v;
	}

	/** Grey grid (mean-removed, unit norm), histogram and global measures of an RGBA image. */
	private features(width: number, height: number, rgba: Uint8Array): Float32Array {
		const sums = new Float64Array(grid * grid);
		const counts = new Float64Array(grid * grid);
		const hist = new Float64Array(histBins);
		let total = 0;
		let totalSq = 0;
		let colour = 0;
		// Large images are sampled on a lattice of at most ~256×256 points: enough for a 16×16 grid.
		const step = Math.max(1, Math.floor(Math.max(width, height) / 256));
		let n = 0;
		for (let y = 0; y < height; y += step) {
			const gy = Math.min(grid - 1, Math.floor((y * grid) / height));
			for (let x = 0; x < width; x += step) {
				const o = (y * width + x) * 4;
				const r = rgba[o] as number;
				const g = rgba[o + 1] as number;
				const b = rgba[o + 2] as number;
				const lum = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
				const cell = gy * grid + Math.min(grid - 1, Math.floor((x * grid) / width));
				sums[cell] = (sums[cell] as number) + lum;
				counts[cell] = (counts[cell] as number) + 1;
				const bin = Math.min(histBins - 1, Math.floor(lum * histBins));
				hist[bin] = (hist[bin] as number) + 1;
				total += lum;
				totalSq += lum * lum;
				colour += (Math.max(r, g, b) - Math.min(r, g, b)) / 255;
				n++;
			}
		}
		const f = new Float32Array(featureCount);
		const mean = n > 0 ? total / n : 0;
		const std = n > 0 ? Math.sqrt(Math.max(0, totalSq / n - mean * mean)) : 0;
		let gridNorm = 0;
		for (let i = 0; i < grid * grid; i++) {
			const c = counts[i] as number;
			const v = (c > 0 ? (sums[i] as number) / c : mean) - mean;
			f[i] = v;
			gridNorm += v * v;
		}
		gridNorm = Math.sqrt(gridNorm);
		if (gridNorm > 0) for (let i = 0; i < grid * grid; i++) f[i] = (f[i] as number) / gridNorm;
		let histNorm = 0;
		for (let i = 0; i < histBins; i++) histNorm += ((hist[i] as number) / Math.max(1, n)) ** 2;
		histNorm = Math.sqrt(histNorm);
		for (let i = 0; i < histBins; i++) f[grid * grid + i] = histNorm > 0 ? (0.6 * (hist[i] as number)) / Math.max(1, n) / histNorm : 0;
		const g0 = grid * grid + histBins;
		f[g0] = 0.5 * (mean - 0.5);
		f[g0 + 1] = 0.5 * std;
		f[g0 + 2] = 0.5 * (n > 0 ? colour / n : 0);
		f[g0 + 3] = 0.2 * Math.log(width / Math.max(1, height));
		return f;
	}

	private project(f: Float32Array): Float32Array {
		const out = new Float32Array(simulatedDimension);
		const m = this.projection;
		for (let i = 0; i < simulatedDimension; i++) {
			let s = 0;
			const row = i * featureCount;
			for (let j = 0; j < featureCount; j++) s += (m[row + j] as number) * (f[j] as number);
			out[i] = s;
		}
		return normalise(out);
	}
}
