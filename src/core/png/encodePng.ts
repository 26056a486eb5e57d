import { PNG } from "pngjs";

/** PNG filter used for every row: 2 = Up (as fast as Sub and None at zlib level 1, smaller output; see bench/convert.bench.ts). */
export const PNG_FILTER = 2;

/**
 * Encodes 8-bit pixels as an 8-bit RGB PNG. Gray input (1 channel) is replicated to three equal
 * channels, as the reference does. `level` is the zlib level (0–9); it changes size and speed, never
 * pixels.
 */
export function encodeRgbPng(data: Uint8Array, width: number, height: number, channels: 1 | 3, level = 6, filter: number = PNG_FILTER): Uint8Array {
	const pixels = width * height;
	if (data.length !== pixels * channels) throw new Error(`PNG input has ${data.length} bytes, expected ${pixels * channels}`);
	let rgb: Buffer;
	if (channels === 3) {
		rgb = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
	} else {
		rgb = Buffer.allocUnsafe(pixels * 3);
		for (let i = 0, o = 0; i < pixels; i++, o += 3) {
			const v = data[i] ?? 0;
			rgb[o] = v;
			rgb[o + 1] = v;
			rgb[o + 2] = v;
		}
	}
	const png = PNG.sync.write(
		{ width, height, data: rgb } as unknown as PNG,
		{ colorType: 2, inputColorType: 2, inputHasAlpha: false, bitDepth: 8, deflateLevel: Math.max(0, Math.min(9, Math.round(level))), deflateStrategy: 0, filterType: filter },
	);
	// Own the whole ArrayBuffer, so the caller may transfer it to another thread: small Buffers live
	// in Node's shared pool, and transferring that would detach every other Buffer in it.
	if (png.byteOffset === 0 && png.byteLength === png.buffer.byteLength) return new Uint8Array(png.buffer);
	return new Uint8Array(png);
}
