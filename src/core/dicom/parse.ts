import * as zlib from "node:zlib";
import * as dicomParser from "dicom-parser";
import { ConvertError, errorText } from "./convertError";
import { TS } from "./transferSyntax";

/** A parsed data set with what the decoder needs to know about how it was read. */
export interface ParsedDicom {
	dataSet: dicomParser.DataSet;
	transferSyntaxUid: string;
	/** Problems that did not stop parsing (truncation, missing preamble, ...). */
	warnings: string[];
	/** True when the file ended before the data set did. */
	truncated: boolean;
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

function inflater(bytes: Uint8Array, position: number): Uint8Array {
	const deflated = bytes.subarray(position);
	let inflated: Buffer;
	try {
		inflated = zlib.inflateRawSync(deflated);
	} catch (_) {
		try {
			inflated = zlib.inflateSync(deflated);
		} catch (_e) {
			// A truncated stream: keep what inflates.
			inflated = zlib.inflateRawSync(deflated, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
		}
	}
	const out = Buffer.alloc(position + inflated.length);
	out.set(bytes.subarray(0, position), 0);
	out.set(inflated, position);
	return out;
}

function hasDicmPrefix(bytes: Uint8Array): boolean {
	return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * Parses a DICOM file, with or without preamble, with or without file meta. A data set that ends
 * early is returned as far as it was read, with `truncated` set. Throws ConvertError("parse") when
 * the bytes are not a DICOM data set at all.
 */
export function parseDicomBytes(input: Uint8Array): ParsedDicom {
	const warnings: string[] = [];
	let bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
	const options: dicomParser.ParseDicomOptions = { inflater: inflater as unknown as NonNullable<dicomParser.ParseDicomOptions["inflater"]> };
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
		} else {
			warnings.push("no file meta information");
			options.TransferSyntaxUID = start === "explicitLE" ? TS.explicitLE : start === "explicitBE" ? TS.explicitBE : TS.implicitLE;
		}
	}
	let dataSet: dicomParser.DataSet;
	let truncated = false;
	try {
		dataSet = dicomParser.parseDicom(bytes, options);
	} catch (e) {
		const partial = e && typeof e === "object" && "dataSet" in e ? (e as { dataSet?: dicomParser.DataSet }).dataSet : undefined;
		if (!partial || Object.keys(partial.elements).length === 0) {
			throw new ConvertError("parse", `not a readable DICOM data set: ${errorText(e)}`);
		}
		dataSet = partial;
		truncated = true;
		warnings.push(`data set ends early (${errorText(e)})`);
	}
	const transferSyntaxUid = (dataSet.string("x00020010") ?? options.TransferSyntaxUID ?? TS.implicitLE).replace(/\0/g, "").trim();
	return { dataSet, transferSyntaxUid, warnings, truncated };
}
