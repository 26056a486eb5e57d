// The part of pako 1.0.11 (stock zlib's deflate in JavaScript) the byte benchmark uses; pako ships no types.
declare module "pako" {
	export function deflate(data: Uint8Array, options?: { level?: number; strategy?: number; windowBits?: number; memLevel?: number }): Uint8Array;
}
