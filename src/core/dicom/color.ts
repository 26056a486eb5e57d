import type * as dicomParser from "dicom-parser";

/** Clamps and rounds like GDCM's YBR→RGB conversion (see docs/converter.md). */
function clamp8(v: number): number {
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * YBR_FULL → RGB in place on interleaved 8-bit samples, with the ITU-R BT.601 full-range
 * equations GDCM uses (results rounded to nearest, clamped to 0..255).
 */
export function ybrFullToRgb(samples: Int32Array | Float64Array, maxValue: number): void {
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
	const out: number[] = [];
	const segmentStarts: number[] = [];
	const expand = (from: number, to: number, depth: number): void => {
		let i = from;
		while (i < to && out.length < entries * 2) {
			segmentStarts.push(i);
			const op = data[i] ?? 0;
			const length = data[i + 1] ?? 0;
			if (op === 0) {
				for (let k = 0; k < length; k++) out.push(data[i + 2 + k] ?? 0);
				i += 2 + length;
			} else if (op === 1) {
				const y0 = out.length ? (out[out.length - 1] ?? 0) : 0;
				const y1 = data[i + 2] ?? 0;
				const step = (y1 - y0) / length;
				for (let k = 1; k <= length; k++) out.push(Math.trunc(y0 + step * k));
				i += 3;
			} else if (op === 2) {
				if (depth > 4) throw new Error("segmented LUT: indirect segments nest too deep");
				const offset = (data[i + 2] ?? 0) | ((data[i + 3] ?? 0) << 16);
				const start = offset;
				// Copy `length` segments starting at the segment with index `offset`.
				let p = start;
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
	for (let k = 0; k < entries; k++) result[k] = out[k] ?? out[out.length - 1] ?? 0;
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
export function applyPalette(ds: dicomParser.DataSet, indices: Int32Array | Float64Array, bitsAllocated: number): Int32Array {
	const luts = [readLut(ds, "1"), readLut(ds, "2"), readLut(ds, "3")];
	const out = new Int32Array(indices.length * 3);
	for (let c = 0; c < 3; c++) {
		const lut = luts[c];
		if (!lut) continue;
		const { entries, firstMapped, bits } = lut;
		const last = entries.length - 1;
		const shift = bitsAllocated <= 8 && bits === 16 ? 8 : 0;
		if (last < 0) continue;
		// Shifted entries once, then one clamp and one lookup per pixel.
		const table = new Int32Array(entries.length);
		for (let k = 0; k <= last; k++) table[k] = (entries[k] as number) >> shift;
		for (let i = 0, o = c; i < indices.length; i++, o += 3) {
			let k = (indices[i] as number) - firstMapped;
			if (k < 0) k = 0;
			else if (k > last) k = last;
			out[o] = table[k] as number;
		}
	}
	return out;
}
