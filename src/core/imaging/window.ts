/**
 * Percentile windowing, bit-exact with the reference (numpy 1.24):
 *   lo, hi = numpy.percentile(a.astype(float32), [10, 90])   # "linear"; neighbours subtracted in float32, lerp in float64
 *   a = numpy.clip(a, lo, hi)                                  # float32 (lo, hi rounded to float32)
 *   a = (a - lo) * 255 / (hi - lo)                             # float32 ops; hi - lo is a float64 scalar
 *   a.astype(uint8)                                            # truncation; NaN (hi == lo) → 0
 * The percentiles are found by counting (integer-valued data of modest range) or by selection,
 * never by a full sort.
 */
import type { Scratch } from "../util/scratch";

const fround = Math.fround;

/** Largest value range (max - min) for which integer-valued data is counted instead of selected. */
const COUNTING_RANGE = 1 << 20;

/** Hoare-style quickselect: after the call, a[k] holds the k-th smallest of a[left..right]. */
function select(a: Float32Array, k: number, left: number, right: number): void {
	let rounds = 0;
	while (right > left) {
		if (++rounds > 64) {
			// Pathological input for median-of-three: finish with a sort of what is left.
			a.subarray(left, right + 1).sort();
			return;
		}
		// Median of three as the pivot.
		const mid = (left + right) >>> 1;
		let x = a[left] ?? 0;
		let y = a[mid] ?? 0;
		let z = a[right] ?? 0;
		if (x > y) [x, y] = [y, x];
		if (y > z) [y, z] = [z, y];
		if (x > y) [x, y] = [y, x];
		const pivot = y;
		let i = left;
		let j = right;
		while (i <= j) {
			while ((a[i] ?? 0) < pivot) i++;
			while ((a[j] ?? 0) > pivot) j--;
			if (i <= j) {
				const t = a[i] ?? 0;
				a[i] = a[j] ?? 0;
				a[j] = t;
				i++;
				j--;
			}
		}
		if (k <= j) right = j;
		else if (k >= i) left = i;
		else return;
	}
}

function minOf(a: Float32Array, from: number): number {
	let m = Infinity;
	for (let i = from; i < a.length; i++) {
		const v = a[i] ?? 0;
		if (v < m) m = v;
	}
	return m;
}

/**
 * numpy 1.24's _lerp for float32 data and float64 gamma: `diff = subtract(b, a)` is computed in
 * float32 (both operands are float32 arrays), the rest in float64: a + diff·t, or b - diff·(1-t)
 * when t ≥ 0.5.
 */
function lerp(a: number, b: number, t: number): number {
	const diff = fround(b - a);
	return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

interface Range {
	min: number;
	max: number;
	/** True when every value is an integer and max - min is small enough to count. */
	countable: boolean;
}

function scanRange(values: Float32Array): Range {
	let min = Infinity;
	let max = -Infinity;
	let integral = true;
	for (let i = 0; i < values.length; i++) {
		const v = values[i] ?? 0;
		if (v < min) min = v;
		if (v > max) max = v;
		if (integral && v !== Math.floor(v)) integral = false;
	}
	return { min, max, countable: integral && max - min < COUNTING_RANGE };
}

/** Order statistics needed for the given percentiles: index → value. */
function orderStatistics(values: Float32Array, indices: number[], range: Range = scanRange(values)): Map<number, number> {
	const n = values.length;
	const result = new Map<number, number>();
	const { min, max } = range;
	if (range.countable) {
		const counts = new Uint32Array(max - min + 1);
		for (let i = 0; i < n; i++) {
			const bin = (values[i] ?? 0) - min;
			counts[bin] = (counts[bin] ?? 0) + 1;
		}
		const wanted = [...new Set(indices)].sort((x, y) => x - y);
		let seen = 0;
		let w = 0;
		for (let bin = 0; bin < counts.length && w < wanted.length; bin++) {
			seen += counts[bin] ?? 0;
			while (w < wanted.length && (wanted[w] ?? 0) < seen) {
				result.set(wanted[w] ?? 0, bin + min);
				w++;
			}
		}
		return result;
	}
	const a = values.slice();
	const wanted = [...new Set(indices)].sort((x, y) => x - y);
	let left = 0;
	for (const k of wanted) {
		if (k === left && k > 0 && result.has(k - 1)) {
			// The element right after a selected one is the minimum of the rest.
			const m = minOf(a, left);
			result.set(k, m);
			continue;
		}
		select(a, k, left, n - 1);
		result.set(k, a[k] ?? 0);
		left = k + 1;
	}
	return result;
}

/**
 * numpy.percentile(values, qs) with the default "linear" method, for float32 input (NaN-free:
 * the decoder replaces non-finite values).
 * Returns float64 results as numpy 1.24 does.
 */
export function percentiles(values: Float32Array, qs: readonly number[], range?: Range): number[] {
	const n = values.length;
	if (n === 0) return qs.map(() => Number.NaN);
	const plan = qs.map((q) => {
		const vi = (n - 1) * (q / 100);
		const prev = Math.min(Math.max(Math.floor(vi), 0), n - 1);
		const next = Math.min(prev + 1, n - 1);
		return { prev, next, gamma: vi - prev };
	});
	const stats = orderStatistics(
		values,
		plan.flatMap((p) => [p.prev, p.next]),
		range,
	);
	return plan.map((p) => lerp(stats.get(p.prev) ?? 0, stats.get(p.next) ?? 0, p.gamma));
}

/** Histogram bins of the one-pass counter: integer values in [-HIST_OFFSET, HIST_MASK + 1 - HIST_OFFSET). */
const HIST_OFFSET = 65536;
const HIST_MASK = (1 << 18) - 1;

/** Per-thread histograms, all zeros between calls (the used bins are cleared after use). */
let histA: Uint32Array | undefined;
let histB: Uint32Array | undefined;

/** From this many values on, the counting loop uses two histograms and no min/max tracking. */
const DUAL_FROM = 1 << 19;

/**
 * One pass over integer-valued data within the histogram's range: counts every value (the sum of
 * histograms `a` and `b` is the histogram) and finds min and max. Returns undefined (histograms
 * left clear) when a value is not an integer or out of range. The loops have no early exit and a
 * masked index (always in bounds), which V8 runs faster. Large inputs alternate between two
 * histograms, so runs of equal neighbours do not wait on the previous increment, and take min and
 * max from the histograms afterwards.
 */
function countIntegers(values: Float32Array): { a: Uint32Array; b: Uint32Array; min: number; max: number } | undefined {
	const a = (histA ??= new Uint32Array(HIST_MASK + 1));
	const b = (histB ??= new Uint32Array(HIST_MASK + 1));
	const n = values.length;
	let bad = false;
	let min = HIST_MASK;
	let max = 0;
	if (n < DUAL_FROM) {
		for (let i = 0; i < n; i++) {
			const k = (values[i] as number) + HIST_OFFSET;
			const v = k | 0;
			if (v !== k || (v & ~HIST_MASK) !== 0) bad = true;
			const bin = v & HIST_MASK;
			a[bin] = (a[bin] as number) + 1;
			if (bin < min) min = bin;
			if (bin > max) max = bin;
		}
	} else {
		let i = 0;
		for (; i + 1 < n; i += 2) {
			const k = (values[i] as number) + HIST_OFFSET;
			const k2 = (values[i + 1] as number) + HIST_OFFSET;
			const v = k | 0;
			const v2 = k2 | 0;
			if (v !== k || v2 !== k2 || ((v | v2) & ~HIST_MASK) !== 0) bad = true;
			const bin = v & HIST_MASK;
			const bin2 = v2 & HIST_MASK;
			a[bin] = (a[bin] as number) + 1;
			b[bin2] = (b[bin2] as number) + 1;
		}
		if (i < n) {
			const k = (values[i] as number) + HIST_OFFSET;
			const v = k | 0;
			if (v !== k || (v & ~HIST_MASK) !== 0) bad = true;
			const bin = v & HIST_MASK;
			a[bin] = (a[bin] as number) + 1;
		}
		min = 0;
		while (min < HIST_MASK && a[min] === 0 && b[min] === 0) min++;
		max = HIST_MASK;
		while (max > min && a[max] === 0 && b[max] === 0) max--;
	}
	if (bad) {
		a.fill(0, min, max + 1);
		b.fill(0, min, max + 1);
		return undefined;
	}
	return { a, b, min, max };
}

/** Value at each wanted order statistic (sorted ascending, unique) from the sum of two histograms. */
function fromHistogram(a: Uint32Array, b: Uint32Array, min: number, max: number, wanted: number[]): number[] {
	const result: number[] = [];
	let seen = 0;
	let w = 0;
	for (let bin = min; bin <= max && w < wanted.length; bin++) {
		seen += (a[bin] as number) + (b[bin] as number);
		while (w < wanted.length && (wanted[w] as number) < seen) {
			result.push(bin);
			w++;
		}
	}
	return result;
}

/** Float32 scaling of one value: clip, (v - lo)·255 / den in float32, truncate to uint8. */
function scaleValue(x: number, lo32: number, hi32: number, den: number): number {
	const v = x < lo32 ? lo32 : x > hi32 ? hi32 : x;
	const scaled = fround(fround(fround(v - lo32) * 255) / den);
	return scaled >= 255 ? 255 : scaled > 0 ? Math.trunc(scaled) : 0;
}

/**
 * Fast path for integer data within ±64 Ki: one counting pass, percentiles from the histogram,
 * then one table lookup per value. Returns false (nothing written) when the data do not qualify.
 */
function windowIntegers(values: Float32Array, out: Uint8Array): WindowKind | undefined {
	const h = countIntegers(values);
	if (!h) return undefined;
	const { a, b, min, max } = h;
	const n = values.length;
	const qs = [10, 90].map((q) => {
		const vi = (n - 1) * (q / 100);
		const prev = Math.min(Math.max(Math.floor(vi), 0), n - 1);
		return { prev, next: Math.min(prev + 1, n - 1), gamma: vi - prev };
	});
	const wanted = [...new Set(qs.flatMap((q) => [q.prev, q.next]))].sort((x, y) => x - y);
	const stats = fromHistogram(a, b, min, max, wanted);
	a.fill(0, min, max + 1);
	b.fill(0, min, max + 1);
	const at = (k: number): number => (stats[wanted.indexOf(k)] as number) - HIST_OFFSET;
	let fallback = false;
	const [lo = 0, hi = 0] = qs.map((q) => lerp(at(q.prev), at(q.next), q.gamma));
	let lo32 = fround(lo);
	let hi32 = fround(hi);
	let den = fround(hi - lo);
	if (!(den > 0)) {
		if (max === min) return "constant";
		// The percentiles collapsed on a non-constant image: window over min–max instead of black.
		lo32 = min - HIST_OFFSET;
		hi32 = max - HIST_OFFSET;
		den = fround(hi32 - lo32);
		fallback = true;
	}
	if (max - min >= n) {
		// Few values over a wide range: a table would cost more than it saves.
		for (let i = 0; i < n; i++) out[i] = scaleValue(values[i] as number, lo32, hi32, den);
		return fallback ? "min-max" : "percentile";
	}
	// One table entry per value between min and max; values are exact integers in range.
	const lut = new Uint8Array(max - min + 1);
	for (let k = 0; k < lut.length; k++) lut[k] = scaleValue(k + min - HIST_OFFSET, lo32, hi32, den);
	const shift = HIST_OFFSET - min;
	for (let i = 0; i < n; i++) out[i] = lut[((values[i] as number) + shift) | 0] as number;
	return fallback ? "min-max" : "percentile";
}

/**
 * How an image was windowed: between its 10th and 90th percentiles (the reference's window);
 * between its minimum and maximum because those percentiles coincide on an image that is not
 * constant (the reference's formula divides 0 by 0 there and gives black); or not at all, because
 * every value is the same (all zeros, as the reference gives).
 */
export type WindowKind = "percentile" | "min-max" | "constant";

/** The windowed picture and the window used. */
export interface WindowedImage {
	data: Uint8Array;
	window: WindowKind;
}

/**
 * Windows float32 values to uint8 between their 10th and 90th percentiles, bit-exact with the
 * reference. When the two percentiles coincide but the image is not constant, windows between its
 * minimum and maximum with the same float32 formula (clip, (v - min)·255 / (max - min), truncate)
 * and says so; a constant image gives all zeros.
 */
export function windowImage(values: Float32Array, scratch?: Scratch): WindowedImage {
	const out = scratch?.uint8("window", values.length) ?? new Uint8Array(values.length);
	if (values.length === 0) return { data: out, window: "constant" };
	const fast = windowIntegers(values, out);
	if (fast) return { data: out, window: fast };
	const range = scanRange(values);
	const [lo = 0, hi = 0] = percentiles(values, [10, 90], range);
	let lo32 = fround(lo);
	let hi32 = fround(hi);
	let den = fround(hi - lo);
	let window: WindowKind = "percentile";
	if (!(den > 0)) {
		if (!(range.max > range.min)) return { data: out, window: "constant" };
		lo32 = range.min;
		hi32 = range.max;
		den = fround(hi32 - lo32);
		window = "min-max";
	}
	if (range.countable && range.max - range.min < values.length) {
		// Integer data of modest range: one table entry per possible value.
		const lut = new Uint8Array(range.max - range.min + 1);
		for (let k = 0; k < lut.length; k++) lut[k] = scaleValue(k + range.min, lo32, hi32, den);
		const min = range.min;
		for (let i = 0; i < values.length; i++) out[i] = lut[(values[i] ?? 0) - min] ?? 0;
		return { data: out, window };
	}
	for (let i = 0; i < values.length; i++) out[i] = scaleValue(values[i] ?? 0, lo32, hi32, den);
	return { data: out, window };
}

/** The picture of windowImage (see there): percentile window, min–max when it collapses, zeros when constant. */
export function windowToUint8(values: Float32Array): Uint8Array {
	return windowImage(values).data;
}
