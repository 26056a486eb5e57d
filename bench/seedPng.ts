/**
 * The seed's PNG bytes, emulated for the byte benchmark: what `Image.fromarray(a).convert("RGB")
 * .save(buf, "PNG")` writes with Pillow 9.4 defaults (src/libImaging/ZipEncode.c, PngImagePlugin):
 * - per row, Pillow's own filter choice: None, then Up, then Sub, then Paeth, each taken only when
 *   its sum of absolute (signed) filtered bytes is strictly smaller, stopping at a sum of 0 (Average
 *   is tried only with `optimize`, which the seed does not set);
 * - zlib at Z_DEFAULT_COMPRESSION (level 6), strategy Z_FILTERED, windowBits 15, memLevel 9;
 * - IDAT chunks of at most 65,536 bytes (ImageFile.MAXBLOCK), no other chunk than IHDR and IEND.
 * Deflate is pako 1.0.11, a port of stock zlib 1.2.x that gives byte for byte the stream of the
 * system zlib (1.2.13) Pillow links — not Node's zlib, a Chromium fork that compresses the same data
 * about 7 % smaller at level 6 and would flatter the seed. Checked in the bytes bench on the shared
 * files, whose reference PNGs are the seed's real output (identical IDAT on all 50).
 * Only for benchmarks: never used to send anything.
 */
import { deflate } from "pako";

function signedCost(v: number): number {
	return v < 128 ? v : 256 - v;
}

/** Pillow's filtered scanlines for interleaved RGB (bpp 3). */
export function pillowFilter(rgb: Uint8Array, width: number, height: number): Uint8Array {
	const stride = width * 3;
	const out = new Uint8Array(height * (stride + 1));
	const up = new Uint8Array(stride);
	const sub = new Uint8Array(stride);
	const pae = new Uint8Array(stride);
	const zero = new Uint8Array(stride);
	for (let y = 0; y < height; y++) {
		const cur = rgb.subarray(y * stride, (y + 1) * stride);
		const prev = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : zero;
		let best: Uint8Array = cur;
		let type = 0;
		let sum = 0;
		for (let i = 0; i < stride; i++) sum += signedCost(cur[i] as number);
		if (sum > 0) {
			let s = 0;
			for (let i = 0; i < stride; i++) {
				const v = ((cur[i] as number) - (prev[i] as number)) & 0xff;
				up[i] = v;
				s += signedCost(v);
			}
			if (s < sum) {
				best = up;
				type = 2;
				sum = s;
			}
		}
		if (sum > 0) {
			let s = 0;
			for (let i = 0; i < stride; i++) {
				const v = i < 3 ? (cur[i] as number) : ((cur[i] as number) - (cur[i - 3] as number)) & 0xff;
				sub[i] = v;
				s += signedCost(v);
			}
			if (s < sum) {
				best = sub;
				type = 1;
				sum = s;
			}
		}
		if (sum > 0) {
			let s = 0;
			for (let i = 0; i < stride; i++) {
				let v: number;
				if (i < 3) v = ((cur[i] as number) - (prev[i] as number)) & 0xff;
				else {
					const a = cur[i - 3] as number;
					const b = prev[i] as number;
					const c = prev[i - 3] as number;
					const pa = Math.abs(b - c);
					const pb = Math.abs(a - c);
					const pc = Math.abs(a + b - 2 * c);
					v = ((cur[i] as number) - (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
				}
				pae[i] = v;
				s += signedCost(v);
			}
			if (s < sum) {
				best = pae;
				type = 4;
			}
		}
		const o = y * (stride + 1);
		out[o] = type;
		out.set(best, o + 1);
	}
	return out;
}

/** The seed's zlib stream (IDAT data) for an RGB image: Pillow's filters, stock zlib level 6, Z_FILTERED. */
export function seedIdat(rgb: Uint8Array, width: number, height: number): Uint8Array {
	return deflate(pillowFilter(rgb, width, height), { level: 6, strategy: 1 /* Z_FILTERED */, windowBits: 15, memLevel: 9 });
}

/** Size in bytes of the PNG Pillow 9.4 writes for this RGB (or gray, replicated) image by default. */
export function seedPngBytes(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): number {
	let rgb = pixels;
	if (channels === 1) {
		rgb = new Uint8Array(width * height * 3);
		for (let i = 0, o = 0; i < pixels.length; i++, o += 3) {
			const v = pixels[i] as number;
			rgb[o] = v;
			rgb[o + 1] = v;
			rgb[o + 2] = v;
		}
	}
	const idat = seedIdat(rgb, width, height);
	const chunks = Math.max(1, Math.ceil(idat.length / 65536));
	return 8 + 25 + idat.length + 12 * chunks + 12;
}

/**
 * Bytes of the seed's request body for PNGs of these sizes: Python's `json.dumps` of the contract
 * (default separators ", " and ": "), base64 in the image cells, empty texts.
 */
export function seedRequestBytes(pngByteLengths: readonly number[]): number {
	// {"input_data": {"columns": ["image", "text"], "index": [0, 1], "data": [["<b64>", ""], ["<b64>", ""]]}, "params": {}}
	const fixed = '{"input_data": {"columns": ["image", "text"], "index": [], "data": []}, "params": {}}'.length;
	let n = fixed;
	pngByteLengths.forEach((b, i) => {
		n += String(i).length + 4 * Math.ceil(b / 3) + '["", ""]'.length;
		if (i > 0) n += 4; // ", " in "index" and in "data"
	});
	return n;
}
