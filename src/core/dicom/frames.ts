import type * as dicomParser from "dicom-parser";
import type { PixelEncoding } from "./transferSyntax";
import { concatBytes } from "../util/bytes";

/** The bytes of one encapsulated fragment, clamped to what the file holds. */
function fragmentBytes(ds: dicomParser.DataSet, f: dicomParser.Fragment): Uint8Array {
	const bytes = ds.byteArray;
	const start = Math.min(f.position, bytes.length);
	const end = Math.min(f.position + f.length, bytes.length);
	return bytes.subarray(start, end);
}

/** True when a fragment starts a new codestream of the given encoding (SOI / SOC / JP2 signature). */
export function startsCodestream(b: Uint8Array, encoding: PixelEncoding): boolean {
	if (b.length < 4) return false;
	switch (encoding) {
		case "jpeg":
		case "jpegLossless":
		case "jpegLs":
			return b[0] === 0xff && b[1] === 0xd8;
		case "j2k":
		case "htj2k":
			// Raw codestream (SOC + SIZ) or a JP2 file (signature box).
			return (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) || (b.length >= 8 && b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20);
		default:
			return false;
	}
}

/**
 * The encoded bytes of the first frame of encapsulated pixel data: from the Basic Offset Table
 * when there is one; else all fragments for a single frame; else fragments up to the next one that
 * starts a codestream (or one fragment per frame when their count equals the frame count).
 */
export function firstEncapsulatedFrame(ds: dicomParser.DataSet, el: dicomParser.Element, frames: number, encoding: PixelEncoding): Uint8Array {
	const fragments = el.fragments ?? [];
	if (fragments.length === 0) throw new Error("encapsulated pixel data has no fragments");
	const bot = el.basicOffsetTable ?? [];
	if (bot.length > 0 && bot[0] === 0) {
		const endOffset = bot.length > 1 ? bot[1] : undefined;
		const parts: Uint8Array[] = [];
		for (const f of fragments) {
			if (endOffset !== undefined && f.offset >= endOffset) break;
			parts.push(fragmentBytes(ds, f));
		}
		if (parts.length) return concatBytes(parts);
	}
	if (frames <= 1) return concatBytes(fragments.map((f) => fragmentBytes(ds, f)));
	if (fragments.length === frames && fragments[0]) return fragmentBytes(ds, fragments[0]);
	const first = fragments[0];
	if (!first) throw new Error("encapsulated pixel data has no fragments");
	const parts = [fragmentBytes(ds, first)];
	for (let i = 1; i < fragments.length; i++) {
		const f = fragments[i];
		if (!f) break;
		const b = fragmentBytes(ds, f);
		if (startsCodestream(b, encoding)) break;
		parts.push(b);
	}
	return concatBytes(parts);
}
