/**
 * A JPEG Lossless (process 14, SOF3) encoder for tests, following T.81 Annex H: all seven predictors,
 * 2–16 bit, 1 or more components, interleaved or one scan per component, point transform, restart
 * intervals of whole lines.
 */

/** Huffman code lengths for the 17 difference categories (a valid prefix code, no all-ones code). */
const COUNTS = [0, 1, 3, 3, 3, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0];
const SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/** Canonical Huffman codes (T.81 Annex C): category → [code, length]. */
function canonicalCodes(): Map<number, [number, number]> {
	const codes = new Map<number, [number, number]>();
	let code = 0;
	let k = 0;
	for (let len = 1; len <= 16; len++) {
		for (let i = 0; i < (COUNTS[len - 1] ?? 0); i++) codes.set(SYMBOLS[k++] ?? 0, [code++, len]);
		code <<= 1;
	}
	return codes;
}

class BitWriter {
	readonly bytes: number[] = [];
	private acc = 0;
	private n = 0;
	put(value: number, length: number): void {
		for (let b = length - 1; b >= 0; b--) {
			this.acc = (this.acc << 1) | ((value >> b) & 1);
			if (++this.n === 8) this.flushByte();
		}
	}
	private flushByte(): void {
		this.bytes.push(this.acc);
		if (this.acc === 0xff) this.bytes.push(0);
		this.acc = 0;
		this.n = 0;
	}
	/** Pads with 1-bits to a byte boundary. */
	align(): void {
		while (this.n !== 0) this.put(1, 1);
	}
}

function predict(sel: number, ra: number, rb: number, rc: number): number {
	switch (sel) {
		case 1:
			return ra;
		case 2:
			return rb;
		case 3:
			return rc;
		case 4:
			return ra + rb - rc;
		case 5:
			return ra + ((rb - rc) >> 1);
		case 6:
			return rb + ((ra - rc) >> 1);
		default:
			return (ra + rb) >> 1;
	}
}

export interface EncodeOptions {
	width: number;
	height: number;
	components: number;
	precision: number;
	predictor: number;
	pointTransform?: number;
	/** Restart interval in whole lines (0: none). */
	restartLines?: number;
	/** One scan per component instead of one interleaved scan. */
	separateScans?: boolean;
}

/** Writes a JPEG Lossless codestream of interleaved samples. */
export function encodeLosslessJpeg(samples: number[], o: EncodeOptions): Uint8Array {
	const { width, height, components: nc, precision, predictor } = o;
	const pt = o.pointTransform ?? 0;
	const restartLines = o.restartLines ?? 0;
	const codes = canonicalCodes();
	const v = samples.map((s) => s >> pt);
	const bytes: number[] = [0xff, 0xd8];
	const segment = (marker: number, body: number[]): void => {
		bytes.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
	};
	const sof = [precision, height >> 8, height & 0xff, width >> 8, width & 0xff, nc];
	for (let c = 0; c < nc; c++) sof.push(c + 1, 0x11, 0);
	segment(0xc3, sof);
	segment(0xc4, [0x00, ...COUNTS, ...SYMBOLS]);
	if (restartLines) segment(0xdd, [(restartLines * width) >> 8, (restartLines * width) & 0xff]);
	const scans = o.separateScans ? Array.from({ length: nc }, (_, c) => [c]) : [Array.from({ length: nc }, (_, c) => c)];
	for (const scan of scans) {
		const sos = [scan.length];
		for (const c of scan) sos.push(c + 1, 0x00);
		sos.push(predictor, 0, pt);
		segment(0xda, sos);
		const w = new BitWriter();
		let rst = 0;
		for (let y = 0; y < height; y++) {
			const first = restartLines ? y % restartLines === 0 : y === 0;
			if (first && y > 0) {
				w.align();
				w.bytes.push(0xff, 0xd0 + (rst++ % 8));
			}
			for (let x = 0; x < width; x++) {
				for (const c of scan) {
					const at = (xx: number, yy: number): number => v[(yy * width + xx) * nc + c] ?? 0;
					let px: number;
					if (first) px = x === 0 ? 1 << (precision - pt - 1) : at(x - 1, y);
					else if (x === 0) px = at(x, y - 1);
					else px = predict(predictor, at(x - 1, y), at(x, y - 1), at(x - 1, y - 1));
					let d = (at(x, y) - px) & 0xffff;
					if (d > 32768) d -= 65536;
					const t = d === 0 ? 0 : Math.abs(d).toString(2).length;
					const [code, len] = codes.get(t) ?? [0, 0];
					w.put(code, len);
					if (t > 0 && t < 16) w.put(d > 0 ? d : d + (1 << t) - 1, t);
				}
			}
		}
		w.align();
		bytes.push(...w.bytes);
	}
	bytes.push(0xff, 0xd9);
	return Uint8Array.from(bytes);
}

