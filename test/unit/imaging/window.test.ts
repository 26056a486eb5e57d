// Percentile windowing, checked against numpy's formulas worked out by hand.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { boxDownscale } from "../../../src/core/imaging/thumbnail";
import { percentiles, windowImage, windowToUint8 } from "../../../src/core/imaging/window";

void test("percentiles match numpy.percentile(a, [10, 90]) (linear) on small arrays", () => {
	// [1,2,3,4]: index 3·0.1 = 0.3 → 1 + 0.3 = 1.3; index 2.7 → 4 - 1·(1 - 0.7) = 3.7.
	assert.deepEqual(percentiles(Float32Array.from([1, 2, 3, 4]), [10, 90]), [1.3, 3.7]);
	// [5,1,4,2,3] sorts to 1..5: index 0.4 → 1.4; index 3.6 → 5 - 0.4 = 4.6.
	assert.deepEqual(percentiles(Float32Array.from([5, 1, 4, 2, 3]), [10, 90]), [1.4, 4.6]);
	// Sorted 0.125 0.25 0.5 1 3 7 10: index 0.6 → 0.25 - 0.125·0.4 = 0.2; index 5.4 → 7 + 3·0.4 = 8.2
	// (numpy prints 8.200000000000001: 6·0.9 = 5.4000000000000004 in float64).
	assert.deepEqual(percentiles(Float32Array.from([0.5, 0.25, 0.125, 10, 3, 7, 1]), [10, 90]), [0.2, 8.200000000000001]);
	// numpy subtracts the two neighbours in float32 (both are float32 array elements) and
	// interpolates in float64; these results are numpy's own output for
	// np.percentile(np.float32([0.1, 1000.3]), [10, 90]) and for the six-value array below
	// (a float64 subtraction would give 100.11999878063799 and 900.2799890138209 instead).
	assert.deepEqual(percentiles(Float32Array.from([0.1, 1000.3]), [10, 90]), [100.12000122219325, 900.2799865722657]);
	assert.deepEqual(percentiles(Float32Array.from([0.1, 1000.3, 3.7, -250.25, 77.7, 12.1]), [10, 90]), [-125.0750030502677, 539.0]);
	// One value: both percentiles are it.
	assert.deepEqual(percentiles(Float32Array.from([42]), [10, 90]), [42, 42]);
});

void test("windowing clips to the percentiles, scales in float32 and truncates", () => {
	// lo 1.3, hi 3.7: 2 → 0.7·255/2.4 = 74.375 → 74; 3 → 180.625 → 180; 1 clips to 0.
	// 4 clips to hi and gives 254, not 255: numpy 1.24 keeps float32 (value-based casting), so
	// hi - lo = float32(2.4000000000000004) = 2.4000000954, (3.7000000477 - 1.2999999523) · 255 =
	// 612.0000243 rounds to float32 612.0, and 612 / 2.4000000954 = 254.99999 truncates to 254
	// (numpy 2 computes this in float64 and would say 255; the reference .npy files are numpy 1.24).
	assert.deepEqual([...windowToUint8(Float32Array.from([1, 2, 3, 4]))], [0, 74, 180, 254]);
	// lo 0.2, hi 8.2, hi - lo = 8: 0.5 → 0.3·255/8 = 9.56 → 9; 0.25 → 1.59 → 1; 3 → 89.25 → 89;
	// 7 → 216.75 → 216; 1 → 25.5 → 25; 0.125 → 0 (clipped); 10 → 255 (clipped).
	assert.deepEqual([...windowToUint8(Float32Array.from([0.5, 0.25, 0.125, 10, 3, 7, 1]))], [9, 1, 0, 255, 89, 216, 25]);
});

void test("a constant image gives all zeros", () => {
	assert.deepEqual([...windowToUint8(new Float32Array(50).fill(-1024))], new Array(50).fill(0));
	assert.equal(windowImage(new Float32Array(50).fill(-1024)).window, "constant");
	assert.equal(windowImage(new Float32Array(30).fill(0.3)).window, "constant", "float path too");
	assert.deepEqual([...windowToUint8(new Float32Array(0))], []);
});

void test("when the 10th and 90th percentiles coincide on a non-constant image, the window is its min–max range", () => {
	// 20 sevens and one 8: n = 21, both percentile indices (2 and 18) hold 7 (the reference gives all
	// zeros). Over min–max: 7 → 0, 8 → (8 - 7)·255 / 1 = 255.
	const a = new Float32Array(21).fill(7);
	a[10] = 8;
	const w = windowImage(a);
	assert.equal(w.window, "min-max");
	assert.deepEqual([...w.data], Array.from({ length: 21 }, (_, i) => (i === 10 ? 255 : 0)));
	// Integers beyond the histogram (float path): -100000 ×19, then -99000 and 100000 → 0; (1000·255/200000) = 1.275 → 1; 255.
	const b = new Float32Array(21).fill(-100000);
	b[5] = -99000;
	b[15] = 100000;
	const wb = windowImage(b);
	assert.equal(wb.window, "min-max");
	assert.deepEqual([...wb.data], Array.from({ length: 21 }, (_, i) => (i === 5 ? 1 : i === 15 ? 255 : 0)));
	// Non-integer values: 0.5 ×20, 0.75, 1.5 → 0, (0.25·255/1) = 63.75 → 63, 255.
	const c = new Float32Array(22).fill(0.5);
	c[3] = 0.75;
	c[4] = 1.5;
	const wc = windowImage(c);
	assert.equal(wc.window, "min-max");
	assert.deepEqual([...wc.data], Array.from({ length: 22 }, (_, i) => (i === 3 ? 63 : i === 4 ? 255 : 0)));
	assert.equal(windowImage(Float32Array.from([1, 2, 3, 4])).window, "percentile");
});

/** numpy's linear percentile from a fully sorted copy (the definition, not our selection; neighbours subtracted in float32 as numpy does). */
function bySorting(values: Float32Array, q: number): number {
	const s = Float64Array.from(values).sort();
	const vi = (s.length - 1) * (q / 100);
	const prev = Math.floor(vi);
	const next = Math.min(prev + 1, s.length - 1);
	const g = vi - prev;
	const a = s[prev] ?? 0;
	const b = s[next] ?? 0;
	const d = Math.fround(b - a);
	return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

void test("selection and counting give the same percentiles as a full sort on large arrays", () => {
	let seed = 7;
	const rnd = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
	const cases: [string, Float32Array][] = [
		["16-bit integers (counted)", Float32Array.from({ length: 100_003 }, () => Math.floor(rnd() * 4096) - 1024)],
		["floats (selected)", Float32Array.from({ length: 99_991 }, () => rnd() * 1000 - 300)],
		["wide-range integers (selected)", Float32Array.from({ length: 50_001 }, () => Math.floor(rnd() * 1e7))],
		["many duplicates", Float32Array.from({ length: 77_777 }, () => Math.floor(rnd() * 3))],
	];
	for (const [name, values] of cases) {
		assert.deepEqual(percentiles(values, [10, 90]), [bySorting(values, 10), bySorting(values, 90)], name);
	}
});

void test("box downscale averages whole blocks and keeps the aspect ratio", () => {
	// 4×2 gray → longest side 2 → 2×1: left 2×2 block of 0s and 100s averages to 50, right to 200.
	const out = boxDownscale(Uint8Array.from([0, 100, 200, 200, 100, 0, 200, 200]), 4, 2, 1, 2);
	assert.deepEqual([out.width, out.height, ...out.data], [2, 1, 50, 200]);
	// RGB 2×2 → 1×1: per-channel means.
	const rgb = boxDownscale(Uint8Array.from([0, 10, 20, 100, 110, 120, 0, 10, 20, 100, 110, 120]), 2, 2, 3, 1);
	assert.deepEqual([rgb.width, rgb.height, ...rgb.data], [1, 1, 50, 60, 70]);
	// Already small enough: unchanged.
	assert.equal(boxDownscale(Uint8Array.from([1, 2]), 2, 1, 1, 8).width, 2);
});

void test("selection survives inputs that defeat median-of-three pivots", () => {
	// An organ-pipe sequence (ascending then descending) of non-integers forces the float path.
	const n = 40_001;
	const values = Float32Array.from({ length: n }, (_, i) => (i < n / 2 ? i : n - i) + 0.5);
	assert.deepEqual(percentiles(values, [10, 90]), [bySorting(values, 10), bySorting(values, 90)]);
});

/** The window written out from numpy's formulas: full sort for the percentiles, then float32 scaling per value. */
function windowBySorting(values: Float32Array): Uint8Array {
	const lo = bySorting(values, 10);
	const hi = bySorting(values, 90);
	const lo32 = Math.fround(lo);
	const hi32 = Math.fround(hi);
	const den = Math.fround(hi - lo);
	const out = new Uint8Array(values.length);
	if (!(den > 0)) return out;
	for (let i = 0; i < values.length; i++) {
		const v = Math.min(Math.max(values[i] ?? 0, lo32), hi32);
		const s = Math.fround(Math.fround(Math.fround(v - lo32) * 255) / den);
		out[i] = s >= 255 ? 255 : s > 0 ? Math.trunc(s) : 0;
	}
	return out;
}

void test("windowToUint8 equals the sort-based window on every path (one or two histograms, edges, fallbacks)", () => {
	let seed = 11;
	const rnd = (): number => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
	const big = 1_048_577; // two histograms, odd length (a tail value)
	const smooth = (i: number): number => Math.round(2000 + 1000 * Math.sin(i / 5000) + rnd() * 60);
	const cases: [string, Float32Array][] = [
		["CT-like integers, one histogram", Float32Array.from({ length: 262_147 }, () => Math.floor(rnd() * 3000) - 1024)],
		["smooth integers, two histograms", Float32Array.from({ length: big }, (_, i) => smooth(i))],
		["just below the two-histogram size", Float32Array.from({ length: (1 << 19) - 1 }, (_, i) => smooth(i))],
		["integers at both histogram edges", Float32Array.from({ length: big }, () => (rnd() < 0.5 ? -65536 : 196607))],
		["a non-integer as the very last value (fallback)", Float32Array.from({ length: big }, (_, i) => (i === big - 1 ? 0.5 : smooth(i)))],
		["an integer beyond the histogram (fallback)", Float32Array.from({ length: 300_001 }, (_, i) => (i === 7 ? 196608 : Math.floor(rnd() * 500)))],
		["wide range, few values (no table)", Float32Array.from({ length: 5_001 }, () => Math.floor(rnd() * 200_000) - 60_000)],
	];
	for (const [name, values] of cases) {
		const ours = windowToUint8(values);
		const expected = windowBySorting(values);
		assert.equal(Buffer.compare(Buffer.from(ours), Buffer.from(expected)), 0, name);
	}
	// The per-thread histograms are cleared after use: the same input twice gives the same bytes.
	const again = cases[1]?.[1] ?? new Float32Array(0);
	assert.equal(Buffer.compare(Buffer.from(windowToUint8(again)), Buffer.from(windowBySorting(again))), 0, "second run");
});
