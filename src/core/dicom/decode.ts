import { windowToUint8 } from "../imaging/window";
import { parseDicomBytes, type ParsedDicom } from "./parse";
import { decodeFirstFrame, type FrameValues } from "./pixels";

/** The 8-bit picture right before PNG encoding (gray stays one channel). */
export interface Uint8Image {
	data: Uint8Array;
	width: number;
	height: number;
	channels: 1 | 3;
}

/** Windows decoded frame values to the seed-exact uint8 array. */
export function windowFrame(frame: FrameValues): Uint8Image {
	return { data: windowToUint8(frame.values), width: frame.width, height: frame.height, channels: frame.channels };
}

/** Parses, decodes the first frame and windows it: the uint8 array the reference turns into a PNG. Throws on failure. */
export async function decodeToUint8(bytes: Uint8Array, maxPixels = 64_000_000): Promise<Uint8Image> {
	const parsed: ParsedDicom = parseDicomBytes(bytes);
	return windowFrame(await decodeFirstFrame(parsed, maxPixels));
}
