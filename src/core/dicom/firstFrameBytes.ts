/**
 * Reads from a DICOM file only the bytes its first frame needs, so that a multi-frame file of
 * gigabytes converts in the memory of one frame: the header up to the Pixel Data element, then
 * - native pixel data: the first frame's bytes (the element's length is rewritten to them);
 * - encapsulated pixel data: the Basic Offset Table and the fragments of the first frame, chosen
 *   exactly as src/core/dicom/frames.ts chooses them (a Basic Offset Table of [0, size] is written
 *   when the file has none, so the choice survives the cut), then the sequence delimiter.
 * Everything else (small files, single frames, deflated data sets, unusual layouts) is read whole,
 * as before. The result is parsed and decoded by the ordinary converter.
 */
import type { FileHandle } from "node:fs/promises";
import type * as dicomParser from "dicom-parser";
import { ConvertError } from "./convertError";
import { startsCodestream } from "./frames";
import { parseDicomBytes, type ParsedDicom } from "./parse";
import { pixelEncodingOf, TS } from "./transferSyntax";

export interface FirstFrameBytes {
	/** The bytes to convert: the whole file, or a shortened copy holding the first frame. */
	bytes: Uint8Array;
	/** Bytes read from the file. */
	bytesRead: number;
	/** Set when only the header and the first frame were read: the file's frame count. */
	framesInFile?: number;
}

export interface FirstFrameReadOptions {
	/** Files up to this size are read whole (default 16 MB). */
	wholeFileUpTo?: number;
	/** A file that must be read whole but is larger than this fails (stage "read") instead. */
	maxWholeFileBytes?: number;
	/** Where a whole file is read (default: a new array); e.g. a conversion's reusable scratch. */
	wholeFileBuffer?: (length: number) => Uint8Array;
}

const MB = 1024 * 1024;
/** First header read; grown ×4 until the Pixel Data element is found, up to MAX_HEAD. */
const FIRST_HEAD = 64 * 1024;
const MAX_HEAD = 64 * MB;
const DEFAULT_WHOLE_FILE_UP_TO = 16 * MB;

async function readAt(handle: FileHandle, position: number, length: number, buffer?: (length: number) => Uint8Array): Promise<Uint8Array> {
	const out = buffer?.(Math.max(0, length)) ?? new Uint8Array(Math.max(0, length));
	let done = 0;
	while (done < out.length) {
		const { bytesRead } = await handle.read(out, done, out.length - done, position + done);
		if (bytesRead === 0) break;
		done += bytesRead;
	}
	return done === out.length ? out : out.subarray(0, done);
}

function u16(ds: dicomParser.DataSet, tag: string): number {
	const el = ds.elements[tag];
	if (!el || el.length < 2 || el.dataOffset + 2 > ds.byteArray.length) return 0;
	return ds.uint16(tag) ?? 0;
}

function frameCount(ds: dicomParser.DataSet): number {
	const el = ds.elements["x00280008"];
	if (!el || el.dataOffset + el.length > ds.byteArray.length) return 1;
	const n = Number.parseInt((ds.string("x00280008") ?? "1").trim(), 10);
	return Number.isFinite(n) && n > 0 ? n : 1;
}

/** An item (FFFE,E000) or delimiter header in encapsulated pixel data, with the first bytes of its value. */
interface Item {
	/** File offset of the item header. */
	at: number;
	tag: number;
	length: number;
	/** Up to 8 bytes of the value (for codestream detection). */
	start: Uint8Array;
}

const ITEM = 0xfffee000;
const SEQUENCE_DELIMITER = 0xfffee0dd;

async function readItem(handle: FileHandle, at: number): Promise<Item | undefined> {
	const b = await readAt(handle, at, 16);
	if (b.length < 8) return undefined;
	const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
	const tag = ((v.getUint16(0, true) << 16) | v.getUint16(2, true)) >>> 0;
	return { at, tag, length: v.getUint32(4, true), start: b.subarray(8) };
}

function u32le(values: number[]): Uint8Array {
	const out = new Uint8Array(values.length * 4);
	const v = new DataView(out.buffer);
	values.forEach((x, i) => v.setUint32(i * 4, x >>> 0, true));
	return out;
}

function itemHeader(tag: number, length: number): Uint8Array {
	const out = new Uint8Array(8);
	const v = new DataView(out.buffer);
	v.setUint16(0, tag >>> 16, true);
	v.setUint16(2, tag & 0xffff, true);
	v.setUint32(4, length >>> 0, true);
	return out;
}

/**
 * Reads what the first frame of the file needs (see the file comment). `size` is the file's size.
 * Never throws for a malformed file: anything unusual falls back to reading the whole file, whose
 * problems the converter then reports.
 */
export async function readFirstFrameBytes(handle: FileHandle, size: number, options: FirstFrameReadOptions = {}): Promise<FirstFrameBytes> {
	const whole = async (): Promise<FirstFrameBytes> => {
		const cap = options.maxWholeFileBytes ?? Number.POSITIVE_INFINITY;
		if (size > cap) {
			throw new ConvertError("read", `file of ${Math.round(size / MB)} MB must be read whole (single frame or a layout read in one piece) and is above the worker's memory budget of ${Math.round(cap / MB)} MB`);
		}
		const bytes = await readAt(handle, 0, size, options.wholeFileBuffer);
		return { bytes, bytesRead: bytes.length };
	};
	if (size <= (options.wholeFileUpTo ?? DEFAULT_WHOLE_FILE_UP_TO)) return whole();
	let headLength = Math.min(size, FIRST_HEAD);
	let head: Uint8Array;
	let parsed: ParsedDicom;
	let el: dicomParser.Element | undefined;
	for (;;) {
		head = await readAt(handle, 0, headLength);
		try {
			parsed = parseDicomBytes(head, { untilTag: "x7fe00010", skipInflate: true });
		} catch (_) {
			return whole();
		}
		if (parsed.transferSyntaxUid === TS.deflatedLE) return whole(); // inflated with its own limit
		el = parsed.dataSet.elements["x7fe00010"];
		if (el) break;
		if (headLength >= size || headLength >= MAX_HEAD) return whole();
		headLength = Math.min(size, headLength * 4, MAX_HEAD);
	}
	const ds = parsed.dataSet;
	const frames = frameCount(ds);
	if (frames <= 1) return whole();
	const valueStart = el.dataOffset - (parsed.prepended ?? 0);
	if (valueStart < 8 || valueStart > head.length) return whole();
	const plan = el.hadUndefinedLength ? await encapsulatedPlan(handle, size, valueStart, frames, parsed.transferSyntaxUid) : nativePlan(ds, head, el, valueStart, size, parsed.transferSyntaxUid);
	if (!plan) return whole();
	const parts: Uint8Array[] = [head.subarray(0, valueStart)];
	let extra = 0;
	for (const p of plan) {
		if (p instanceof Uint8Array) parts.push(p);
		else if (p.at + p.length <= head.length) parts.push(head.subarray(p.at, p.at + p.length));
		else {
			const b = await readAt(handle, p.at, p.length);
			extra += b.length;
			parts.push(b);
		}
	}
	const total = parts.reduce((n, p) => n + p.length, 0);
	const bytes = new Uint8Array(total);
	let o = 0;
	for (const p of parts) {
		bytes.set(p, o);
		o += p.length;
	}
	if (!el.hadUndefinedLength) {
		// The element now holds the first frame only.
		const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
		v.setUint32(valueStart - 4, total - valueStart, parsed.transferSyntaxUid !== TS.explicitBE);
	}
	return { bytes, bytesRead: head.length + extra, framesInFile: frames };
}

/** A piece of the shortened file: bytes to write as they are, or a range of the file to copy. */
type Piece = Uint8Array | { at: number; length: number };

function nativePlan(ds: dicomParser.DataSet, head: Uint8Array, el: dicomParser.Element, valueStart: number, size: number, tsUid: string): Piece[] | undefined {
	const rows = u16(ds, "x00280010");
	const columns = u16(ds, "x00280011");
	const samples = Math.max(1, u16(ds, "x00280002"));
	const bitsAllocated = u16(ds, "x00280100");
	if (rows === 0 || columns === 0 || bitsAllocated === 0) return undefined;
	// The length field must be a 32-bit one that says what dicom-parser read (OB/OW/UN or implicit VR).
	const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
	if (v.getUint32(valueStart - 4, tsUid !== TS.explicitBE) !== el.length) return undefined;
	let frameBytes = Math.ceil((rows * columns * samples * bitsAllocated) / 8);
	frameBytes += frameBytes % 2;
	const keep = Math.min(frameBytes, el.length, size - valueStart);
	if (keep <= 0 || keep >= el.length) return undefined; // nothing to save
	return [{ at: valueStart, length: keep }];
}

/** Encodings whose first frame frames.ts finds by fragment and codestream boundaries. */
const ENCAPSULATED = new Set(["rle", "deflatedFrame", "jpeg", "jpegLossless", "jpegLs", "j2k", "htj2k"]);

async function encapsulatedPlan(handle: FileHandle, size: number, valueStart: number, frames: number, tsUid: string): Promise<Piece[] | undefined> {
	const encoding = pixelEncodingOf(tsUid);
	if (!encoding || !ENCAPSULATED.has(encoding)) return undefined;
	const botItem = await readItem(handle, valueStart);
	if (!botItem || botItem.tag !== ITEM || botItem.length % 4 !== 0 || botItem.length > 4 * frames + 4) return undefined;
	const botBytes = botItem.length > 0 ? await readAt(handle, valueStart + 8, botItem.length) : new Uint8Array(0);
	if (botBytes.length !== botItem.length) return undefined;
	const bv = new DataView(botBytes.buffer, botBytes.byteOffset, botBytes.byteLength);
	const bot = Array.from({ length: botBytes.length / 4 }, (_, i) => bv.getUint32(i * 4, true));
	const fragmentsStart = valueStart + 8 + botItem.length;
	const useBot = bot.length > 0 && bot[0] === 0;
	if (useBot && bot.length < 2) return undefined; // frames.ts takes every fragment
	const endOffset = useBot ? (bot[1] as number) : Number.POSITIVE_INFINITY;
	// Fragments of frame 1: up to the Basic Offset Table's second entry; without a usable table,
	// frames.ts takes fragment 1 alone when there is one fragment per frame, else fragment 1 and
	// those after it up to the next codestream start: scan until both questions are answered.
	const fragments: Item[] = [];
	let at = fragmentsStart;
	let nextStart = -1;
	for (;;) {
		if (at - fragmentsStart >= endOffset) break;
		if (!useBot && fragments.length > frames && nextStart > 0) break;
		const item = await readItem(handle, at);
		if (!item || item.tag !== ITEM) break;
		if (!useBot && nextStart < 0 && fragments.length > 0 && startsCodestream(item.start, encoding)) nextStart = fragments.length;
		fragments.push(item);
		at += 8 + item.length;
		if (at > size) break;
	}
	if (fragments.length === 0) return undefined;
	let chosen: Item[];
	if (useBot) chosen = fragments;
	else if (fragments.length === frames) chosen = fragments.slice(0, 1);
	else if (nextStart > 0) chosen = fragments.slice(0, nextStart);
	else return undefined; // every fragment continues the first frame: read it all
	const last = chosen[chosen.length - 1] as Item;
	const end = last.at + 8 + last.length;
	const pieces: Piece[] = [];
	if (useBot) pieces.push({ at: valueStart, length: 8 + botItem.length });
	else {
		const sum = end - (chosen[0] as Item).at;
		pieces.push(itemHeader(ITEM, 8), u32le([0, sum]));
	}
	const from = (chosen[0] as Item).at;
	pieces.push({ at: from, length: Math.min(end, size) - from });
	if (end <= size) pieces.push(itemHeader(SEQUENCE_DELIMITER, 0));
	return pieces;
}
