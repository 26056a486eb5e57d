import { test } from "node:test";
import assert from "node:assert/strict";
import { nearestNeighbors, scoreAll, topOf, normalize, dotRows } from "../../../src/core/analysis/similarity";
import { outlierScores } from "../../../src/core/analysis/outliers";
import { pca, symmetricEigen } from "../../../src/core/analysis/pca";
import { zeroShot, softmax } from "../../../src/core/analysis/zeroShot";
import { TopK } from "../../../src/core/analysis/topK";
import { createYielder } from "../../../src/core/analysis/cooperative";

/** Unit vectors at the given angles (degrees) in the plane, padded with zeros to `dim`. */
function angles(deg: number[], dim = 4): Float32Array {
	const v = new Float32Array(deg.length * dim);
	deg.forEach((a, i) => {
		v[i * dim] = Math.cos((a * Math.PI) / 180);
		v[i * dim + 1] = Math.sin((a * Math.PI) / 180);
	});
	return v;
}

void test("dotRows handles a length that is not a multiple of four", () => {
	const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
	// rows of 5: [1..5]·[6..10] = 6+14+24+36+50 = 130
	assert.equal(dotRows(x, 0, x, 1, 5), 130);
});

void test("nearest neighbours rank by cosine and exclude the image itself", () => {
	// 0°, 10°, 30°, 90°, 180°: neighbours of 0° are 10° (cos10), 30° (cos30), 90° (0).
	const v = angles([0, 10, 30, 90, 180]);
	const nn = nearestNeighbors(v, 4, 0, 3);
	assert.deepEqual(nn.map((x) => x.index), [1, 2, 3]);
	assert.ok(Math.abs((nn[0]?.score ?? 0) - Math.cos(Math.PI / 18)) < 1e-6);
	assert.ok(Math.abs((nn[1]?.score ?? 0) - Math.cos(Math.PI / 6)) < 1e-6);
	assert.ok(Math.abs(nn[2]?.score ?? 1) < 1e-6);
	assert.throws(() => nearestNeighbors(v, 4, 5, 3), /No image 5/);
});

void test("k larger than the collection returns every other image once", () => {
	const v = angles([0, 45, 90]);
	assert.deepEqual(nearestNeighbors(v, 4, 1, 10).map((x) => x.index).sort(), [0, 2]);
});

void test("scoreAll ranks a free-text query by cosine similarity", () => {
	const v = angles([0, 60, 100, 170]);
	const q = normalize(Float32Array.from([0, 2, 0, 0])); // 90°
	const s = scoreAll(v, 4, q);
	// cosine to 90° = sin of each angle: 0, .866, .985, .174
	assert.deepEqual(topOf(s, 4).map((x) => x.index), [2, 1, 3, 0]);
	assert.ok(Math.abs((s[1] as number) - Math.sqrt(3) / 2) < 1e-6);
	assert.deepEqual(topOf(s, 2, 2).map((x) => x.index), [1, 3]);
	assert.throws(() => scoreAll(v, 4, new Float32Array(3)), /3 values/);
});

void test("TopK keeps the k largest and rejects below the threshold", () => {
	const t = new TopK(2);
	for (const [i, s] of [[0, 0.1], [1, 0.9], [2, 0.5], [3, 0.2], [4, 0.95]] as const) t.push(i, s);
	assert.deepEqual(t.sorted().map((x) => x.index), [4, 1]);
	assert.ok(Math.abs(t.threshold - 0.9) < 1e-6);
});

void test("outlier score is 1 − mean similarity of the k nearest (hand-computed)", async () => {
	// 0°, 10°, 20° and a lone 120°. k = 1: 0°→cos10, 10°→cos10, 20°→cos10, 120°→cos100 (to 20°).
	const v = angles([0, 10, 20, 120]);
	const r1 = await outlierScores(v, 4, { k: 1 });
	assert.equal(r1.exact, true);
	const c10 = Math.cos(Math.PI / 18);
	const expected1 = [1 - c10, 1 - c10, 1 - c10, 1 - Math.cos((100 * Math.PI) / 180)];
	r1.scores.forEach((s, i) => assert.ok(Math.abs(s - (expected1[i] as number)) < 1e-6, `row ${i}: ${s}`));
	// k = 2 for 0°: mean(cos10, cos20)
	const r2 = await outlierScores(v, 4, { k: 2 });
	assert.ok(Math.abs((r2.scores[0] as number) - (1 - (c10 + Math.cos(Math.PI / 9)) / 2)) < 1e-6);
	// the lone vector is the top outlier
	assert.equal(topOf(r2.scores, 1)[0]?.index, 3);
});

void test("the approximate outlier path agrees with the exact one on clustered data", async () => {
	const dim = 64;
	const n = 600;
	let seed = 7;
	const rand = (): number => {
		seed = (seed * 1103515245 + 12345) % 2147483648;
		return seed / 2147483648 - 0.5;
	};
	const centres = Array.from({ length: 6 }, () => Array.from({ length: dim }, rand));
	const v = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) {
		const c = centres[i % 6] as number[];
		const row = v.subarray(i * dim, (i + 1) * dim);
		for (let d = 0; d < dim; d++) row[d] = (c[d] as number) + 0.15 * rand();
		normalize(row);
	}
	const exact = await outlierScores(v, dim, { k: 3 });
	const approx = await outlierScores(v, dim, { k: 3, exactLimit: 100, reducedDim: 16 });
	assert.equal(exact.exact, true);
	assert.equal(approx.exact, false);
	let worst = 0;
	for (let i = 0; i < n; i++) worst = Math.max(worst, (approx.scores[i] as number) - (exact.scores[i] as number));
	// candidates may miss a true neighbour (score can only rise), but not by much on clustered data
	assert.ok(worst < 0.02, `worst difference ${worst}`);
	for (let i = 0; i < n; i++) assert.ok((approx.scores[i] as number) >= (exact.scores[i] as number) - 1e-6);
});

void test("symmetricEigen diagonalises a 2×2 matrix", () => {
	// [[2,1],[1,2]] → eigenvalues 3 and 1, vectors (1,1)/√2 and (1,−1)/√2
	const e = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
	assert.ok(Math.abs((e.values[0] as number) - 3) < 1e-12);
	assert.ok(Math.abs((e.values[1] as number) - 1) < 1e-12);
	assert.ok(Math.abs(Math.abs(e.vectors[0] as number) - Math.SQRT1_2) < 1e-12);
	assert.ok(Math.abs((e.vectors[0] as number) - (e.vectors[1] as number)) < 1e-12);
});

void test("PCA of four points finds the axes and variances by hand", async () => {
	// (±2,0,0), (0,±1,0) + offset (5,5,5): mean (5,5,5); variances (divisor 3): 8/3 along x, 2/3 along y.
	const pts = [[7, 5, 5], [3, 5, 5], [5, 6, 5], [5, 4, 5]];
	const v = Float32Array.from(pts.flat());
	const r = await pca(v, 3, 2);
	assert.ok(Math.abs((r.variance[0] as number) - 8 / 3) < 1e-6, String(r.variance));
	assert.ok(Math.abs((r.variance[1] as number) - 2 / 3) < 1e-6, String(r.variance));
	assert.ok(Math.abs(r.totalVariance - 10 / 3) < 1e-6);
	// axis signs: largest |entry| positive → x axis (1,0,0), y axis (0,1,0)
	assert.ok(Math.abs((r.axes[0] as number) - 1) < 1e-6);
	assert.ok(Math.abs((r.axes[4] as number) - 1) < 1e-6);
	const coords = Array.from(r.coords, (x) => Math.round(x * 1e6) / 1e6 + 0);
	assert.deepEqual(coords, [2, 0, -2, 0, 0, 1, 0, -1]);
});

void test("PCA with a row sample finds the axes on the sample and projects every row", async () => {
	// rows P0 P0 P1 P1 P2 P2 P3 P3; a sample of 4 takes one row of each pair = the four points above
	const pts = [[7, 5, 5], [3, 5, 5], [5, 6, 5], [5, 4, 5]];
	const v = Float32Array.from(pts.flatMap((p) => [...p, ...p]));
	const r = await pca(v, 3, 2, { sampleRows: 4 });
	assert.equal(r.coords.length, 16);
	assert.ok(Math.abs((r.variance[0] as number) - 8 / 3) < 1e-6, String(r.variance));
	const coords = Array.from(r.coords, (x) => Math.round(x * 1e6) / 1e6 + 0);
	assert.deepEqual(coords, [2, 0, 2, 0, -2, 0, -2, 0, 0, 1, 0, 1, 0, -1, 0, -1]);
});

void test("PCA on 1024-D data recovers a planted 2-D structure", async () => {
	const dim = 1024;
	const n = 400;
	const a = new Float32Array(dim);
	const b = new Float32Array(dim);
	a[3] = 1;
	b[700] = 1;
	const v = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) {
		const s = Math.cos(i), t = Math.sin(i * 1.7);
		for (let d = 0; d < dim; d++) v[i * dim + d] = 3 * s * (a[d] as number) + 1 * t * (b[d] as number) + 0.001 * Math.sin(i * 31 + d);
	}
	const r = await pca(v, dim, 2, { yielder: createYielder(undefined, 5) });
	assert.ok(Math.abs(r.axes[3] as number) > 0.999, `axis 0 → dim 3: ${r.axes[3]}`);
	assert.ok(Math.abs(r.axes[dim + 700] as number) > 0.999, `axis 1 → dim 700: ${r.axes[dim + 700]}`);
});

void test("softmax is stable for large logits", () => {
	const p = softmax([1000, 1000 + Math.log(3)]);
	assert.ok(Math.abs((p[0] as number) - 0.25) < 1e-12);
	assert.ok(Math.abs((p[1] as number) - 0.75) < 1e-12);
});

void test("zero-shot picks softmax(exp(s)·img·textᵀ) best label with its probability", () => {
	// image at 0°, labels at 0° and 90°; s = ln 2 → scale 2: logits (2, 0) → p = e²/(e²+1)
	const img = angles([0, 90]);
	const texts = [angles([0]), angles([90])];
	const r = zeroShot(img, 4, texts, Math.log(2));
	assert.deepEqual(Array.from(r.best), [0, 1]);
	const p = Math.exp(2) / (Math.exp(2) + 1);
	assert.ok(Math.abs((r.probability[0] as number) - p) < 1e-6);
	assert.ok(Math.abs((r.probability[1] as number) - p) < 1e-6);
	assert.ok(Math.abs(r.scale - 2) < 1e-12);
	assert.throws(() => zeroShot(img, 4, [], 1), /at least one label/);
	assert.throws(() => zeroShot(img, 4, [new Float32Array(3)], 1), /3 values/);
});

void test("a cancelled yielder stops a long computation", async () => {
	const ac = new AbortController();
	ac.abort(new Error("stop"));
	const v = angles(Array.from({ length: 300 }, (_, i) => i));
	await assert.rejects(outlierScores(v, 4, { yielder: createYielder(ac.signal) }), /stop/);
});
