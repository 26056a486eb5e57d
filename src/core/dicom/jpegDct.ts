/**
 * A JPEG decoder for Huffman-coded DCT JPEG — sequential (baseline and extended) and progressive
 * (spectral selection and successive approximation), 8 or 12 bits — written for the 12-bit files
 * the 8-bit libjpeg-turbo codec cannot read. The inverse DCT is the accurate integer one of the IJG
 * library (jidctint, "islow") with its 12-bit constants and its post-IDCT range limiting, so results
 * equal what GDCM's libjpeg gives. Subsampled chroma is upsampled as libjpeg does (triangle filter for
 * h2v1 and h2v2, replication otherwise); no colour conversion is done (12-bit JPEGs are grayscale in
 * practice); arithmetic coding and hierarchical JPEG are refused.
 */
import type { DecodedJpeg } from "./jpegLossless";

interface Huffman {
	/** code length → (first code, first index, count) via maxcode/valptr as in the JPEG spec F.2.2.3 */
	maxcode: Int32Array;
	valptr: Int32Array;
	mincode: Int32Array;
	values: Uint8Array;
	/** 9-bit fast lookup: (length << 8) | value, or 0 when longer. */
	fast: Uint16Array;
}

interface Component {
	id: number;
	h: number;
	v: number;
	tq: number;
	td: number;
	ta: number;
	pred: number;
	blocksPerLine: number;
	blocksPerColumn: number;
	/** Decoded samples of the component, (blocksPerLine*8) × (blocksPerColumn*8). */
	out: Uint16Array;
	/** Progressive only: the coefficients of every block (64 per block, natural order). */
	coefs: Int32Array;
	/** Progressive only: the end-of-band run left over from the last block (shared by the scan's blocks). */
	eobrun: number;
}

const ZIGZAG = Int32Array.from([
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15,
	23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
	const maxcode = new Int32Array(18).fill(-1);
	const valptr = new Int32Array(17);
	const mincode = new Int32Array(17);
	const fast = new Uint16Array(512);
	let code = 0;
	let k = 0;
	for (let len = 1; len <= 16; len++) {
		const n = counts[len - 1] ?? 0;
		valptr[len] = k;
		mincode[len] = code;
		for (let i = 0; i < n; i++) {
			if (len <= 9) {
				const shift = 9 - len;
				const base = code << shift;
				for (let j = 0; j < 1 << shift; j++) fast[base + j] = (len << 8) | (values[k] ?? 0);
			}
			code++;
			k++;
		}
		maxcode[len] = n ? code - 1 : -1;
		code <<= 1;
	}
	maxcode[17] = 0x7fffffff;
	return { maxcode, valptr, mincode, values, fast };
}

class BitReader {
	private pos: number;
	private acc = 0;
	private bits = 0;
	/** Set when a marker (other than stuffing) was met; reads then return zeros. */
	marker = -1;

	constructor(
		private readonly data: Uint8Array,
		start: number,
	) {
		this.pos = start;
	}

	private fill(): void {
		while (this.bits <= 24) {
			let byte = 0;
			if (this.marker < 0 && this.pos < this.data.length) {
				byte = this.data[this.pos] ?? 0;
				if (byte === 0xff) {
					const next = this.data[this.pos + 1] ?? 0;
					if (next === 0x00) this.pos += 2;
					else {
						this.marker = next;
						byte = 0;
					}
				} else this.pos++;
			}
			this.acc = ((this.acc << 8) | byte) >>> 0;
			this.bits += 8;
		}
	}

	peek(n: number): number {
		if (this.bits < n) this.fill();
		return (this.acc >>> (this.bits - n)) & ((1 << n) - 1);
	}

	skip(n: number): void {
		this.bits -= n;
		this.acc &= this.bits >= 32 ? 0xffffffff : (2 ** this.bits - 1) >>> 0;
	}

	get(n: number): number {
		if (n === 0) return 0;
		const v = this.peek(n);
		this.skip(n);
		return v;
	}

	decode(h: Huffman): number {
		const look = h.fast[this.peek(9)] ?? 0;
		if (look) {
			this.skip(look >> 8);
			return look & 0xff;
		}
		let code = this.get(1);
		let len = 1;
		while (code > (h.maxcode[len] ?? -1)) {
			code = (code << 1) | this.get(1);
			len++;
			if (len > 16) throw new Error("bad Huffman code");
		}
		return h.values[(h.valptr[len] ?? 0) + code - (h.mincode[len] ?? 0)] ?? 0;
	}

	/** Byte-aligns and consumes an RSTn marker. */
	restart(): void {
		this.acc = 0;
		this.bits = 0;
		if (this.marker >= 0xd0 && this.marker <= 0xd7) {
			this.pos += 2;
			this.marker = -1;
		} else if (this.marker < 0) {
			// Look for the marker in the stream.
			while (this.pos + 1 < this.data.length && !(this.data[this.pos] === 0xff && (this.data[this.pos + 1] ?? 0) >= 0xd0 && (this.data[this.pos + 1] ?? 0) <= 0xd7)) this.pos++;
			this.pos += 2;
		}
	}
}

function extend(v: number, t: number): number {
	return t === 0 ? 0 : v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
}

// IJG jidctint.c constants (CONST_BITS 13).
const F_0_298 = 2446;
const F_0_390 = 3196;
const F_0_541 = 4433;
const F_0_765 = 6270;
const F_0_899 = 7373;
const F_1_175 = 9633;
const F_1_501 = 12299;
const F_1_847 = 15137;
const F_1_961 = 16069;
const F_2_053 = 16819;
const F_2_562 = 20995;
const F_3_072 = 25172;

/** 2^n and 2^-n for n = 0..32 (a variable `2 ** n` is a slow Math.pow call in the hot IDCT). */
const POW2 = Float64Array.from({ length: 33 }, (_, n) => 2 ** n);
const INV_POW2 = Float64Array.from({ length: 33 }, (_, n) => 2 ** -n);

/**
 * DESCALE with IJG rounding on (64-bit) integers: floor((x + 2^(n-1)) / 2^n). Multiplying by 2^-n
 * is exact in float64, so this equals the division.
 */
function descale(x: number, n: number): number {
	return Math.floor((x + (POW2[n - 1] as number)) * (INV_POW2[n] as number));
}

/** IJG "islow" inverse DCT of one dequantized block into `out` (row stride `stride`). */
function idctIslow(coef: Float64Array, q: Int32Array, out: Uint16Array, offset: number, stride: number, precision: number, ws: Float64Array): void {
	const pass1 = precision === 8 ? 2 : 1;
	const CB = 13;
	const maxv = (1 << precision) - 1;
	const center = 1 << (precision - 1);
	const mask = maxv * 4 + 3;
	const limit = (v: number): number => {
		// IJG's post-IDCT range-limit table (wraps for wild values exactly as the table does).
		const x = v & mask;
		if (x < center) return x + center;
		if (x < 2 * (maxv + 1)) return maxv;
		if (x < 4 * (maxv + 1) - center) return 0;
		return x - (4 * (maxv + 1) - center);
	};
	for (let c = 0; c < 8; c++) {
		const d = (k: number): number => (coef[k * 8 + c] ?? 0) * (q[k * 8 + c] ?? 0);
		if (!coef[8 + c] && !coef[16 + c] && !coef[24 + c] && !coef[32 + c] && !coef[40 + c] && !coef[48 + c] && !coef[56 + c]) {
			const dc = d(0) * 2 ** pass1;
			for (let k = 0; k < 8; k++) ws[k * 8 + c] = dc;
			continue;
		}
		let z2 = d(2);
		let z3 = d(6);
		let z1 = (z2 + z3) * F_0_541;
		let tmp2 = z1 + z3 * -F_1_847;
		let tmp3 = z1 + z2 * F_0_765;
		z2 = d(0);
		z3 = d(4);
		let tmp0 = (z2 + z3) * 2 ** CB;
		let tmp1 = (z2 - z3) * 2 ** CB;
		const tmp10 = tmp0 + tmp3;
		const tmp13 = tmp0 - tmp3;
		const tmp11 = tmp1 + tmp2;
		const tmp12 = tmp1 - tmp2;
		tmp0 = d(7);
		tmp1 = d(5);
		tmp2 = d(3);
		tmp3 = d(1);
		z1 = tmp0 + tmp3;
		z2 = tmp1 + tmp2;
		z3 = tmp0 + tmp2;
		let z4 = tmp1 + tmp3;
		const z5 = (z3 + z4) * F_1_175;
		tmp0 *= F_0_298;
		tmp1 *= F_2_053;
		tmp2 *= F_3_072;
		tmp3 *= F_1_501;
		z1 *= -F_0_899;
		z2 *= -F_2_562;
		z3 *= -F_1_961;
		z4 *= -F_0_390;
		z3 += z5;
		z4 += z5;
		tmp0 += z1 + z3;
		tmp1 += z2 + z4;
		tmp2 += z2 + z3;
		tmp3 += z1 + z4;
		const n = CB - pass1;
		ws[c] = descale(tmp10 + tmp3, n);
		ws[56 + c] = descale(tmp10 - tmp3, n);
		ws[8 + c] = descale(tmp11 + tmp2, n);
		ws[48 + c] = descale(tmp11 - tmp2, n);
		ws[16 + c] = descale(tmp12 + tmp1, n);
		ws[40 + c] = descale(tmp12 - tmp1, n);
		ws[24 + c] = descale(tmp13 + tmp0, n);
		ws[32 + c] = descale(tmp13 - tmp0, n);
	}
	const n2 = CB + pass1 + 3;
	for (let r = 0; r < 8; r++) {
		const w = r * 8;
		const o = offset + r * stride;
		if (!ws[w + 1] && !ws[w + 2] && !ws[w + 3] && !ws[w + 4] && !ws[w + 5] && !ws[w + 6] && !ws[w + 7]) {
			const v = limit(descale(ws[w] ?? 0, pass1 + 3));
			for (let k = 0; k < 8; k++) out[o + k] = v;
			continue;
		}
		let z2 = ws[w + 2] ?? 0;
		let z3 = ws[w + 6] ?? 0;
		let z1 = (z2 + z3) * F_0_541;
		let tmp2 = z1 + z3 * -F_1_847;
		let tmp3 = z1 + z2 * F_0_765;
		let tmp0 = ((ws[w] ?? 0) + (ws[w + 4] ?? 0)) * 2 ** CB;
		let tmp1 = ((ws[w] ?? 0) - (ws[w + 4] ?? 0)) * 2 ** CB;
		const tmp10 = tmp0 + tmp3;
		const tmp13 = tmp0 - tmp3;
		const tmp11 = tmp1 + tmp2;
		const tmp12 = tmp1 - tmp2;
		tmp0 = ws[w + 7] ?? 0;
		tmp1 = ws[w + 5] ?? 0;
		tmp2 = ws[w + 3] ?? 0;
		tmp3 = ws[w + 1] ?? 0;
		z1 = tmp0 + tmp3;
		z2 = tmp1 + tmp2;
		z3 = tmp0 + tmp2;
		let z4 = tmp1 + tmp3;
		const z5 = (z3 + z4) * F_1_175;
		tmp0 *= F_0_298;
		tmp1 *= F_2_053;
		tmp2 *= F_3_072;
		tmp3 *= F_1_501;
		z1 *= -F_0_899;
		z2 *= -F_2_562;
		z3 *= -F_1_961;
		z4 *= -F_0_390;
		z3 += z5;
		z4 += z5;
		tmp0 += z1 + z3;
		tmp1 += z2 + z4;
		tmp2 += z2 + z3;
		tmp3 += z1 + z4;
		out[o] = limit(descale(tmp10 + tmp3, n2));
		out[o + 7] = limit(descale(tmp10 - tmp3, n2));
		out[o + 1] = limit(descale(tmp11 + tmp2, n2));
		out[o + 6] = limit(descale(tmp11 - tmp2, n2));
		out[o + 2] = limit(descale(tmp12 + tmp1, n2));
		out[o + 5] = limit(descale(tmp12 - tmp1, n2));
		out[o + 3] = limit(descale(tmp13 + tmp0, n2));
		out[o + 4] = limit(descale(tmp13 - tmp0, n2));
	}
}

/** Decodes a sequential-DCT Huffman JPEG (SOF0/SOF1) to interleaved samples, as IJG libjpeg would. */
export function decodeJpegDct(data: Uint8Array): DecodedJpeg {
	if (data[0] !== 0xff || data[1] !== 0xd8) throw new Error("not a JPEG codestream (no SOI)");
	const qt: Int32Array[] = [];
	const dcTables: Huffman[] = [];
	const acTables: Huffman[] = [];
	let components: Component[] = [];
	let width = 0;
	let height = 0;
	let precision = 8;
	let restartInterval = 0;
	let hmax = 1;
	let vmax = 1;
	let pos = 2;
	let scanned = false;
	let progressive = false;
	const u16 = (p: number): number => ((data[p] ?? 0) << 8) | (data[p + 1] ?? 0);
	while (pos + 4 <= data.length) {
		if (data[pos] !== 0xff) {
			pos++;
			continue;
		}
		const marker = data[pos + 1] ?? 0;
		if (marker === 0xff) {
			pos++;
			continue;
		}
		if (marker === 0xd9) break;
		if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
			pos += 2;
			continue;
		}
		const length = u16(pos + 2);
		const seg = pos + 4;
		const end = pos + 2 + length;
		switch (marker) {
			case 0xdb: {
				let p = seg;
				while (p < end) {
					const pq = (data[p] ?? 0) >> 4;
					const tq = (data[p] ?? 0) & 15;
					p++;
					const table = new Int32Array(64);
					for (let i = 0; i < 64; i++) {
						table[ZIGZAG[i] ?? 0] = pq ? u16(p + 2 * i) : (data[p + i] ?? 0);
					}
					p += pq ? 128 : 64;
					qt[tq] = table;
				}
				break;
			}
			case 0xc4: {
				let p = seg;
				while (p < end) {
					const tc = (data[p] ?? 0) >> 4;
					const th = (data[p] ?? 0) & 15;
					const counts = data.slice(p + 1, p + 17);
					const total = counts.reduce((a, b) => a + b, 0);
					const values = data.slice(p + 17, p + 17 + total);
					(tc === 0 ? dcTables : acTables)[th] = buildHuffman(counts, values);
					p += 17 + total;
				}
				break;
			}
			case 0xdd:
				restartInterval = u16(seg);
				break;
			case 0xc0:
			case 0xc1:
			case 0xc2: {
				progressive = marker === 0xc2;
				precision = data[seg] ?? 8;
				if (precision !== 8 && precision !== 12) throw new Error(`JPEG precision ${precision} is not 8 or 12`);
				height = u16(seg + 1);
				width = u16(seg + 3);
				const n = data[seg + 5] ?? 0;
				components = [];
				for (let i = 0; i < n; i++) {
					const b = seg + 6 + 3 * i;
					components.push({
						id: data[b] ?? 0,
						h: Math.max(1, (data[b + 1] ?? 0x11) >> 4),
						v: Math.max(1, (data[b + 1] ?? 0x11) & 15),
						tq: data[b + 2] ?? 0,
						td: 0,
						ta: 0,
						pred: 0,
						blocksPerLine: 0,
						blocksPerColumn: 0,
						out: new Uint16Array(0),
						coefs: new Int32Array(0),
						eobrun: 0,
					});
				}
				hmax = Math.max(...components.map((c) => c.h));
				vmax = Math.max(...components.map((c) => c.v));
				const mcusX = Math.ceil(width / (8 * hmax));
				const mcusY = Math.ceil(height / (8 * vmax));
				for (const c of components) {
					c.blocksPerLine = mcusX * c.h;
					c.blocksPerColumn = mcusY * c.v;
					c.out = new Uint16Array(c.blocksPerLine * 8 * c.blocksPerColumn * 8);
					if (progressive) c.coefs = new Int32Array(c.blocksPerLine * c.blocksPerColumn * 64);
				}
				break;
			}
			case 0xc3:
			case 0xc5:
			case 0xc6:
			case 0xc7:
			case 0xc9:
			case 0xca:
			case 0xcb:
			case 0xcd:
			case 0xce:
			case 0xcf:
				throw new Error(`JPEG process SOF${marker - 0xc0} is not supported`);
			case 0xda: {
				if (!components.length) throw new Error("JPEG scan before frame header");
				const ns = data[seg] ?? 0;
				const scanComps: Component[] = [];
				for (let i = 0; i < ns; i++) {
					const id = data[seg + 1 + 2 * i] ?? 0;
					const c = components.find((x) => x.id === id);
					if (!c) throw new Error("JPEG scan names an unknown component");
					c.td = (data[seg + 2 + 2 * i] ?? 0) >> 4;
					c.ta = (data[seg + 2 + 2 * i] ?? 0) & 15;
					c.pred = 0;
					scanComps.push(c);
				}
				const p = seg + 1 + 2 * ns;
				const spectral = { ss: data[p] ?? 0, se: data[p + 1] ?? 63, ah: (data[p + 2] ?? 0) >> 4, al: (data[p + 2] ?? 0) & 15 };
				pos = progressive
					? decodeProgressiveScan(data, end, scanComps, ns === 1, dcTables, acTables, restartInterval, width, height, hmax, vmax, spectral)
					: decodeScan(data, end, scanComps, ns === 1, qt, dcTables, acTables, restartInterval, precision, width, height, hmax, vmax);
				scanned = true;
				continue;
			}
			default:
				break;
		}
		pos = end;
	}
	if (!scanned) throw new Error("JPEG has no scan");
	if (progressive) {
		// All scans read: dequantize and transform every block, as libjpeg does after the last scan.
		const coef = new Float64Array(64);
		const ws = new Float64Array(64);
		for (const c of components) {
			const q = qt[c.tq];
			if (!q) throw new Error("JPEG component refers to a missing quantization table");
			const stride = c.blocksPerLine * 8;
			for (let by = 0; by < c.blocksPerColumn; by++) {
				for (let bx = 0; bx < c.blocksPerLine; bx++) {
					const o = (by * c.blocksPerLine + bx) * 64;
					for (let k = 0; k < 64; k++) coef[k] = c.coefs[o + k] as number;
					idctIslow(coef, q, c.out, by * 8 * stride + bx * 8, stride, precision, ws);
				}
			}
		}
	}
	const count = width * height;
	const samples = new Int32Array(count * components.length);
	components.forEach((c, ci) => {
		const stride = c.blocksPerLine * 8;
		const sx = c.h / hmax;
		const sy = c.v / vmax;
		const cw = Math.ceil((width * c.h) / hmax);
		const ch = Math.ceil((height * c.v) / vmax);
		if (hmax === 2 * c.h && (vmax === c.v || vmax === 2 * c.v) && cw > 2) {
			fancyUpsample(c.out, stride, cw, ch, vmax === 2 * c.v, samples, width, height, components.length, ci);
			return;
		}
		for (let y = 0; y < height; y++) {
			const row = Math.floor(y * sy) * stride;
			for (let x = 0; x < width; x++) samples[(y * width + x) * components.length + ci] = c.out[row + Math.floor(x * sx)] ?? 0;
		}
	});
	return { width, height, components: components.length, precision, samples };
}

/**
 * libjpeg's "fancy" (triangle filter) chroma upsampling, h2v1 and h2v2 (jdsample.c, the default in
 * IJG 6b and libjpeg-turbo): each output sample weighs the nearer input sample 3/4 and the farther
 * 1/4 (h2v2: in both directions), edges replicated, with libjpeg's rounding biases.
 */
function fancyUpsample(
	src: Uint16Array,
	stride: number,
	cw: number,
	ch: number,
	vertical: boolean,
	out: Int32Array,
	width: number,
	height: number,
	n: number,
	ci: number,
): void {
	const sums = new Int32Array(cw);
	for (let y = 0; y < height; y++) {
		const iy = vertical ? y >> 1 : y;
		const row = Math.min(iy, ch - 1) * stride;
		if (vertical) {
			const ny = Math.max(0, Math.min(ch - 1, y & 1 ? iy + 1 : iy - 1)) * stride;
			for (let i = 0; i < cw; i++) sums[i] = 3 * (src[row + i] as number) + (src[ny + i] as number);
		} else for (let i = 0; i < cw; i++) sums[i] = src[row + i] as number;
		const [bias0, bias1, shift] = vertical ? [8, 7, 4] : [1, 2, 2];
		const o = y * width;
		for (let i = 0; i < cw; i++) {
			const v = 3 * (sums[i] as number);
			const left = sums[i > 0 ? i - 1 : 0] as number;
			const right = sums[i + 1 < cw ? i + 1 : cw - 1] as number;
			const x = 2 * i;
			if (x < width) out[(o + x) * n + ci] = (v + left + bias0) >> shift;
			if (x + 1 < width) out[(o + x + 1) * n + ci] = (v + right + bias1) >> shift;
		}
	}
}

function decodeScan(
	data: Uint8Array,
	start: number,
	comps: Component[],
	single: boolean,
	qt: Int32Array[],
	dc: Huffman[],
	ac: Huffman[],
	restartInterval: number,
	precision: number,
	width: number,
	height: number,
	hmax: number,
	vmax: number,
): number {
	const reader = new BitReader(data, start);
	const coef = new Float64Array(64);
	const ws = new Float64Array(64);
	const decodeBlock = (c: Component, bx: number, by: number): void => {
		const dcT = dc[c.td];
		const acT = ac[c.ta];
		const q = qt[c.tq];
		if (!dcT || !acT || !q) throw new Error("JPEG scan refers to a missing table");
		coef.fill(0);
		const t = reader.decode(dcT);
		c.pred += extend(reader.get(t), t);
		coef[0] = c.pred;
		for (let k = 1; k < 64; ) {
			const rs = reader.decode(acT);
			const s = rs & 15;
			const r = rs >> 4;
			if (s === 0) {
				if (r !== 15) break;
				k += 16;
				continue;
			}
			k += r;
			if (k > 63) break;
			coef[ZIGZAG[k] ?? 0] = extend(reader.get(s), s);
			k++;
		}
		if (bx < c.blocksPerLine && by < c.blocksPerColumn) {
			const stride = c.blocksPerLine * 8;
			idctIslow(coef, q, c.out, by * 8 * stride + bx * 8, stride, precision, ws);
		}
	};
	let mcus: number;
	let perLine: number;
	const first = comps[0];
	if (!first) return start;
	if (single) {
		// A non-interleaved scan: one block per MCU over the component's own block grid.
		perLine = Math.ceil(Math.ceil((width * first.h) / hmax) / 8);
		mcus = perLine * Math.ceil(Math.ceil((height * first.v) / vmax) / 8);
	} else {
		perLine = Math.ceil(width / (8 * hmax));
		mcus = perLine * Math.ceil(height / (8 * vmax));
	}
	for (let m = 0; m < mcus; m++) {
		if (restartInterval && m > 0 && m % restartInterval === 0) {
			reader.restart();
			for (const c of comps) c.pred = 0;
		}
		const mx = m % perLine;
		const my = Math.floor(m / perLine);
		if (single) decodeBlock(first, mx, my);
		else for (const c of comps) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) decodeBlock(c, mx * c.h + h, my * c.v + v);
	}
	// Continue after the scan's entropy-coded data: find the next marker that is not RST/stuffing.
	let p = start;
	while (p + 1 < data.length && !(data[p] === 0xff && data[p + 1] !== 0 && !((data[p + 1] ?? 0) >= 0xd0 && (data[p + 1] ?? 0) <= 0xd7))) p++;
	return p;
}

/** Walks the MCUs of a scan (interleaved, or one block per MCU for a single component), with restarts. */
function forEachBlock(
	reader: BitReader,
	comps: Component[],
	single: boolean,
	restartInterval: number,
	width: number,
	height: number,
	hmax: number,
	vmax: number,
	onRestart: () => void,
	block: (c: Component, bx: number, by: number) => void,
): void {
	const first = comps[0];
	if (!first) return;
	let mcus: number;
	let perLine: number;
	if (single) {
		perLine = Math.ceil(Math.ceil((width * first.h) / hmax) / 8);
		mcus = perLine * Math.ceil(Math.ceil((height * first.v) / vmax) / 8);
	} else {
		perLine = Math.ceil(width / (8 * hmax));
		mcus = perLine * Math.ceil(height / (8 * vmax));
	}
	for (let m = 0; m < mcus; m++) {
		if (restartInterval && m > 0 && m % restartInterval === 0) {
			reader.restart();
			onRestart();
		}
		const mx = m % perLine;
		const my = Math.floor(m / perLine);
		if (single) block(first, mx, my);
		else for (const c of comps) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) block(c, mx * c.h + h, my * c.v + v);
	}
}

/**
 * One scan of a progressive JPEG (ITU T.81 G.1.2): DC first / refine, AC first / refine with
 * end-of-band runs, into the components' coefficient arrays. Returns the position after the scan.
 */
function decodeProgressiveScan(
	data: Uint8Array,
	start: number,
	comps: Component[],
	single: boolean,
	dc: Huffman[],
	ac: Huffman[],
	restartInterval: number,
	width: number,
	height: number,
	hmax: number,
	vmax: number,
	{ ss, se, ah, al }: { ss: number; se: number; ah: number; al: number },
): number {
	if (ss > se || se > 63 || (ss === 0 && se !== 0) || (ss > 0 && !single)) throw new Error("invalid progressive JPEG scan parameters");
	const reader = new BitReader(data, start);
	const p1 = 1 << al;
	const m1 = -1 << al;
	for (const c of comps) {
		c.pred = 0;
		c.eobrun = 0;
	}
	const refineCorrection = (c: Component, at: number): void => {
		const v = c.coefs[at] as number;
		if (reader.get(1) && (v & p1) === 0) c.coefs[at] = v + (v >= 0 ? p1 : m1);
	};
	const block = (c: Component, bx: number, by: number): void => {
		if (bx >= c.blocksPerLine || by >= c.blocksPerColumn) return;
		const o = (by * c.blocksPerLine + bx) * 64;
		if (ss === 0) {
			if (ah === 0) {
				const t = dc[c.td];
				if (!t) throw new Error("JPEG scan refers to a missing table");
				const s = reader.decode(t);
				c.pred += extend(reader.get(s), s);
				c.coefs[o] = c.pred * p1;
			} else if (reader.get(1)) c.coefs[o] = (c.coefs[o] as number) | p1;
			return;
		}
		const t = ac[c.ta];
		if (!t) throw new Error("JPEG scan refers to a missing table");
		if (ah === 0) {
			if (c.eobrun > 0) {
				c.eobrun--;
				return;
			}
			for (let k = ss; k <= se; k++) {
				const rs = reader.decode(t);
				const r = rs >> 4;
				const s = rs & 15;
				if (s === 0) {
					if (r < 15) {
						c.eobrun = (1 << r) - 1 + (r ? reader.get(r) : 0);
						break;
					}
					k += 15;
					continue;
				}
				k += r;
				if (k > 63) break;
				c.coefs[o + (ZIGZAG[k] as number)] = extend(reader.get(s), s) * p1;
			}
			return;
		}
		// AC refinement (G.1.2.3): correction bits for coefficients already non-zero, new ±1 values.
		let k = ss;
		if (c.eobrun === 0) {
			for (; k <= se; k++) {
				const rs = reader.decode(t);
				let r = rs >> 4;
				const s = rs & 15;
				let value = 0;
				if (s) {
					if (s !== 1) throw new Error("bad progressive JPEG refinement code");
					value = reader.get(1) ? p1 : m1;
				} else if (r !== 15) {
					c.eobrun = (1 << r) + (r ? reader.get(r) : 0);
					break;
				}
				while (k <= se) {
					const at = o + (ZIGZAG[k] as number);
					if (c.coefs[at] !== 0) refineCorrection(c, at);
					else {
						if (r === 0) break;
						r--;
					}
					k++;
				}
				if (value && k <= se) c.coefs[o + (ZIGZAG[k] as number)] = value;
			}
		}
		if (c.eobrun > 0) {
			for (; k <= se; k++) {
				const at = o + (ZIGZAG[k] as number);
				if (c.coefs[at] !== 0) refineCorrection(c, at);
			}
			c.eobrun--;
		}
	};
	forEachBlock(
		reader,
		comps,
		single,
		restartInterval,
		width,
		height,
		hmax,
		vmax,
		() => {
			for (const c of comps) {
				c.pred = 0;
				c.eobrun = 0;
			}
		},
		block,
	);
	let p = start;
	while (p + 1 < data.length && !(data[p] === 0xff && data[p + 1] !== 0 && !((data[p + 1] ?? 0) >= 0xd0 && (data[p + 1] ?? 0) <= 0xd7))) p++;
	return p;
}
