import { jpegFrameHeader } from "./codestream";
import { ConvertError } from "./convertError";
import { decodeLosslessJpeg } from "./losslessJpeg";

/** A decoded JPEG frame: interleaved samples. */
export interface DecodedJpeg {
	width: number;
	height: number;
	components: number;
	precision: number;
	samples: Uint8Array | Uint16Array | Int32Array;
}

interface LosslessDecoder {
	decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
	frame: { dimX: number; dimY: number };
	numComp: number;
	precision: number;
}

let ctor: (new () => LosslessDecoder) | undefined;

/**
 * Decodes a JPEG Lossless (process 14) codestream with our own decoder (losslessJpeg.ts), or with
 * jpeg-lossless-decoder-js when ours refuses or fails.
 */
export function decodeJpegLossless(frame: Uint8Array, bitsAllocated: number): DecodedJpeg {
	try {
		return decodeLosslessJpeg(frame);
	} catch (e) {
		// The library ignores sampling factors and decodes only SOF3: for those it returns a picture
		// of the right size made of wrong values. Refuse them with a reason instead.
		const sof = jpegFrameHeader(frame);
		if (sof && sof.marker !== 0xc3) throw new ConvertError("decode", `lossless JPEG process SOF${sof.marker - 0xc0} (differential or arithmetic) is not supported`);
		if (sof && sof.sampling.some((c) => c.h !== 1 || c.v !== 1)) {
			throw new ConvertError("decode", `lossless JPEG with subsampled components (${sof.sampling.map((c) => `${c.h}×${c.v}`).join(", ")}) is not supported`);
		}
		try {
			return decodeWithLibrary(frame, bitsAllocated);
		} catch (_) {
			throw e; // our decoder's reason is the clearer one
		}
	}
}

/** Decodes a JPEG Lossless codestream with jpeg-lossless-decoder-js. */
export function decodeWithLibrary(frame: Uint8Array, bitsAllocated: number): DecodedJpeg {
	if (!ctor) {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const mod = require("jpeg-lossless-decoder-js") as { Decoder: new () => LosslessDecoder };
		ctor = mod.Decoder;
	}
	const decoder = new ctor();
	const copy = new Uint8Array(frame); // a copy with its own buffer (Buffer#slice would not copy)
	const samples = decoder.decode(copy.buffer, 0, copy.byteLength, bitsAllocated > 8 ? 2 : 1);
	return { width: decoder.frame.dimX, height: decoder.frame.dimY, components: decoder.numComp, precision: decoder.precision, samples };
}
