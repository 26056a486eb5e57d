/**
 * A minimal JPEG encoder for tests (Huffman DCT, 8 or 12 bit): sequential (SOF0/SOF1) and
 * progressive (SOF2) with spectral selection only or with successive approximation, any sampling
 * factors, no colour conversion (the caller gives the component planes, e.g. Y, Cb, Cr). Written
 * from ITU T.81 (Annex F and G) so that tests can make the codestreams the product must decode and
 * know their coefficients: a block that is constant has only a DC coefficient, 8·(v − 2^(P−1)),
 * which every IDCT turns back into v exactly.
 */

/** Zigzag index → natural (row-major) index. */
export const ZIGZAG = [
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
	30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

export interface TestJpegComponent {
	/** Sampling factors (1..4). */
	h: number;
	v: number;
	/** Samples at the component's own resolution: ceil(width·h/hmax) × ceil(height·v/vmax), row-major. */
	samples: ArrayLike<number>;
}

export type TestJpegMode = "sequential" | "spectral" | "progressive";

export interface TestJpegSpec {
	width: number;
	height: number;
	precision: 8 | 12;
	components: TestJpegComponent[];
	mode: TestJpegMode;
	/** Quantization table in natural order (default all 1). */
	quant?: ArrayLike<number>;
	/** SOF marker for sequential mode (default 0xc0 for 8 bit, 0xc1 for 12 bit). */
	sof?: number;
	/** MCUs between restart markers (DRI); 0 = none. */
	restartInterval?: number;
}

export interface TestJpeg {
	codestream: Uint8Array;
	/** Per component: quantized coefficients of every block of the MCU-padded grid (64 per block, natural order). */
	coefficients: Int32Array[];
	/** Per component: blocks per line and per column of that grid. */
	grid: { blocksPerLine: number; blocksPerColumn: number }[];
	quant: Int32Array;
}

class BitWriter {
	private bytes: number[] = [];
	private acc = 0;
	private n = 0;

	bits(value: number, length: number): void {
		for (let i = length - 1; i >= 0; i--) {
			this.acc = (this.acc << 1) | ((value >> i) & 1);
			this.n++;
			if (this.n === 8) {
				this.bytes.push(this.acc);
				if (this.acc === 0xff) this.bytes.push(0);
				this.acc = 0;
				this.n = 0;
			}
		}
	}

	/** Pads to a byte boundary with 1 bits and writes restart marker RSTn. */
	restart(n: number): void {
		if (this.n > 0) this.bits(0x7f, 8 - this.n);
		this.bytes.push(0xff, 0xd0 + (n & 7));
	}

	/** Pads the last byte with 1 bits and returns the entropy-coded bytes. */
	finish(): number[] {
		if (this.n > 0) this.bits(0x7f, 8 - this.n);
		return this.bytes;
	}
}

/** A table for every symbol 0–255 (AC) or 0–15 (DC): canonical codes as in T.81 Annex C. */
function table(dc: boolean): { counts: number[]; values: number[]; code: Map<number, [number, number]> } {
	const counts = new Array<number>(16).fill(0);
	const values: number[] = [];
	if (dc) {
		counts[3] = 15; // symbols 0..14, 4 bits (1111 is not allowed as a complete code)
		counts[4] = 1; // symbol 15, 5 bits
		for (let i = 0; i < 16; i++) values.push(i);
	} else {
		counts[7] = 255; // symbols 0..254, 8 bits
		counts[8] = 1; // symbol 255, 9 bits
		for (let i = 0; i < 256; i++) values.push(i);
	}
	const code = new Map<number, [number, number]>();
	let c = 0;
	let k = 0;
	for (let len = 1; len <= 16; len++) {
		for (let i = 0; i < (counts[len - 1] ?? 0); i++) code.set(values[k++] ?? 0, [c++, len]);
		c <<= 1;
	}
	return { counts, values, code };
}

const DC = table(true);
const AC = table(false);

function bitLength(v: number): number {
	let a = Math.abs(v);
	let n = 0;
	while (a) {
		n++;
		a >>= 1;
	}
	return n;
}

/** The float forward DCT of one 8×8 block (level-shifted samples), T.81 A.3.3. */
function fdct(block: number[]): number[] {
	const out = new Array<number>(64).fill(0);
	for (let v = 0; v < 8; v++) {
		for (let u = 0; u < 8; u++) {
			let sum = 0;
			for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) sum += (block[y * 8 + x] ?? 0) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * Math.cos(((2 * y + 1) * v * Math.PI) / 16);
			const cu = u === 0 ? Math.SQRT1_2 : 1;
			const cv = v === 0 ? Math.SQRT1_2 : 1;
			out[v * 8 + u] = (cu * cv * sum) / 4;
		}
	}
	return out;
}

/** The exact (float) inverse DCT of one block of dequantized coefficients, before level shift and rounding. */
export function idctFloat(coef: ArrayLike<number>): number[] {
	const out = new Array<number>(64).fill(0);
	for (let y = 0; y < 8; y++) {
		for (let x = 0; x < 8; x++) {
			let sum = 0;
			for (let v = 0; v < 8; v++) {
				for (let u = 0; u < 8; u++) {
					const cu = u === 0 ? Math.SQRT1_2 : 1;
					const cv = v === 0 ? Math.SQRT1_2 : 1;
					sum += cu * cv * (coef[v * 8 + u] ?? 0) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * Math.cos(((2 * y + 1) * v * Math.PI) / 16);
				}
			}
			out[y * 8 + x] = sum / 4;
		}
	}
	return out;
}

interface Scan {
	comps: number[];
	ss: number;
	se: number;
	ah: number;
	al: number;
}

function scripts(mode: TestJpegMode, n: number): Scan[] {
	const all = Array.from({ length: n }, (_, i) => i);
	if (mode === "sequential") return [{ comps: all, ss: 0, se: 63, ah: 0, al: 0 }];
	const per = (f: (c: number) => Scan[]): Scan[] => all.flatMap(f);
	if (mode === "spectral") {
		return [{ comps: all, ss: 0, se: 0, ah: 0, al: 0 }, ...per((c) => [{ comps: [c], ss: 1, se: 5, ah: 0, al: 0 }]), ...per((c) => [{ comps: [c], ss: 6, se: 63, ah: 0, al: 0 }])];
	}
	return [
		{ comps: all, ss: 0, se: 0, ah: 0, al: 1 },
		...per((c) => [
			{ comps: [c], ss: 1, se: 5, ah: 0, al: 2 },
			{ comps: [c], ss: 6, se: 63, ah: 0, al: 2 },
		]),
		...per((c) => [{ comps: [c], ss: 1, se: 63, ah: 2, al: 1 }]),
		{ comps: all, ss: 0, se: 0, ah: 1, al: 0 },
		...per((c) => [{ comps: [c], ss: 1, se: 63, ah: 1, al: 0 }]),
	];
}

/** Encodes a test JPEG; see TestJpegSpec. */
export function encodeTestJpeg(spec: TestJpegSpec): TestJpeg {
	const { width, height, precision, components } = spec;
	const center = 1 << (precision - 1);
	const quant = Int32Array.from(spec.quant ?? new Array<number>(64).fill(1));
	const hmax = Math.max(...components.map((c) => c.h));
	const vmax = Math.max(...components.map((c) => c.v));
	const mcusX = Math.ceil(width / (8 * hmax));
	const mcusY = Math.ceil(height / (8 * vmax));
	const grid = components.map((c) => ({ blocksPerLine: mcusX * c.h, blocksPerColumn: mcusY * c.v }));
	// Forward DCT of every block (edge samples replicated into the padding), quantized.
	const coefficients = components.map((c, ci) => {
		const w = Math.ceil((width * c.h) / hmax);
		const h = Math.ceil((height * c.v) / vmax);
		const g = grid[ci] as { blocksPerLine: number; blocksPerColumn: number };
		const out = new Int32Array(g.blocksPerLine * g.blocksPerColumn * 64);
		for (let by = 0; by < g.blocksPerColumn; by++) {
			for (let bx = 0; bx < g.blocksPerLine; bx++) {
				const block: number[] = [];
				for (let y = 0; y < 8; y++) {
					for (let x = 0; x < 8; x++) {
						const sx = Math.min(w - 1, bx * 8 + x);
						const sy = Math.min(h - 1, by * 8 + y);
						block.push((c.samples[sy * w + sx] ?? 0) - center);
					}
				}
				const f = fdct(block);
				const o = (by * g.blocksPerLine + bx) * 64;
				for (let k = 0; k < 64; k++) out[o + k] = Math.round((f[k] ?? 0) / (quant[k] ?? 1));
			}
		}
		return out;
	});

	const bytes: number[] = [0xff, 0xd8];
	const segment = (marker: number, body: number[]): void => {
		bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
	};
	const q16 = Array.from(quant).some((v) => v > 255);
	segment(0xdb, [q16 ? 0x10 : 0x00, ...ZIGZAG.flatMap((z) => (q16 ? [(quant[z] ?? 1) >> 8, (quant[z] ?? 1) & 0xff] : [quant[z] ?? 1]))]);
	const sof = spec.mode === "sequential" ? (spec.sof ?? (precision === 8 ? 0xc0 : 0xc1)) : 0xc2;
	segment(sof, [precision, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length, ...components.flatMap((c, i) => [i + 1, (c.h << 4) | c.v, 0])]);
	segment(0xc4, [0x00, ...DC.counts, ...DC.values, 0x10, ...AC.counts, ...AC.values]);
	const ri = spec.restartInterval ?? 0;
	if (ri > 0) segment(0xdd, [ri >> 8, ri & 0xff]);

	for (const scan of scripts(spec.mode, components.length)) {
		segment(0xda, [scan.comps.length, ...scan.comps.flatMap((c) => [c + 1, 0x00]), scan.ss, scan.se, (scan.ah << 4) | scan.al]);
		bytes.push(...encodeScan(scan, components, coefficients, grid, width, height, hmax, vmax, ri));
	}
	bytes.push(0xff, 0xd9);
	return { codestream: Uint8Array.from(bytes), coefficients, grid, quant };
}

function encodeScan(
	scan: Scan,
	components: TestJpegComponent[],
	coefficients: Int32Array[],
	grid: { blocksPerLine: number; blocksPerColumn: number }[],
	width: number,
	height: number,
	hmax: number,
	vmax: number,
	restartInterval: number,
): number[] {
	const w = new BitWriter();
	let mcu = 0;
	let restarts = 0;
	/** Called before each MCU: every restartInterval MCUs, close the interval (T.81 F.1.2.3 / G.1.2). */
	const nextMcu = (): void => {
		if (restartInterval > 0 && mcu > 0 && mcu % restartInterval === 0) {
			flushEob();
			w.restart(restarts++);
			preds.fill(0);
		}
		mcu++;
	};
	const sym = (t: typeof DC, s: number): void => {
		const c = t.code.get(s);
		if (!c) throw new Error(`no Huffman code for symbol ${s}`);
		w.bits(c[0], c[1]);
	};
	const value = (v: number): void => {
		const n = bitLength(v);
		if (n) w.bits(v < 0 ? v + (1 << n) - 1 : v, n);
	};
	const { ss, se, ah, al } = scan;
	const preds = components.map(() => 0);
	let eobrun = 0;
	let pending: number[] = []; // refinement correction bits waiting for the end-of-band run
	const flushEob = (): void => {
		if (eobrun > 0) {
			const n = bitLength(eobrun) - 1;
			sym(AC, n << 4);
			if (n) w.bits(eobrun & ((1 << n) - 1), n);
			eobrun = 0;
		}
		for (const b of pending) w.bits(b, 1);
		pending = [];
	};
	const block = (ci: number, bx: number, by: number): void => {
		const g = grid[ci] as { blocksPerLine: number };
		const coef = (coefficients[ci] as Int32Array).subarray((by * g.blocksPerLine + bx) * 64, (by * g.blocksPerLine + bx) * 64 + 64);
		const at = (k: number): number => coef[ZIGZAG[k] ?? 0] ?? 0;
		if (ss === 0) {
			if (ah === 0) {
				const dc = (coef[0] ?? 0) >> al;
				const diff = dc - (preds[ci] ?? 0);
				preds[ci] = dc;
				sym(DC, bitLength(diff));
				value(diff);
			} else w.bits(((coef[0] ?? 0) >> al) & 1, 1);
			if (se === 0) return;
		}
		const from = Math.max(ss, 1);
		if (ah === 0) {
			// Sequential AC, or a progressive first AC scan with end-of-band runs.
			let r = 0;
			for (let k = from; k <= se; k++) {
				const c = at(k);
				const mag = Math.abs(c) >> al;
				if (mag === 0) {
					r++;
					continue;
				}
				const v = c < 0 ? -mag : mag;
				flushEob();
				while (r > 15) {
					sym(AC, 0xf0);
					r -= 16;
				}
				sym(AC, (r << 4) | bitLength(v));
				value(v);
				r = 0;
			}
			if (r > 0) {
				if (scan.ss === 0) sym(AC, 0x00); // sequential EOB
				else {
					eobrun++;
					if (eobrun === 0x7fff) flushEob();
				}
			}
			return;
		}
		// Progressive AC refinement (G.1.2.3).
		const abs: number[] = [];
		let eob = 0;
		for (let k = ss; k <= se; k++) {
			abs[k] = Math.abs(at(k)) >> al;
			if (abs[k] === 1) eob = k;
		}
		let r = 0;
		let corrections: number[] = [];
		for (let k = ss; k <= se; k++) {
			const a = abs[k] ?? 0;
			if (a === 0) {
				r++;
				continue;
			}
			while (r > 15 && k <= eob) {
				flushEob();
				sym(AC, 0xf0);
				r -= 16;
				for (const b of corrections) w.bits(b, 1);
				corrections = [];
			}
			if (a > 1) {
				corrections.push(a & 1);
				continue;
			}
			flushEob();
			sym(AC, (r << 4) | 1);
			w.bits(at(k) < 0 ? 0 : 1, 1);
			for (const b of corrections) w.bits(b, 1);
			corrections = [];
			r = 0;
		}
		if (r > 0 || corrections.length > 0) {
			eobrun++;
			pending.push(...corrections);
			if (eobrun === 0x7fff || pending.length > 937) flushEob();
		}
	};
	const single = scan.comps.length === 1;
	if (single) {
		const ci = scan.comps[0] ?? 0;
		const c = components[ci] as TestJpegComponent;
		const perLine = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
		const lines = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
		for (let by = 0; by < lines; by++) {
			for (let bx = 0; bx < perLine; bx++) {
				nextMcu();
				block(ci, bx, by);
			}
		}
	} else {
		const mcusX = Math.ceil(width / (8 * hmax));
		const mcusY = Math.ceil(height / (8 * vmax));
		for (let my = 0; my < mcusY; my++) {
			for (let mx = 0; mx < mcusX; mx++) {
				nextMcu();
				for (const ci of scan.comps) {
					const c = components[ci] as TestJpegComponent;
					for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) block(ci, mx * c.h + h, my * c.v + v);
				}
			}
		}
	}
	flushEob();
	return w.finish();
}
