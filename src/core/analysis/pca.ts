/**
 * Principal component analysis of row vectors by subspace iteration on the covariance, never forming
 * the D×D covariance matrix: each iteration is two passes over the N×D data (X·V, then Xᵀ·W), followed
 * by Gram–Schmidt and a Rayleigh–Ritz step (Jacobi on the small c×c matrix) that orders and rotates the
 * basis into eigenvectors. For 10,000 × 1024 and 2 components this takes about a second.
 */
import { noYield, type Yielder } from "./cooperative";
import { dotRows } from "./similarity";
import { seededRandom } from "../util/random";

export interface PcaOptions {
	/** Upper bound on iterations (default 20); stops earlier once the eigenvalues settle. */
	maxIterations?: number;
	/** Extra basis vectors that speed up convergence (default 4). */
	oversample?: number;
	/** Relative eigenvalue change that counts as converged (default 1e-4). */
	tolerance?: number;
	seed?: number;
	yielder?: Yielder;
	/**
	 * Finds the axes on at most this many rows (one drawn from each of that many equal strata), then projects every row (default: all
	 * rows). A few thousand rows pin the leading axes down as well as ten thousand, at a fraction of the cost.
	 */
	sampleRows?: number;
}

export interface PcaResult {
	/** n × components projections of the centred rows. */
	coords: Float32Array;
	components: number;
	/** components × dim unit vectors, largest variance first; sign: largest |entry| positive. */
	axes: Float64Array;
	/** Variance along each axis (eigenvalues of the sample covariance, divisor n − 1). */
	variance: number[];
	/** Sum of the variances of all dimensions. */
	totalVariance: number;
	mean: Float64Array;
	iterations: number;
}

/** Orthonormalises the rows of `v` (m × dim) in place; a row that collapses is replaced by a random one. */
function orthonormalize(v: Float64Array, m: number, dim: number, rand: () => number): void {
	for (let j = 0; j < m; j++) {
		for (let attempt = 0; attempt < 3; attempt++) {
			for (let p = 0; p < j; p++) {
				let s = 0;
				for (let d = 0; d < dim; d++) s += (v[j * dim + d] as number) * (v[p * dim + d] as number);
				for (let d = 0; d < dim; d++) v[j * dim + d] = (v[j * dim + d] as number) - s * (v[p * dim + d] as number);
			}
			let norm = 0;
			for (let d = 0; d < dim; d++) norm += (v[j * dim + d] as number) ** 2;
			norm = Math.sqrt(norm);
			if (norm > 1e-10) {
				for (let d = 0; d < dim; d++) v[j * dim + d] = (v[j * dim + d] as number) / norm;
				break;
			}
			for (let d = 0; d < dim; d++) v[j * dim + d] = rand() - 0.5;
		}
	}
}

/** Eigen-decomposition of a symmetric m×m matrix (cyclic Jacobi). Returns values and row eigenvectors. */
export function symmetricEigen(a: Float64Array, m: number): { values: number[]; vectors: Float64Array } {
	const A = Float64Array.from(a);
	const V = new Float64Array(m * m);
	for (let i = 0; i < m; i++) V[i * m + i] = 1;
	for (let sweep = 0; sweep < 100; sweep++) {
		let off = 0;
		for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += (A[p * m + q] as number) ** 2;
		if (off < 1e-30) break;
		for (let p = 0; p < m; p++) {
			for (let q = p + 1; q < m; q++) {
				const apq = A[p * m + q] as number;
				if (Math.abs(apq) < 1e-300) continue;
				const theta = ((A[q * m + q] as number) - (A[p * m + p] as number)) / (2 * apq);
				const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
				const c = 1 / Math.sqrt(t * t + 1);
				const s = t * c;
				for (let k = 0; k < m; k++) {
					const akp = A[k * m + p] as number;
					const akq = A[k * m + q] as number;
					A[k * m + p] = c * akp - s * akq;
					A[k * m + q] = s * akp + c * akq;
				}
				for (let k = 0; k < m; k++) {
					const apk = A[p * m + k] as number;
					const aqk = A[q * m + k] as number;
					A[p * m + k] = c * apk - s * aqk;
					A[q * m + k] = s * apk + c * aqk;
				}
				for (let k = 0; k < m; k++) {
					const vkp = V[k * m + p] as number;
					const vkq = V[k * m + q] as number;
					V[k * m + p] = c * vkp - s * vkq;
					V[k * m + q] = s * vkp + c * vkq;
				}
			}
		}
	}
	const order = [...Array(m).keys()].sort((i, j) => (A[j * m + j] as number) - (A[i * m + i] as number));
	const vectors = new Float64Array(m * m);
	order.forEach((col, r) => {
		for (let k = 0; k < m; k++) vectors[r * m + k] = V[k * m + col] as number;
	});
	return { values: order.map((i) => A[i * m + i] as number), vectors };
}

/** Fills `mean` with the column means; returns the total sum of squared deviations. */
function meanAndVariance(x: Float32Array, n: number, dim: number, mean: Float64Array): number {
	for (let i = 0; i < n; i++) {
		const o = i * dim;
		for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (x[o + d] as number);
	}
	for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) / Math.max(n, 1);
	let ss = 0;
	for (let i = 0; i < n; i++) {
		const o = i * dim;
		for (let d = 0; d < dim; d++) {
			const v = (x[o + d] as number) - (mean[d] as number);
			ss += v * v;
		}
	}
	return ss;
}

/** W[i][j] = xᵢ · vⱼ − μ · vⱼ for rows [start, end). */
function projectRows(W: Float64Array, x: Float32Array, V: Float32Array, muV: Float64Array, start: number, end: number, m: number, dim: number): void {
	for (let i = start; i < end; i++) for (let j = 0; j < m; j++) W[i * m + j] = dotRows(x, i, V, j, dim) - (muV[j] as number);
}

/** Z[r] += Σᵢ wᵢᵣ xᵢ and wSum[r] += Σᵢ wᵢᵣ for rows [start, end): a small hot loop V8 optimises well. */
function accumulate(Z: Float64Array, wSum: Float64Array, x: Float32Array, W: Float64Array, start: number, end: number, m: number, dim: number): void {
	for (let i = start; i < end; i++) {
		const xo = i * dim;
		for (let r = 0; r < m; r++) {
			const w = W[i * m + r] as number;
			if (w === 0) continue;
			wSum[r] = (wSum[r] as number) + w;
			const o = r * dim;
			let d = 0;
			for (; d + 3 < dim; d += 4) {
				Z[o + d] = (Z[o + d] as number) + w * (x[xo + d] as number);
				Z[o + d + 1] = (Z[o + d + 1] as number) + w * (x[xo + d + 1] as number);
				Z[o + d + 2] = (Z[o + d + 2] as number) + w * (x[xo + d + 2] as number);
				Z[o + d + 3] = (Z[o + d + 3] as number) + w * (x[xo + d + 3] as number);
			}
			for (; d < dim; d++) Z[o + d] = (Z[o + d] as number) + w * (x[xo + d] as number);
		}
	}
}

/** Projects the centred rows on the first `components` principal axes. */
export async function pca(vectors: Float32Array, dim: number, components: number, options: PcaOptions = {}): Promise<PcaResult> {
	const yielder = options.yielder ?? noYield;
	const n = dim === 0 ? 0 : vectors.length / dim;
	const sample = options.sampleRows ?? Infinity;
	if (n > sample && sample >= 2) {
		// One row at a random place in each of `rows` equal strata: even coverage, and no aliasing with
		// periodic structure in the file order (a fixed stride can hit the same few series every time).
		const rows = Math.floor(sample);
		const picked = new Float32Array(rows * dim);
		const pick = seededRandom((options.seed ?? 1) + 7919);
		for (let r = 0; r < rows; r++) {
			const lo = Math.floor((r * n) / rows);
			const hi = Math.floor(((r + 1) * n) / rows);
			const i = Math.min(hi - 1, lo + Math.floor(pick() * (hi - lo)));
			picked.set(vectors.subarray(i * dim, (i + 1) * dim), r * dim);
		}
		const fit = await pca(picked, dim, components, { ...options, sampleRows: Infinity });
		// Project every row on the sample's axes (centred on the sample's mean).
		const c = fit.components;
		const axes32 = Float32Array.from(fit.axes);
		const muA = new Float64Array(c);
		for (let j = 0; j < c; j++) {
			let s = 0;
			for (let d = 0; d < dim; d++) s += (fit.mean[d] as number) * (fit.axes[j * dim + d] as number);
			muA[j] = s;
		}
		const W = new Float64Array(n * c);
		for (let i0 = 0; i0 < n; i0 += 256) {
			projectRows(W, vectors, axes32, muA, i0, Math.min(n, i0 + 256), c, dim);
			await yielder();
		}
		return { ...fit, coords: Float32Array.from(W) };
	}
	const c = Math.max(0, Math.min(components, dim));
	const m = Math.min(dim, c + (options.oversample ?? 4), Math.max(n, 1));
	const tolerance = options.tolerance ?? 1e-4;
	const maxIterations = options.maxIterations ?? 20;
	const rand = seededRandom(options.seed ?? 1);

	const mean = new Float64Array(dim);
	const denom = Math.max(n - 1, 1);
	const totalVariance = meanAndVariance(vectors, n, dim, mean) / denom;

	const coords = new Float32Array(n * c);
	if (n < 2 || c === 0) return { coords, components: c, axes: new Float64Array(c * dim), variance: new Array<number>(c).fill(0), totalVariance, mean, iterations: 0 };

	// V: m × dim basis (float32 copy for the fast dot with the data rows).
	const V = new Float64Array(m * dim);
	for (let i = 0; i < V.length; i++) V[i] = rand() - 0.5;
	orthonormalize(V, m, dim, rand);
	const V32 = new Float32Array(m * dim);
	const W = new Float64Array(n * m);
	const muV = new Float64Array(m);
	let values: number[] = new Array<number>(m).fill(0);
	let iterations = 0;

	/** W = (X − μ)·Vᵀ */
	const project = async (): Promise<void> => {
		V32.set(V);
		for (let j = 0; j < m; j++) {
			let s = 0;
			for (let d = 0; d < dim; d++) s += (mean[d] as number) * (V[j * dim + d] as number);
			muV[j] = s;
		}
		for (let i0 = 0; i0 < n; i0 += 256) {
			projectRows(W, vectors, V32, muV, i0, Math.min(n, i0 + 256), m, dim);
			await yielder();
		}
	};

	for (let it = 0; it < maxIterations; it++) {
		iterations = it + 1;
		await project();
		// Rayleigh–Ritz: H = WᵀW / (n − 1) = V C Vᵀ; rotate V into its eigenvectors.
		const H = new Float64Array(m * m);
		for (let i = 0; i < n; i++) {
			for (let p = 0; p < m; p++) {
				const wp = W[i * m + p] as number;
				for (let q = p; q < m; q++) H[p * m + q] = (H[p * m + q] as number) + wp * (W[i * m + q] as number);
			}
		}
		for (let p = 0; p < m; p++) {
			for (let q = p; q < m; q++) {
				H[p * m + q] = (H[p * m + q] as number) / denom;
				H[q * m + p] = H[p * m + q] as number;
			}
		}
		const eig = symmetricEigen(H, m);
		const converged = it > 0 && eig.values.slice(0, c).every((v, j) => Math.abs(v - (values[j] as number)) <= tolerance * Math.max(Math.abs(v), 1e-30));
		values = eig.values;
		// Z = (X − μ)ᵀ · W · R  (R = Ritz rotation): one more pass over the data; then the next basis.
		const WR = new Float64Array(n * m);
		for (let i = 0; i < n; i++) {
			for (let r = 0; r < m; r++) {
				let s = 0;
				for (let q = 0; q < m; q++) s += (W[i * m + q] as number) * (eig.vectors[r * m + q] as number);
				WR[i * m + r] = s;
			}
		}
		if (converged || it === maxIterations - 1) {
			// Final basis: V rotated by R (its rows are then the Ritz vectors), projections = WR.
			const rotated = new Float64Array(m * dim);
			for (let r = 0; r < m; r++) {
				for (let q = 0; q < m; q++) {
					const w = eig.vectors[r * m + q] as number;
					if (w === 0) continue;
					for (let d = 0; d < dim; d++) rotated[r * dim + d] = (rotated[r * dim + d] as number) + w * (V[q * dim + d] as number);
				}
			}
			V.set(rotated);
			W.set(WR);
			break;
		}
		// Σᵢ (xᵢ − μ) wᵢᵣ = Σᵢ xᵢ wᵢᵣ − μ Σᵢ wᵢᵣ: the mean leaves the inner loop.
		const Z = new Float64Array(m * dim);
		const wSum = new Float64Array(m);
		for (let i0 = 0; i0 < n; i0 += 128) {
			accumulate(Z, wSum, vectors, WR, i0, Math.min(n, i0 + 128), m, dim);
			await yielder();
		}
		for (let r = 0; r < m; r++) {
			const ws = wSum[r] as number;
			for (let d = 0; d < dim; d++) Z[r * dim + d] = (Z[r * dim + d] as number) - ws * (mean[d] as number);
		}
		orthonormalize(Z, m, dim, rand);
		V.set(Z);
	}

	const axes = new Float64Array(c * dim);
	for (let j = 0; j < c; j++) {
		let big = 0;
		for (let d = 0; d < dim; d++) if (Math.abs(V[j * dim + d] as number) > Math.abs(V[j * dim + big] as number)) big = d;
		const sign = (V[j * dim + big] as number) < 0 ? -1 : 1;
		for (let d = 0; d < dim; d++) axes[j * dim + d] = sign * (V[j * dim + d] as number);
		for (let i = 0; i < n; i++) coords[i * c + j] = sign * (W[i * m + j] as number);
	}
	return { coords, components: c, axes, variance: values.slice(0, c).map((v) => Math.max(0, v)), totalVariance, mean, iterations };
}
