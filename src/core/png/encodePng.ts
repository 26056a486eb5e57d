import * as zlib from "node:zlib";

/**
 * PNG filter used for every row: 1 = Sub. At zlib level 1 it is as fast as Up and None and gives
 * the smallest output of the three on the shared files and on radiographs (see bench/convert.bench.ts).
 */
export const PNG_FILTER = 1;

/** Filter value that picks, per row, the filter with the smallest sum of absolute differences (libpng's heuristic). */
export const PNG_FILTER_ADAPTIVE = -1;

/**
 * How 8-bit grayscale PNGs are compressed by default: the adaptive filter with zlib's run-length
 * strategy (Z_RLE: matches at distance 1 only). On the shared files and generated CT/MR/CR sets it
 * gives smaller PNGs than zlib level 6 with any one filter, at about the speed of level 1 (medical
 * images are noisy: long-distance matches are rare, the Huffman coding of the filtered residuals is
 * what counts). See docs/benchmarks.md, "Request bytes".
 */
export const GRAY_PNG_DEFAULTS = Object.freeze({ filter: PNG_FILTER_ADAPTIVE, strategy: zlib.constants.Z_RLE, level: 1 });

/**
 * How colour (RGB) images are compressed by default: the adaptive filter, zlib level 4 with
 * Z_FILTERED. About the seed's size (Pillow: adaptive, level 6, Z_FILTERED) for about twice the
 * time of level 1 with Sub, which was 1.1× the seed's size on the shared colour files and 1.5× on
 * ultrasound frames (docs/benchmarks.md, "Request bytes").
 */
export const COLOUR_PNG_DEFAULTS = Object.freeze({ filter: PNG_FILTER_ADAPTIVE, strategy: zlib.constants.Z_FILTERED, level: 4 });

/**
 * The other encoding of colour images: no filter, zlib level 6. Screen captures, ultrasound with its
 * black frame and burnt-in text, and other images with repeated pixel runs compress better unfiltered
 * (zlib finds the repeats across rows); photographs and noisy images compress better filtered. The
 * encoder keeps the smaller (see chooseColourProfile): on the shared colour files 0.87 of the
 * adaptive encoding alone (docs/benchmarks.md, "Request bytes").
 */
export const COLOUR_PNG_UNFILTERED = Object.freeze({ filter: 0, strategy: zlib.constants.Z_DEFAULT_STRATEGY, level: 6 });

/** Colour images up to this many pixels are encoded both ways in full and the smaller kept. */
const COLOUR_BOTH_MAX_PIXELS = 16_384;
/** Larger ones are judged on strips of SAMPLE_BAND rows every SAMPLE_EVERY bands (an eighth of the rows). */
const SAMPLE_BAND = 16;
const SAMPLE_EVERY = 8;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC) of a byte range: zlib's when Node has it, else a table. */
function crc32(bytes: Uint8Array): number {
	const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
	if (typeof native === "function") return native(bytes) >>> 0;
	if (!crcTable) {
		crcTable = new Uint32Array(256);
		for (let n = 0; n < 256; n++) {
			let c = n;
			for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
			crcTable[n] = c >>> 0;
		}
	}
	const table = crcTable;
	let c = 0xffffffff;
	for (let i = 0; i < bytes.length; i++) c = (table[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function paeth(a: number, b: number, c: number): number {
	const p = a + b - c;
	const pa = Math.abs(p - a);
	const pb = Math.abs(p - b);
	const pc = Math.abs(p - c);
	return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Writes one filtered row (filter byte at `o`, then `cur.length` bytes) from the raw row `cur`
 * (previous row `prev`, all zeros for the first row) with filter type 0–4; `bpp` bytes per pixel.
 */
function filterRow(out: Uint8Array, o: number, cur: Uint8Array, prev: Uint8Array, type: number, bpp = 3): void {
	const n = cur.length;
	out[o++] = type;
	switch (type) {
		case 0:
			out.set(cur, o);
			return;
		case 1:
			for (let i = 0; i < bpp && i < n; i++) out[o + i] = cur[i] as number;
			for (let i = bpp; i < n; i++) out[o + i] = (cur[i] as number) - (cur[i - bpp] as number);
			return;
		case 2:
			for (let i = 0; i < n; i++) out[o + i] = (cur[i] as number) - (prev[i] as number);
			return;
		case 3:
			for (let i = 0; i < bpp && i < n; i++) out[o + i] = (cur[i] as number) - ((prev[i] as number) >> 1);
			for (let i = bpp; i < n; i++) out[o + i] = (cur[i] as number) - (((cur[i - bpp] as number) + (prev[i] as number)) >> 1);
			return;
		default:
			for (let i = 0; i < bpp && i < n; i++) out[o + i] = (cur[i] as number) - (prev[i] as number);
			for (let i = bpp; i < n; i++) out[o + i] = (cur[i] as number) - paeth(cur[i - bpp] as number, prev[i] as number, prev[i - bpp] as number);
	}
}

/** Sum of the filtered bytes read as signed values (libpng's "minimum sum of absolute differences"). */
function rowCost(row: Uint8Array, from: number, length: number): number {
	let sum = 0;
	for (let i = from; i < from + length; i++) {
		const v = row[i] ?? 0;
		sum += v < 128 ? v : 256 - v;
	}
	return sum;
}

/** Largest filtered image whose buffer is kept for the next call (bigger ones are allocated each time). */
const SCRATCH_LIMIT = 32 * 1024 * 1024;
let scratch: Uint8Array | undefined;

/**
 * A buffer for `size` filtered bytes, reused between calls on this thread (deflateSync copies its
 * input, and every byte is overwritten): no zero-filling and less garbage per image.
 */
function filterBuffer(size: number): Uint8Array {
	if (size > SCRATCH_LIMIT) return new Uint8Array(size);
	if (!scratch || scratch.length < size) scratch = new Uint8Array(Math.max(size, 1 << 20));
	return scratch.subarray(0, size);
}

/** The filtered scanlines of gray pixels replicated to RGB (fast paths for None, Sub and Up). */
function filterGray(data: Uint8Array, width: number, height: number, filter: number): Uint8Array {
	const stride = width * 3;
	const out = filterBuffer(height * (stride + 1));
	let o = 0;
	if (filter >= 0 && filter <= 2) {
		for (let y = 0, s = 0; y < height; y++) {
			out[o++] = filter;
			if (filter === 2 && y > 0) {
				for (let x = 0; x < width; x++, s++) {
					const d = ((data[s] ?? 0) - (data[s - width] ?? 0)) & 0xff;
					out[o] = d;
					out[o + 1] = d;
					out[o + 2] = d;
					o += 3;
				}
			} else if (filter === 1) {
				let left = 0;
				for (let x = 0; x < width; x++, s++) {
					const v = data[s] ?? 0;
					const d = (v - left) & 0xff;
					left = v;
					out[o] = d;
					out[o + 1] = d;
					out[o + 2] = d;
					o += 3;
				}
			} else {
				for (let x = 0; x < width; x++, s++) {
					const v = data[s] ?? 0;
					out[o] = v;
					out[o + 1] = v;
					out[o + 2] = v;
					o += 3;
				}
			}
		}
		return out;
	}
	// Avg, Paeth or adaptive: expand each row to RGB first.
	let prev = new Uint8Array(stride);
	let cur = new Uint8Array(stride);
	for (let y = 0, s = 0; y < height; y++) {
		for (let x = 0, c = 0; x < width; x++, s++, c += 3) {
			const v = data[s] ?? 0;
			cur[c] = v;
			cur[c + 1] = v;
			cur[c + 2] = v;
		}
		o = writeRow(out, o, cur, prev, filter);
		[prev, cur] = [cur, prev];
	}
	return out;
}

/** Filters one row (fixed type, or adaptive) into `out` at `o`; returns the next offset. */
function writeRow(out: Uint8Array, o: number, cur: Uint8Array, prev: Uint8Array, filter: number, bpp = 3): number {
	const stride = cur.length;
	if (filter >= 0 && filter <= 4) {
		filterRow(out, o, cur, prev, filter, bpp);
		return o + stride + 1;
	}
	let best = -1;
	let bestCost = Infinity;
	for (let type = 0; type <= 4; type++) {
		filterRow(out, o, cur, prev, type, bpp);
		const cost = rowCost(out, o + 1, stride);
		if (cost < bestCost) {
			bestCost = cost;
			best = type;
		}
	}
	if (best !== 4) filterRow(out, o, cur, prev, best, bpp);
	return o + stride + 1;
}

/**
 * The filtered scanlines of gray pixels kept as one byte per pixel (colour type 0): a third of the
 * RGB scanlines, so a third of the bytes to filter and deflate. Sub and Up have tight loops; the
 * other filters go through the generic row filter.
 */
function filterGray8(data: Uint8Array, width: number, height: number, filter: number): Uint8Array {
	const out = filterBuffer(height * (width + 1));
	let o = 0;
	if (filter === 1) {
		for (let y = 0, s = 0; y < height; y++) {
			out[o++] = 1;
			let left = 0;
			for (let x = 0; x < width; x++, s++) {
				const v = data[s] as number;
				out[o++] = v - left;
				left = v;
			}
		}
		return out;
	}
	if (filter === 2) {
		for (let y = 0, s = 0; y < height; y++) {
			out[o++] = 2;
			if (y === 0) {
				out.set(data.subarray(0, width), o);
				o += width;
				s += width;
				continue;
			}
			for (let x = 0; x < width; x++, s++) out[o++] = (data[s] as number) - (data[s - width] as number);
		}
		return out;
	}
	if (filter === PNG_FILTER_ADAPTIVE) return filterGrayAdaptive(data, width, height, out);
	if (filter === 4) {
		const zero = new Uint8Array(width);
		for (let y = 0; y < height; y++) paethGrayRow(out, y * (width + 1), data.subarray(y * width, (y + 1) * width), y > 0 ? data.subarray((y - 1) * width, y * width) : zero);
		return out;
	}
	let prev: Uint8Array = new Uint8Array(width);
	for (let y = 0; y < height; y++) {
		const cur = data.subarray(y * width, (y + 1) * width);
		o = writeRow(out, o, cur, prev, filter, 1);
		prev = cur;
	}
	return out;
}

/**
 * The adaptive gray filter estimates each row's filter costs on every ADAPTIVE_STEP-th pixel: the
 * choice is a heuristic anyway (the output is lossless whatever it picks), and sampling makes it
 * several times cheaper for the same size within a fraction of a percent (bench/bytes.bench.ts).
 */
const ADAPTIVE_STEP = 4;

/** Cost of a filtered byte: its value read as signed, absolute (libpng's heuristic). */
const COST = Uint8Array.from({ length: 256 }, (_, b) => (b < 128 ? b : 256 - b));

/** Writes one gray row filtered with Paeth (type 4) at `o` (filter byte first). */
function paethGrayRow(out: Uint8Array, o: number, cur: Uint8Array, prev: Uint8Array): void {
	out[o++] = 4;
	let a = 0;
	let c = 0;
	for (let x = 0; x < cur.length; x++) {
		const v = cur[x] as number;
		const b = prev[x] as number;
		const pa = b > c ? b - c : c - b;
		const pb = a > c ? a - c : c - a;
		const p = a + b - 2 * c;
		const pc = p < 0 ? -p : p;
		out[o + x] = v - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
		a = v;
		c = b;
	}
}

/** Adaptive filtering of gray rows: each row with the filter cheapestFilter picks (Paeth through its gray fast path). */
function filterGrayAdaptive(data: Uint8Array, width: number, height: number, out: Uint8Array): Uint8Array {
	const zero = new Uint8Array(width);
	let o = 0;
	for (let y = 0; y < height; y++) {
		const s = y * width;
		const prev = y > 0 ? data.subarray(s - width, s) : zero;
		const cur = data.subarray(s, s + width);
		const type = cheapestFilter(cur, prev, 1);
		if (type === 4) paethGrayRow(out, o, cur, prev);
		else filterRow(out, o, cur, prev, type, 1);
		o += width + 1;
	}
	return out;
}

/** The filtered scanlines of interleaved RGB pixels. */
function filterRgb(data: Uint8Array, width: number, height: number, filter: number): Uint8Array {
	const stride = width * 3;
	const out = filterBuffer(height * (stride + 1));
	let prev: Uint8Array = new Uint8Array(stride);
	let o = 0;
	for (let y = 0; y < height; y++) {
		const cur = data.subarray(y * stride, (y + 1) * stride);
		if (filter === PNG_FILTER_ADAPTIVE) {
			filterRow(out, o, cur, prev, cheapestFilter(cur, prev, 3), 3);
			o += stride + 1;
		} else o = writeRow(out, o, cur, prev, filter);
		prev = cur;
	}
	return out;
}

/**
 * The filter type (0–4) with the smallest estimated cost for one row, `bpp` bytes per pixel: one loop
 * sums the absolute signed residuals of all five filters (from a table) over every ADAPTIVE_STEP-th
 * byte from the second pixel (libpng's heuristic, sampled). Ties go to the lower type, as in writeRow.
 */
function cheapestFilter(cur: Uint8Array, prev: Uint8Array, bpp: number): number {
	const cost = COST;
	let c0 = 0;
	let c1 = 0;
	let c2 = 0;
	let c3 = 0;
	let c4 = 0;
	for (let x = bpp; x < cur.length; x += ADAPTIVE_STEP) {
		const v = cur[x] as number;
		const a = cur[x - bpp] as number;
		const b = prev[x] as number;
		const c = prev[x - bpp] as number;
		const pa = b > c ? b - c : c - b;
		const pb = a > c ? a - c : c - a;
		const p = a + b - 2 * c;
		const pc = p < 0 ? -p : p;
		c0 += cost[v] as number;
		c1 += cost[(v - a) & 0xff] as number;
		c2 += cost[(v - b) & 0xff] as number;
		c3 += cost[(v - ((a + b) >> 1)) & 0xff] as number;
		c4 += cost[(v - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff] as number;
	}
	let type = 0;
	let best = c0;
	if (c1 < best) {
		best = c1;
		type = 1;
	}
	if (c2 < best) {
		best = c2;
		type = 2;
	}
	if (c3 < best) {
		best = c3;
		type = 3;
	}
	if (c4 < best) type = 4;
	return type;
}

/**
 * The rows of strips of SAMPLE_BAND rows taken every SAMPLE_EVERY bands, filtered as in the whole
 * image (each row against the row above it in the image): what deflate would see, an eighth of it.
 */
function sampleRgbRows(data: Uint8Array, width: number, height: number, filter: number): Uint8Array {
	const stride = width * 3;
	const rows: number[] = [];
	for (let y0 = 0; y0 < height; y0 += SAMPLE_BAND * SAMPLE_EVERY) for (let y = y0; y < Math.min(height, y0 + SAMPLE_BAND); y++) rows.push(y);
	const out = new Uint8Array(rows.length * (stride + 1));
	const zero = new Uint8Array(stride);
	let o = 0;
	for (const y of rows) {
		const cur = data.subarray(y * stride, (y + 1) * stride);
		const prev = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zero;
		filterRow(out, o, cur, prev, filter === PNG_FILTER_ADAPTIVE ? cheapestFilter(cur, prev, 3) : filter, 3);
		o += stride + 1;
	}
	return out;
}

/**
 * Which default encoding a large colour image gets: the one whose deflated sample (sampleRgbRows) is
 * smaller. On the shared colour files the sample picks the smaller whole encoding, or one within 1 %.
 */
function chooseColourProfile(data: Uint8Array, width: number, height: number): { filter: number; strategy: number; level: number } {
	const deflated = (profile: { filter: number; strategy: number; level: number }): number =>
		zlib.deflateSync(sampleRgbRows(data, width, height, profile.filter), { level: profile.level, strategy: profile.strategy, memLevel: 9 }).length;
	return deflated(COLOUR_PNG_UNFILTERED) < deflated(COLOUR_PNG_DEFAULTS) ? COLOUR_PNG_UNFILTERED : COLOUR_PNG_DEFAULTS;
}

function writeChunk(out: Uint8Array, o: number, type: string, body: Uint8Array): number {
	const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
	view.setUint32(o, body.length);
	for (let i = 0; i < 4; i++) out[o + 4 + i] = type.charCodeAt(i);
	out.set(body, o + 8);
	view.setUint32(o + 8 + body.length, crc32(out.subarray(o + 4, o + 8 + body.length)));
	return o + 12 + body.length;
}

/** How to encode a PNG. Level and filter change size and speed, never pixels. */
export interface PngOptions {
	/** zlib level 0–9. Default: GRAY_PNG_DEFAULTS / COLOUR_PNG_DEFAULTS by colour type; 6 for gray as RGB. 0 stores. */
	level?: number;
	/**
	 * PNG filter type 0–4 for every row, or PNG_FILTER_ADAPTIVE. Default: adaptive for grayscale and
	 * colour PNGs, PNG_FILTER (Sub) for gray as RGB. A colour PNG with none of level, filter and
	 * strategy given is COLOUR_PNG_DEFAULTS or COLOUR_PNG_UNFILTERED, whichever is smaller.
	 */
	filter?: number;
	/**
	 * zlib strategy (zlib.constants.Z_DEFAULT_STRATEGY, Z_FILTERED, Z_RLE, ...). Default: Z_RLE for
	 * grayscale PNGs, Z_FILTERED for colour, Z_DEFAULT_STRATEGY for gray as RGB.
	 */
	strategy?: number;
	/**
	 * Gray input (1 channel) as RGB with three equal channels (colour type 2, as the reference
	 * sends it) instead of an 8-bit grayscale PNG (colour type 0). Default false.
	 */
	rgb?: boolean;
}

/**
 * The PNG options the converter uses for an image: gray as 8-bit grayscale or, in the RGB mode, as
 * RGB at `level` with Sub (as before the grayscale mode); colour with COLOUR_PNG_DEFAULTS. Level 0
 * (no compression) is honoured in every case.
 */
export function convertPngOptions(channels: 1 | 3, grayscalePng: boolean, level: number): PngOptions {
	if (channels === 1 && !grayscalePng) return { level, rgb: true };
	return level === 0 ? { level: 0 } : {};
}

/**
 * Encodes 8-bit pixels as a PNG: colour input (3 channels) as RGB (colour type 2); gray input
 * (1 channel) as 8-bit grayscale (colour type 0), or with `rgb` as RGB with three equal channels.
 * Level 0 stores without compression whatever the strategy.
 * A decoder that turns gray into RGB (MedImageInsight does, before its transform) gets the same
 * pixels from both. The result owns its whole ArrayBuffer, so the caller may transfer it to
 * another thread.
 */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3, options: PngOptions = {}): Uint8Array {
	const pixels = width * height;
	if (channels !== 1 && channels !== 3) throw new Error(`PNG input has ${String(channels)} channels, expected 1 or 3`);
	if (!(width > 0 && height > 0 && width < 2 ** 31 && height < 2 ** 31)) throw new Error(`PNG size ${width}×${height} is not valid`);
	if (data.length !== pixels * channels) throw new Error(`PNG input has ${data.length} bytes, expected ${pixels * channels}`);
	const gray = channels === 1 && options.rgb !== true;
	// Gray replicated to RGB (the reference's layout) keeps the earlier defaults: Sub, level 6.
	const profile = gray ? GRAY_PNG_DEFAULTS : channels === 3 ? COLOUR_PNG_DEFAULTS : { filter: PNG_FILTER, strategy: zlib.constants.Z_DEFAULT_STRATEGY, level: 6 };
	const idatOf = (filter: number, strategy: number, level: number): Buffer => {
		const raw = gray ? filterGray8(data, width, height, filter) : channels === 1 ? filterGray(data, width, height, filter) : filterRgb(data, width, height, filter);
		const zlevel = Math.max(0, Math.min(9, Math.round(level)));
		// One output chunk about the size of the result: no concatenation of many small chunks.
		return zlib.deflateSync(raw, { level: zlevel, strategy, memLevel: 9, chunkSize: Math.max(64 * 1024, Math.min(raw.length + 1024, 64 * 1024 * 1024)) });
	};
	let idat: Buffer;
	if (channels === 3 && options.filter === undefined && options.strategy === undefined && options.level === undefined) {
		// Colour with the default encoding: filtered or unfiltered, whichever is smaller (a small image is
		// encoded both ways; a large one the way its sample favours).
		if (width * height <= COLOUR_BOTH_MAX_PIXELS) {
			const filtered = idatOf(COLOUR_PNG_DEFAULTS.filter, COLOUR_PNG_DEFAULTS.strategy, COLOUR_PNG_DEFAULTS.level);
			const plain = idatOf(COLOUR_PNG_UNFILTERED.filter, COLOUR_PNG_UNFILTERED.strategy, COLOUR_PNG_UNFILTERED.level);
			idat = plain.length < filtered.length ? plain : filtered;
		} else {
			const chosen = chooseColourProfile(data, width, height);
			idat = idatOf(chosen.filter, chosen.strategy, chosen.level);
		}
	} else idat = idatOf(options.filter ?? profile.filter, options.strategy ?? profile.strategy, options.level ?? profile.level);
	const ihdr = new Uint8Array(13);
	const hv = new DataView(ihdr.buffer);
	hv.setUint32(0, width);
	hv.setUint32(4, height);
	ihdr[8] = 8; // bit depth
	ihdr[9] = gray ? 0 : 2; // colour type: grayscale or RGB
	const png = new Uint8Array(SIGNATURE.length + 12 + 13 + 12 + idat.length + 12);
	png.set(SIGNATURE, 0);
	let o = writeChunk(png, SIGNATURE.length, "IHDR", ihdr);
	o = writeChunk(png, o, "IDAT", idat);
	writeChunk(png, o, "IEND", new Uint8Array(0));
	return png;
}

/**
 * Encodes 8-bit pixels as an 8-bit RGB PNG (colour type 2), as the reference does: gray input is
 * replicated to three equal channels while the rows are filtered (no RGB copy). Same as
 * `encodePng(…, { level, filter, rgb: true })`.
 */
export function encodeRgbPng(data: Uint8Array, width: number, height: number, channels: 1 | 3, level = 6, filter: number = PNG_FILTER): Uint8Array {
	return encodePng(data, width, height, channels, { level, filter, rgb: true });
}
