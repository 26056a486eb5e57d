import type { DecodedJpeg } from "./jpegLossless";

/** Decodes a 12-bit JPEG (extended, DCT) codestream. */
export function decodeJpegDct(_frame: Uint8Array): DecodedJpeg {
	throw new Error("12-bit JPEG Extended is not supported yet");
}
