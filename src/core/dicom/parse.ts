import * as zlib from "node:zlib";
import * as dicomParser from "dicom-parser";
import { ConvertError, errorText } from "./convertError";
import { checkElementCount } from "./elementCount";
import { TS } from "./transferSyntax";

/** A parsed data set with what the decoder needs to know about how it was read. */
export interface ParsedDicom {
	dataSet: dicomParser.DataSet;
	transferSyntaxUid: string;
	/** Problems that did not stop parsing (truncation, missing preamble, ...). */
	warnings: string[];
	/** True when the file ended before the data set did. */
	truncated: boolean;
	/** Bytes put before the input (a "DICM" prefix for a file starting with its file meta): offsets in dataSet minus this are file offsets. */
	prepended?: number;
}

const VRS = new Set([
	"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
	"PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
]);

/** True when the two bytes at `offset` spell a DICOM VR. */
export function isVr(bytes: Uint8Array, offset: number): boolean {
	if (offset + 2 > bytes.length) return false;
	return VRS.has(String.fromCharCode(bytes[offset] ?? 0, bytes[offset + 1] ?? 0));
}

/** How a data set without preamble starts: file meta (group 0002) or a bare data set in some encoding. */
export type BareStart = "meta" | "explicitLE" | "implicitLE" | "explicitBE" | undefined;

/**
 * Recognises a data set that starts at byte 0 (no 128-byte preamble): a file meta group, or a
 * plausible first element of group 0008 (or another low even group) in explicit LE, implicit LE or
 * explicit BE.
 */
export function detectBareStart(bytes: Uint8Array): BareStart {
	if (bytes.length < 8) return undefined;
	const b = (i: number): number => bytes[i] ?? 0;
	const groupLE = b(0) | (b(1) << 8);
	const elementLE = b(2) | (b(3) << 8);
	const groupBE = (b(0) << 8) | b(1);
	if (groupLE === 0x0002 && isVr(bytes, 4)) return "meta";
	const plausibleGroup = (g: number): boolean => g === 0x0008 || g === 0x0002 || g === 0x0010 || g === 0x0018 || g === 0x0020 || g === 0x0028;
	if (plausibleGroup(groupLE) && isVr(bytes, 4)) return "explicitLE";
	if (plausibleGroup(groupBE) && groupBE !== 0x0002 && isVr(bytes, 4)) return "explicitBE";
	if (plausibleGroup(groupLE)) {
		// Implicit VR: a 32-bit length that fits in the file, and a small element number.
		const length = (b(4) | (b(5) << 8) | (b(6) << 16)) + b(7) * 0x1000000;
		if (elementLE < 0x1000 && (length === 0xffffffff || length <= bytes.length + 1024 * 1024)) return "implicitLE";
	}
	return undefined;
}

/** Parse settings (all optional). */
export interface ParseOptions {
	/** Stop after the header of this element (e.g. "x7fe00010"): its value is not read. */
	untilTag?: string;
	/**
	 * A deflated data set may inflate to at most this many bytes whatever its header declares
	 * (refused otherwise); default: no cap beyond the header-derived limit.
	 */
	maxInflatedBytes?: number;
	/** Leave a deflated data set deflated (only the file meta is parsed; for header sniffing). */
	skipInflate?: boolean;
}

/** Inflated header bytes looked at, at most, to find the image size before inflating the rest. */
const MAX_INFLATED_HEADER = 64 * 1024 * 1024;

const MB = 1024 * 1024;

function megabytes(n: number): string {
	return n >= 10 * MB ? `${Math.round(n / MB)} MB` : `${(n / MB).toFixed(1)} MB`;
}

/** True for zlib's "output above maxOutputLength" error. */
function isTooLarge(e: unknown): boolean {
	return e instanceof RangeError || (typeof e === "object" && e !== null && (e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE");
}

/** Inflates raw deflate (or a zlib stream), keeping what inflates of a truncated stream; never more than `limit` bytes. */
function inflateBounded(deflated: Uint8Array, limit: number): Buffer {
	const opts = { maxOutputLength: Math.max(1, Math.floor(limit)) };
	try {
		return zlib.inflateRawSync(deflated, opts);
	} catch (e) {
		if (isTooLarge(e)) throw e;
		try {
			return zlib.inflateSync(deflated, opts);
		} catch (e2) {
			if (isTooLarge(e2)) throw e2;
			// A truncated stream: keep what inflates.
			return zlib.inflateRawSync(deflated, { ...opts, finishFlush: zlib.constants.Z_SYNC_FLUSH });
		}
	}
}

/** What the inflated header declares about the pixel data: where it starts and how many bytes it may hold. */
interface DeclaredPixels {
	/** Bytes of the data set before the pixel data value (0 when there is no pixel data). */
	headerBytes: number;
	/** rows × columns × frames × samples × bytes per sample (0 when there is no pixel data). */
	pixelBytes: number;
	text: string;
}

/** Reads rows, columns, frames, samples and bits from an inflated (explicit LE) data set prefix, up to its pixel data. */
function declaredPixels(prefix: Uint8Array): DeclaredPixels | undefined {
	const bytes = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
	let dataSet: dicomParser.DataSet | undefined;
	try {
		dataSet = dicomParser.parseDicom(bytes, { TransferSyntaxUID: TS.explicitLE, untilTag: "x7fe00010" });
	} catch (e) {
		// The prefix ends inside an element: use what was parsed.
		dataSet = e && typeof e === "object" && "dataSet" in e ? (e as { dataSet?: dicomParser.DataSet }).dataSet : undefined;
	}
	if (!dataSet) return undefined;
	const pixel = dataSet.elements["x7fe00010"] ?? dataSet.elements["x7fe00008"] ?? dataSet.elements["x7fe00009"];
	if (!pixel) return undefined;
	const us = (tag: string, fallback: number): number => {
		const el = dataSet.elements[tag];
		return el && el.length >= 2 && el.dataOffset + 2 <= bytes.length ? (dataSet.uint16(tag) ?? fallback) : fallback;
	};
	const rows = us("x00280010", 0);
	const columns = us("x00280011", 0);
	const samples = us("x00280002", 1);
	const bits = pixel.tag === "x7fe00009" ? 64 : pixel.tag === "x7fe00008" ? 32 : us("x00280100", 16);
	const framesText = dataSet.elements["x00280008"] ? (dataSet.string("x00280008") ?? "1") : "1";
	const parsedFrames = Number.parseInt(framesText.trim(), 10);
	const frames = Number.isFinite(parsedFrames) && parsedFrames > 0 ? parsedFrames : 1;
	const pixelBytes = rows * columns * frames * Math.max(1, samples) * Math.ceil(Math.max(1, bits) / 8);
	return { headerBytes: pixel.dataOffset, pixelBytes, text: `${columns}×${rows} × ${frames} frame${frames === 1 ? "" : "s"} × ${samples} sample${samples === 1 ? "" : "s"} × ${Math.ceil(bits / 8)} byte${bits > 8 ? "s" : ""}` };
}

/**
 * Inflates a deflated data set with an output limit derived from its own header: the header is
 * found by inflating growing prefixes of the stream; then the whole stream may inflate to at most
 * header + rows × columns × frames × samples × bytes, plus 10 % and 1 MB. A stream that inflates
 * beyond (a decompression bomb) is refused with a reason before it can take the memory.
 */
export function inflateDataSet(deflated: Uint8Array, maxInflatedBytes = Number.POSITIVE_INFINITY): Buffer {
	let declared: DeclaredPixels | undefined;
	for (let take = 16 * 1024; ; take *= 4) {
		const complete = take >= deflated.length;
		let prefix: Buffer;
		try {
			prefix = zlib.inflateRawSync(deflated.subarray(0, Math.min(take, deflated.length)), {
				finishFlush: zlib.constants.Z_SYNC_FLUSH,
				maxOutputLength: MAX_INFLATED_HEADER,
			});
		} catch (e) {
			if (isTooLarge(e)) {
				throw new ConvertError("parse", `deflated data set: no image header within the first ${megabytes(MAX_INFLATED_HEADER)} inflated (a decompression bomb?)`);
			}
			break; // not raw deflate (a zlib stream?) or damaged: the plain inflate below decides
		}
		declared = declaredPixels(prefix);
		if (declared || complete) break;
	}
	const allowed = declared ? Math.ceil((declared.headerBytes + declared.pixelBytes) * 1.1) + MB : MAX_INFLATED_HEADER;
	if (allowed > maxInflatedBytes) {
		throw new ConvertError("parse", `deflated data set declares ${declared?.text ?? "an image"} (${megabytes(allowed)} inflated), more than the ${megabytes(maxInflatedBytes)} allowed`);
	}
	try {
		return inflateBounded(deflated, allowed);
	} catch (e) {
		if (isTooLarge(e)) {
			const what = declared ? `its header declares ${declared.text}` : "it declares no image";
			throw new ConvertError("parse", `deflated data set inflates to more than ${megabytes(allowed)} but ${what}: refused as a decompression bomb`);
		}
		throw e;
	}
}

/**
 * Inflates one Deflated Image Frame (1.2.840.10008.1.2.8.1) whose header declares `declaredBytes`:
 * at most that plus 1 MB comes out; more is refused as a decompression bomb.
 */
export function inflateFrame(frame: Uint8Array, declaredBytes: number): Buffer {
	const limit = declaredBytes + MB;
	try {
		try {
			return zlib.inflateRawSync(frame, { maxOutputLength: limit });
		} catch (e) {
			if (isTooLarge(e)) throw e;
			return zlib.inflateSync(frame, { maxOutputLength: limit });
		}
	} catch (e) {
		if (isTooLarge(e)) throw new ConvertError("decode", `deflated frame inflates to more than ${megabytes(limit)} but its header declares ${declaredBytes} bytes: refused as a decompression bomb`);
		throw e;
	}
}

function makeInflater(maxInflatedBytes: number | undefined, skip: boolean) {
	return (bytes: Uint8Array, position: number): Uint8Array => {
		if (skip) return bytes.subarray(0, position);
		const inflated = inflateDataSet(bytes.subarray(position), maxInflatedBytes);
		checkElementCount(inflated, 0, true, true);
		const out = Buffer.alloc(position + inflated.length);
		out.set(bytes.subarray(0, position), 0);
		out.set(inflated, position);
		return out;
	};
}

/** Refuses a data set of more elements than any header holds, before dicom-parser builds them (see elementCount.ts). */
function guardElementCount(bytes: Buffer, options: dicomParser.ParseDicomOptions): void {
	let start: number;
	let ts: string;
	try {
		const meta = dicomParser.readPart10Header(bytes, options as { untilTag: string }) as dicomParser.DataSet & { position?: number };
		start = meta.position ?? 0;
		ts = (options.TransferSyntaxUID ?? meta.string("x00020010") ?? TS.implicitLE).replace(/\0/g, "").trim();
	} catch (_) {
		return; // parseDicom reports an unreadable header
	}
	if (ts !== TS.deflatedLE) checkElementCount(bytes, start, ts !== TS.implicitLE, ts !== TS.explicitBE);
}

function hasDicmPrefix(bytes: Uint8Array): boolean {
	return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * Parses a DICOM file, with or without preamble, with or without file meta. A data set that ends
 * early is returned as far as it was read, with `truncated` set. Throws ConvertError("parse") when
 * the bytes are not a DICOM data set at all.
 */
export function parseDicomBytes(input: Uint8Array, parseOptions: ParseOptions = {}): ParsedDicom {
	const warnings: string[] = [];
	let bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
	const inflater = makeInflater(parseOptions.maxInflatedBytes, parseOptions.skipInflate ?? false);
	const options: dicomParser.ParseDicomOptions = { inflater: inflater as unknown as NonNullable<dicomParser.ParseDicomOptions["inflater"]> };
	if (parseOptions.untilTag) options.untilTag = parseOptions.untilTag;
	let prepended = 0;
	if (!hasDicmPrefix(bytes)) {
		const start = detectBareStart(bytes);
		if (start === undefined) {
			throw new ConvertError("parse", bytes.length === 0 ? "empty file" : "not a DICOM file (no DICM marker and no recognisable data set)");
		}
		warnings.push("no 128-byte preamble");
		if (start === "meta") {
			const prefixed = Buffer.alloc(132 + bytes.length);
			prefixed.write("DICM", 128, "latin1");
			prefixed.set(bytes, 132);
			bytes = prefixed;
			prepended = 132;
		} else {
			warnings.push("no file meta information");
			options.TransferSyntaxUID = start === "explicitLE" ? TS.explicitLE : start === "explicitBE" ? TS.explicitBE : TS.implicitLE;
		}
	}
	guardElementCount(bytes, options);
	let dataSet: dicomParser.DataSet;
	let truncated = false;
	try {
		dataSet = dicomParser.parseDicom(bytes, options);
	} catch (e) {
		if (e instanceof ConvertError) throw e;
		const partial = e && typeof e === "object" && "dataSet" in e ? (e as { dataSet?: dicomParser.DataSet }).dataSet : undefined;
		if (!partial || Object.keys(partial.elements).length === 0) {
			throw new ConvertError("parse", `not a readable DICOM data set: ${errorText(e)}`);
		}
		dataSet = partial;
		truncated = true;
		warnings.push(`data set ends early (${errorText(e)})`);
	}
	const transferSyntaxUid = (dataSet.string("x00020010") ?? options.TransferSyntaxUID ?? TS.implicitLE).replace(/\0/g, "").trim();
	return { dataSet, transferSyntaxUid, warnings, truncated, prepended };
}
