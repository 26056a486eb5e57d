import type * as dicomParser from "dicom-parser";

/** Clamps and rounds like GDCM's YBR→RGB conversion (see docs/converter.md). */
function clamp8(v: number): number {
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * YBR_FULL → RGB in place on interleaved 8-bit samples, with the ITU-R BT.601 full-range
 * equations GDCM uses (results rounded to nearest, clamped to 0..255).
 */
export function ybrFullToRgb(samples: Int32Array | Float64Array | Float32Array, maxValue: number): void {
	const half = (maxValue + 1) / 2;
	for (let i = 0; i + 2 < samples.length; i += 3) {
		const y = samples[i] ?? 0;
		const cb = (samples[i + 1] ?? 0) - half;
		const cr = (samples[i + 2] ?? 0) - half;
		const r = y + 1.402 * cr;
		const g = y - 0.344136 * cb - 0.714136 * cr;
		const b = y + 1.772 * cb;
		samples[i] = maxValue === 255 ? clamp8(Math.round(r)) : Math.min(maxValue, Math.max(0, Math.round(r)));
		samples[i + 1] = maxValue === 255 ? clamp8(Math.round(g)) : Math.min(maxValue, Math.max(0, Math.round(g)));
		samples[i + 2] = maxValue === 255 ? clamp8(Math.round(b)) : Math.min(maxValue, Math.max(0, Math.round(b)));
	}
}

/** Expands uncompressed YBR_FULL_422 (Y1 Y2 Cb Cr per pixel pair) to interleaved Y Cb Cr per pixel. */
export function expandYbr422(bytes: Uint8Array, width: number, height: number): Int32Array {
	const out = new Int32Array(width * height * 3);
	let i = 0;
	let o = 0;
	for (let y = 0; y < height; y++) {
		for (let x = 0; x < width; x += 2) {
			const y1 = bytes[i] ?? 0;
			const y2 = bytes[i + 1] ?? 0;
			const cb = bytes[i + 2] ?? 0;
			const cr = bytes[i + 3] ?? 0;
			i += 4;
			out[o++] = y1;
			out[o++] = cb;
			out[o++] = cr;
			if (x + 1 < width) {
				out[o++] = y2;
				out[o++] = cb;
				out[o++] = cr;
			}
		}
	}
	return out;
}

interface Lut {
	entries: Uint16Array;
	firstMapped: number;
}

function readWords(ds: dicomParser.DataSet, tag: string): Uint16Array {
	const el = ds.elements[tag];
	if (!el) return new Uint16Array(0);
	const n = Math.floor(Math.min(el.length, ds.byteArray.length - el.dataOffset) / 2);
	const out = new Uint16Array(Math.max(0, n));
	for (let i = 0; i < out.length; i++) out[i] = ds.byteArrayParser.readUint16(ds.byteArray, el.dataOffset + 2 * i);
	return out;
}

/** Expands segmented palette LUT data (PS3.3 C.7.9.2): discrete, linear and indirect segments. */
export function expandSegmentedLut(data: Uint16Array, entries: number): Uint16Array {
	// A growable typed array instead of number[] pushes; every value is a uint16 (data words, or a
	// linear ramp between two of them), so storing it as such loses nothing.
	let out = new Uint16Array(Math.max(16, entries + 16));
	let len = 0;
	const room = (extra: number): void => {
		if (len + extra <= out.length) return;
		const bigger = new Uint16Array(Math.max(out.length * 2, len + extra));
		bigger.set(out.subarray(0, len));
		out = bigger;
	};
	const expand = (from: number, to: number, depth: number): void => {
		let i = from;
		while (i < to && len < entries * 2) {
			const op = data[i] ?? 0;
			const length = data[i + 1] ?? 0;
			if (op === 0) {
				room(length);
				for (let k = 0; k < length; k++) out[len++] = data[i + 2 + k] ?? 0;
				i += 2 + length;
			} else if (op === 1) {
				const y0 = len ? (out[len - 1] as number) : 0;
				const y1 = data[i + 2] ?? 0;
				const step = (y1 - y0) / length;
				room(length);
				for (let k = 1; k <= length; k++) out[len++] = Math.trunc(y0 + step * k);
				i += 3;
			} else if (op === 2) {
				if (depth > 4) throw new Error("segmented LUT: indirect segments nest too deep");
				const offset = (data[i + 2] ?? 0) | ((data[i + 3] ?? 0) << 16);
				// Copy `length` segments starting at the segment with index `offset`.
				let p = offset;
				for (let k = 0; k < length && p < data.length; k++) {
					const o2 = data[p] ?? 0;
					const n2 = data[p + 1] ?? 0;
					const size = o2 === 0 ? 2 + n2 : o2 === 1 ? 3 : 4;
					expand(p, p + size, depth + 1);
					p += size;
				}
				i += 4;
			} else {
				throw new Error(`segmented LUT: unknown opcode ${op}`);
			}
		}
	};
	expand(0, data.length, 0);
	const result = new Uint16Array(entries);
	const last = len ? (out[len - 1] as number) : 0;
	result.set(out.subarray(0, Math.min(len, entries)));
	if (len < entries) result.fill(last, len);
	return result;
}

function readLut(ds: dicomParser.DataSet, color: "1" | "2" | "3"): Lut & { bits: number } {
	const desc = `x0028110${color}`;
	const el = ds.elements[desc];
	if (!el || el.length < 6) throw new Error("PALETTE COLOR without a palette LUT descriptor");
	const count = ds.uint16(desc, 0) || 65536;
	const firstRaw = ds.uint16(desc, 1) ?? 0;
	const bits = ds.uint16(desc, 2) ?? 16;
	const segmented = ds.elements[`x0028122${color}`];
	let entries: Uint16Array;
	if (segmented) {
		entries = expandSegmentedLut(readWords(ds, `x0028122${color}`), count);
	} else {
		const dataTag = `x0028120${color}`;
		const dataEl = ds.elements[dataTag];
		if (!dataEl) throw new Error("PALETTE COLOR without palette LUT data");
		if (bits === 8 && dataEl.length >= count && dataEl.length < count * 2) {
			// 8-bit entries packed one per byte.
			entries = new Uint16Array(count);
			for (let i = 0; i < count; i++) entries[i] = ds.byteArray[dataEl.dataOffset + i] ?? 0;
		} else {
			entries = readWords(ds, dataTag).slice(0, count);
		}
	}
	return { entries, firstMapped: firstRaw, bits };
}

/**
 * PALETTE COLOR → interleaved RGB, as GDCM does: 8-bit pixel data gives 8-bit RGB (the high byte of
 * 16-bit LUT entries), 16-bit pixel data gives the 16-bit entries. Indices outside the LUT clamp.
 */
export function applyPalette(ds: dicomParser.DataSet, indices: Int32Array | Float64Array | Float32Array, bitsAllocated: number, into?: Float32Array): Float32Array {
	const luts = [readLut(ds, "1"), readLut(ds, "2"), readLut(ds, "3")];
	// The colour values (integers of at most 16 bits, exact in float32) in the type the window reads
	// (`into`: a zero-filled array of 3 × the indices, e.g. from the conversion's scratch).
	const out = into ?? new Float32Array(indices.length * 3);
	// Per channel: the shifted entries once (a missing LUT gives zeros), its first index and last slot.
	const tables: Int32Array[] = [];
	const firsts: number[] = [];
	const lasts: number[] = [];
	for (let c = 0; c < 3; c++) {
		const lut = luts[c];
		if (!lut || lut.entries.length === 0) {
			tables.push(new Int32Array(1));
			firsts.push(0);
			lasts.push(0);
			continue;
		}
		const { entries, firstMapped, bits } = lut;
		const shift = bitsAllocated <= 8 && bits === 16 ? 8 : 0;
		const table = new Int32Array(entries.length);
		for (let k = 0; k < entries.length; k++) table[k] = (entries[k] as number) >> shift;
		tables.push(table);
		firsts.push(firstMapped);
		lasts.push(entries.length - 1);
	}
	const [t0, t1, t2] = tables as [Int32Array, Int32Array, Int32Array];
	const [f0, f1, f2] = firsts as [number, number, number];
	const [l0, l1, l2] = lasts as [number, number, number];
	// One pass, three clamped lookups per pixel (indices outside a LUT clamp to its ends).
	for (let i = 0, o = 0; i < indices.length; i++, o += 3) {
		const v = indices[i] as number;
		let k = v - f0;
		out[o] = t0[k < 0 ? 0 : k > l0 ? l0 : k] as number;
		k = v - f1;
		out[o + 1] = t1[k < 0 ? 0 : k > l1 ? l1 : k] as number;
		k = v - f2;
		out[o + 2] = t2[k < 0 ? 0 : k > l2 ? l2 : k] as number;
	}
	return out;
}
