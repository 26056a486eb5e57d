/**
 * A small DICOM writer for tests and the demo generator.
 *
 *   const bytes = writeDicom({ rows: 64, columns: 64, bitsAllocated: 16, pixelRepresentation: 1,
 *                              pixels: new Int16Array(64 * 64), modality: "CT" });
 *   const jls = await writeDicomAsync({ ...spec, transferSyntax: "jpegLs" }); // codecs are async
 *
 * `pixels` are the stored values, frame after frame, pixel-interleaved for 3 samples per pixel (the
 * writer lays them out planar when planarConfiguration is 1). Each value's low `bitsAllocated` bits
 * are written as they are, so tests can put garbage above BitsStored on purpose.
 * writeDicom handles implicit LE, explicit LE/BE, deflated and RLE; writeDicomAsync adds JPEG-LS,
 * JPEG 2000 and JPEG baseline through the cornerstone WASM encoders.
 */
import * as zlib from "node:zlib";
import { encodeRleFrame } from "../core/dicom/rle";
import { TS } from "../core/dicom/transferSyntax";
import { concatBytes } from "../core/util/bytes";

export type WriterTransferSyntax = "implicitLE" | "explicitLE" | "explicitBE" | "deflated" | "rle" | "jpegLs" | "jpegLsNear" | "j2k" | "j2kLossy" | "jpegBaseline";

export interface DicomWriteSpec {
	transferSyntax?: WriterTransferSyntax;
	/** Write the 128-byte preamble and "DICM" (default true). */
	preamble?: boolean;
	/** Write the file meta group 0002 (default true; false writes a bare data set, implicit or explicit LE only). */
	fileMeta?: boolean;
	rows: number;
	columns: number;
	frames?: number;
	samplesPerPixel?: 1 | 3;
	photometricInterpretation?: string;
	planarConfiguration?: 0 | 1;
	/** 12 packs two pixels in three bytes (old files; native syntaxes only). */
	bitsAllocated: 1 | 8 | 12 | 16 | 32;
	bitsStored?: number;
	pixelRepresentation?: 0 | 1;
	/** Stored values (see above). Omit to write a file without pixel data. */
	pixels?: ArrayLike<number>;
	rescaleSlope?: number;
	rescaleIntercept?: number;
	/** PALETTE COLOR lookup tables (16-bit entries unless bits is 8). */
	palette?: { red: ArrayLike<number>; green: ArrayLike<number>; blue: ArrayLike<number>; firstMapped?: number; bits?: 8 | 16 };
	sopClassUid?: string;
	sopInstanceUid?: string;
	seriesInstanceUid?: string;
	studyInstanceUid?: string;
	modality?: string;
	seriesDescription?: string;
	studyDescription?: string;
	bodyPartExamined?: string;
	seriesNumber?: number;
	instanceNumber?: number;
	patientName?: string;
	patientId?: string;
	/**
	 * Ready-made codestreams, one per frame, written as encapsulated pixel data (with a Basic Offset
	 * Table) whatever `transferSyntax` says — e.g. a JPEG under an Explicit VR Little Endian label.
	 * `pixels` must still be given (it decides that there is pixel data; its values are not written).
	 */
	encapsulatedFrames?: Uint8Array[];
	/** Transfer syntax UID written in the file meta instead of `transferSyntax`'s (the data set is still encoded as `transferSyntax`). */
	transferSyntaxUid?: string;
	/** Declared values that override what the writer derives (e.g. a hostile Rows), as [tag, VR, value]. */
	overrides?: [number, string, string | number][];
	/** Sequences (SQ, undefined length) added to the data set: [tag, items], each item a list of nested elements. */
	sequences?: [number, NestedElement[][]][];
}

/** An element of a sequence item: [tag, VR, value] (strings, US numbers) or [tag, "SQ", items]. */
export type NestedElement = [number, string, string | number] | [number, "SQ", NestedElement[][]];

const tsUid: Record<WriterTransferSyntax, string> = {
	implicitLE: TS.implicitLE,
	explicitLE: TS.explicitLE,
	explicitBE: TS.explicitBE,
	deflated: TS.deflatedLE,
	rle: TS.rle,
	jpegLs: TS.jpegLsLossless,
	jpegLsNear: TS.jpegLsNear,
	j2k: TS.j2kLossless,
	j2kLossy: TS.j2k,
	jpegBaseline: TS.jpegBaseline,
};

const LONG_VRS = new Set(["OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UN", "UT", "UC", "UR", "SV", "UV"]);

interface El {
	tag: number;
	vr: string;
	/** Raw value bytes in the target byte order; undefined length when `items` is set. */
	value?: Uint8Array;
	items?: Uint8Array[];
}

let uidCounter = 0;
/** A fresh UID under the 2.25 (UUID-derived) root. */
export function newUid(): string {
	uidCounter++;
	const hex = (crypto.randomUUID().replace(/-/g, "") as string).slice(0, 30);
	return `2.25.${BigInt(`0x${hex}`).toString()}${uidCounter % 10}`;
}

function ascii(s: string, pad: string): Uint8Array {
	const text = s.length % 2 ? s + pad : s;
	return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function numbers(values: ArrayLike<number>, bytes: 2 | 4, le: boolean, signed = false): Uint8Array {
	const out = new Uint8Array(values.length * bytes);
	const v = new DataView(out.buffer);
	for (let i = 0; i < values.length; i++) {
		const x = values[i] ?? 0;
		if (bytes === 2) v.setUint16(i * 2, signed ? x & 0xffff : x, le);
		else v.setUint32(i * 4, x >>> 0, le);
	}
	return out;
}

function stringVr(vr: string, value: string): Uint8Array {
	return ascii(value, vr === "UI" ? "\0" : " ");
}

/** Packs stored values into native pixel bytes (one frame or all frames). */
function packPixels(values: ArrayLike<number>, count: number, offset: number, bitsAllocated: number, le: boolean): Uint8Array {
	if (bitsAllocated === 1) {
		const out = new Uint8Array(Math.ceil(count / 8));
		for (let i = 0; i < count; i++) if ((values[offset + i] ?? 0) & 1) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
		return out;
	}
	if (bitsAllocated === 12) {
		// Two pixels in three bytes: b0 = p0 low byte, b1 = p0 high nibble | p1 low nibble << 4, b2 = p1 >> 4.
		const out = new Uint8Array(Math.ceil((count * 3) / 2));
		for (let i = 0, p = 0; i < count; i += 2, p += 3) {
			const a = (values[offset + i] ?? 0) & 0xfff;
			const b = i + 1 < count ? (values[offset + i + 1] ?? 0) & 0xfff : 0;
			out[p] = a & 0xff;
			out[p + 1] = (a >> 8) | ((b & 0x0f) << 4);
			if (p + 2 < out.length) out[p + 2] = b >> 4;
		}
		return out;
	}
	const bytes = bitsAllocated / 8;
	const out = new Uint8Array(count * bytes);
	const v = new DataView(out.buffer);
	for (let i = 0; i < count; i++) {
		const x = values[offset + i] ?? 0;
		if (bytes === 1) out[i] = x & 0xff;
		else if (bytes === 2) v.setUint16(i * 2, x & 0xffff, le);
		else v.setUint32(i * 4, x >>> 0, le);
	}
	return out;
}

/** Reorders one frame's pixel-interleaved samples to planar (RRR…GGG…BBB…). */
function toPlanar(values: ArrayLike<number>, pixels: number, offset: number): number[] {
	const out = new Array<number>(pixels * 3);
	for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) out[c * pixels + i] = values[offset + 3 * i + c] ?? 0;
	return out;
}

function encodeElements(elements: El[], explicit: boolean, le: boolean): Uint8Array {
	const parts: Uint8Array[] = [];
	const header = (tag: number, vr: string, length: number): Uint8Array => {
		const long = explicit && LONG_VRS.has(vr);
		const h = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
		const v = new DataView(h.buffer);
		v.setUint16(0, tag >>> 16, le);
		v.setUint16(2, tag & 0xffff, le);
		if (!explicit) v.setUint32(4, length >>> 0, le);
		else {
			h[4] = vr.charCodeAt(0);
			h[5] = vr.charCodeAt(1);
			if (long) v.setUint32(8, length >>> 0, le);
			else v.setUint16(6, length, le);
		}
		return h;
	};
	const item = (tag: number, length: number): Uint8Array => {
		const h = new Uint8Array(8);
		const v = new DataView(h.buffer);
		v.setUint16(0, 0xfffe, le);
		v.setUint16(2, tag, le);
		v.setUint32(4, length, le);
		return h;
	};
	for (const el of [...elements].sort((a, b) => a.tag - b.tag)) {
		if (el.items) {
			parts.push(header(el.tag, el.vr, 0xffffffff));
			for (const it of el.items) {
				const padded = it.length % 2 ? Uint8Array.from([...it, 0]) : it;
				parts.push(item(0xe000, padded.length), padded);
			}
			parts.push(item(0xe0dd, 0));
		} else {
			const value = el.value ?? new Uint8Array(0);
			parts.push(header(el.tag, el.vr, value.length), value);
		}
	}
	return concatBytes(parts);
}

/** Encodes frames with a codec; filled in by writeDicomAsync. */
type FrameEncoder = (frame: Uint8Array, spec: Required<Pick<DicomWriteSpec, "rows" | "columns" | "samplesPerPixel" | "bitsAllocated" | "pixelRepresentation">>) => Uint8Array;

function build(spec: DicomWriteSpec, encodeFrame?: FrameEncoder): Uint8Array {
	const syntax = spec.transferSyntax ?? "explicitLE";
	const uid = spec.transferSyntaxUid ?? tsUid[syntax];
	const le = syntax !== "explicitBE";
	const explicit = syntax !== "implicitLE";
	const spp = spec.samplesPerPixel ?? 1;
	const frames = spec.frames ?? 1;
	const ba = spec.bitsAllocated;
	const pr = spec.pixelRepresentation ?? 0;
	const pi = spec.photometricInterpretation ?? (spp === 3 ? "RGB" : spec.palette ? "PALETTE COLOR" : "MONOCHROME2");
	const sopClassUid = spec.sopClassUid ?? "1.2.840.10008.5.1.4.1.1.7";
	const sopInstanceUid = spec.sopInstanceUid ?? newUid();
	const els: El[] = [];
	const str = (tag: number, vr: string, value: string | undefined): void => {
		if (value !== undefined) els.push({ tag, vr, value: stringVr(vr, value) });
	};
	const us = (tag: number, values: number[]): void => {
		els.push({ tag, vr: "US", value: numbers(values, 2, le) });
	};
	str(0x00080016, "UI", sopClassUid);
	str(0x00080018, "UI", sopInstanceUid);
	str(0x00080060, "CS", spec.modality ?? "OT");
	str(0x00081030, "LO", spec.studyDescription);
	str(0x0008103e, "LO", spec.seriesDescription);
	str(0x00100010, "PN", spec.patientName ?? "Anonymous^Test");
	str(0x00100020, "LO", spec.patientId ?? "TEST");
	str(0x00180015, "CS", spec.bodyPartExamined);
	str(0x0020000d, "UI", spec.studyInstanceUid ?? newUid());
	str(0x0020000e, "UI", spec.seriesInstanceUid ?? newUid());
	str(0x00200011, "IS", spec.seriesNumber !== undefined ? String(spec.seriesNumber) : undefined);
	str(0x00200013, "IS", spec.instanceNumber !== undefined ? String(spec.instanceNumber) : undefined);
	if (spec.pixels) {
		us(0x00280002, [spp]);
		str(0x00280004, "CS", pi);
		if (spp === 3) us(0x00280006, [spec.planarConfiguration ?? 0]);
		if (frames > 1) str(0x00280008, "IS", String(frames));
		us(0x00280010, [spec.rows]);
		us(0x00280011, [spec.columns]);
		const bs = spec.bitsStored ?? ba;
		us(0x00280100, [ba]);
		us(0x00280101, [bs]);
		us(0x00280102, [bs - 1]);
		us(0x00280103, [pr]);
		if (spec.rescaleSlope !== undefined || spec.rescaleIntercept !== undefined) {
			str(0x00281052, "DS", String(spec.rescaleIntercept ?? 0));
			str(0x00281053, "DS", String(spec.rescaleSlope ?? 1));
		}
		if (spec.palette) {
			const p = spec.palette;
			const bits = p.bits ?? 16;
			[p.red, p.green, p.blue].forEach((lut, i) => {
				us(0x00281101 + i, [lut.length === 65536 ? 0 : lut.length, p.firstMapped ?? 0, bits]);
				const data = bits === 8 ? ascii(String.fromCharCode(...Array.from(lut, (x) => x & 0xff)), "\0") : numbers(lut, 2, le);
				els.push({ tag: 0x00281201 + i, vr: "OW", value: data });
			});
		}
		const pixelsPerFrame = spec.rows * spec.columns;
		const samplesPerFrame = pixelsPerFrame * spp;
		const frameValues = (f: number): ArrayLike<number> =>
			spp === 3 && (spec.planarConfiguration ?? 0) === 1 && !encodeFrame && syntax !== "rle"
				? toPlanar(spec.pixels ?? [], pixelsPerFrame, f * samplesPerFrame)
				: Array.prototype.slice.call(spec.pixels, f * samplesPerFrame, (f + 1) * samplesPerFrame) as number[];
		if (spec.encapsulatedFrames) {
			const offsets: number[] = [];
			let o = 0;
			for (const fr of spec.encapsulatedFrames) {
				offsets.push(o);
				o += 8 + fr.length + (fr.length % 2);
			}
			els.push({ tag: 0x7fe00010, vr: "OB", items: [numbers(offsets, 4, true), ...spec.encapsulatedFrames] });
		} else if (syntax === "rle" || encodeFrame) {
			const items: Uint8Array[] = [new Uint8Array(0)];
			const fragments: Uint8Array[] = [];
			for (let f = 0; f < frames; f++) {
				const raw = packPixels(frameValues(f), samplesPerFrame, 0, ba, true);
				fragments.push(
					encodeFrame
						? encodeFrame(raw, { rows: spec.rows, columns: spec.columns, samplesPerPixel: spp, bitsAllocated: ba, pixelRepresentation: pr })
						: ba === 1
							? encodeRleFrame(raw, raw.length, 1, 8) // 1-bit: one segment of packed bits
							: encodeRleFrame(raw, pixelsPerFrame, spp, ba),
				);
			}
			// Basic Offset Table with each frame's offset.
			const offsets: number[] = [];
			let o = 0;
			for (const fr of fragments) {
				offsets.push(o);
				o += 8 + fr.length + (fr.length % 2);
			}
			items[0] = numbers(offsets, 4, true);
			items.push(...fragments);
			els.push({ tag: 0x7fe00010, vr: "OB", items });
		} else {
			const all: Uint8Array[] = [];
			if (ba === 1) all.push(packPixels(spec.pixels, samplesPerFrame * frames, 0, 1, le));
			else for (let f = 0; f < frames; f++) all.push(packPixels(frameValues(f), samplesPerFrame, 0, ba, le));
			let data = concatBytes(all);
			if (data.length % 2) data = concatBytes([data, new Uint8Array(1)]);
			els.push({ tag: 0x7fe00010, vr: ba > 8 && ba !== 12 ? "OW" : "OB", value: data });
		}
	}
	// Sequence items are encoded like the data set they belong to.
	const nested = (elements: NestedElement[]): El[] =>
		elements.map(([tag, vr, value]) =>
			Array.isArray(value)
				? { tag, vr: "SQ", items: value.map((item) => encodeElements(nested(item), explicit, le)) }
				: { tag, vr, value: vr === "US" ? numbers([Number(value)], 2, le) : stringVr(vr, String(value)) },
		);
	for (const [tag, items] of spec.sequences ?? []) els.push(...nested([[tag, "SQ", items]]));
	for (const [tag, vr, value] of spec.overrides ?? []) {
		const i = els.findIndex((e) => e.tag === tag);
		if (i >= 0) els.splice(i, 1);
		els.push({ tag, vr, value: vr === "US" ? numbers([Number(value)], 2, le) : stringVr(vr, String(value)) });
	}
	let body = encodeElements(els, explicit, le);
	if (syntax === "deflated") body = zlib.deflateRawSync(body);
	const parts: Uint8Array[] = [];
	if (spec.preamble ?? true) {
		const pre = new Uint8Array(132);
		pre.set([0x44, 0x49, 0x43, 0x4d], 128);
		parts.push(pre);
	}
	if (spec.fileMeta ?? true) {
		const meta: El[] = [
			{ tag: 0x00020001, vr: "OB", value: Uint8Array.from([0, 1]) },
			{ tag: 0x00020002, vr: "UI", value: stringVr("UI", sopClassUid) },
			{ tag: 0x00020003, vr: "UI", value: stringVr("UI", sopInstanceUid) },
			{ tag: 0x00020010, vr: "UI", value: stringVr("UI", uid) },
			{ tag: 0x00020012, vr: "UI", value: stringVr("UI", "1.2.826.0.1.3680043.10.1471.1") },
			{ tag: 0x00020013, vr: "SH", value: stringVr("SH", "MEDIMAGEINSIGHT") },
		];
		const metaBytes = encodeElements(meta, true, true);
		parts.push(encodeElements([{ tag: 0x00020000, vr: "UL", value: numbers([metaBytes.length], 4, true) }], true, true), metaBytes);
	}
	parts.push(body);
	return concatBytes(parts);
}

/** Writes a DICOM file (implicit/explicit LE, explicit BE, deflated or RLE). Throws for codec syntaxes: use writeDicomAsync. */
export function writeDicom(spec: DicomWriteSpec): Uint8Array {
	const syntax = spec.transferSyntax ?? "explicitLE";
	if ((syntax === "jpegLs" || syntax === "jpegLsNear" || syntax === "j2k" || syntax === "j2kLossy" || syntax === "jpegBaseline") && !spec.encapsulatedFrames) {
		throw new Error(`writeDicom cannot encode ${syntax} synchronously; use writeDicomAsync`);
	}
	return build(spec);
}

interface WasmEncoder {
	getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean }): Uint8Array;
	encode(): void;
	getEncodedBuffer(): Uint8Array;
	setNearLossless?(n: number): void;
	setQuality?(lossless: boolean, quality: number): void;
	setInterleaveMode?(m: number): void;
	setDecompositions?(n: number): void;
	delete(): void;
}
type EncoderFactory = (o: Record<string, unknown>) => Promise<Record<string, new () => WasmEncoder>>;

const encoderModules = new Map<string, Promise<Record<string, new () => WasmEncoder>>>();
function loadEncoder(kind: "charls" | "openjpeg" | "libjpegturbo"): Promise<Record<string, new () => WasmEncoder>> {
	let p = encoderModules.get(kind);
	if (!p) {
		/* eslint-disable @typescript-eslint/no-require-imports */
		const mod: unknown =
			kind === "charls"
				? require("@cornerstonejs/codec-charls/wasmjs")
				: kind === "openjpeg"
					? require("@cornerstonejs/codec-openjpeg/wasmjs")
					: require("@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs");
		/* eslint-enable @typescript-eslint/no-require-imports */
		const factory = (typeof mod === "function" ? mod : (mod as { default: unknown }).default) as EncoderFactory;
		p = factory({ print: () => undefined, printErr: () => undefined });
		encoderModules.set(kind, p);
	}
	return p;
}

/** Writes a DICOM file in any supported syntax, including JPEG-LS, JPEG 2000 and JPEG baseline (8-bit only). */
export async function writeDicomAsync(spec: DicomWriteSpec): Promise<Uint8Array> {
	const syntax = spec.transferSyntax ?? "explicitLE";
	if (syntax !== "jpegLs" && syntax !== "jpegLsNear" && syntax !== "j2k" && syntax !== "j2kLossy" && syntax !== "jpegBaseline") return build(spec);
	if (syntax === "jpegBaseline" && spec.bitsAllocated !== 8) throw new Error("JPEG baseline needs 8-bit samples");
	if (spec.bitsAllocated === 1 || spec.bitsAllocated === 12 || spec.bitsAllocated === 32) throw new Error(`${syntax} cannot encode ${spec.bitsAllocated}-bit samples here`);
	const kind = syntax.startsWith("jpegLs") ? "charls" : syntax.startsWith("j2k") ? "openjpeg" : "libjpegturbo";
	const mod = await loadEncoder(kind);
	const Ctor = mod[kind === "charls" ? "JpegLSEncoder" : kind === "openjpeg" ? "J2KEncoder" : "JPEGEncoder"];
	if (!Ctor) throw new Error(`no encoder class in ${kind}`);
	const encoder: FrameEncoder = (frame, s) => {
		const e = new Ctor();
		try {
			const buf = e.getDecodedBuffer({
				width: s.columns,
				height: s.rows,
				bitsPerSample: spec.bitsStored ?? s.bitsAllocated,
				componentCount: s.samplesPerPixel,
				isSigned: s.pixelRepresentation === 1,
			});
			buf.set(frame.subarray(0, buf.length));
			if (syntax === "jpegLsNear") e.setNearLossless?.(2);
			if (kind === "openjpeg") e.setDecompositions?.(Math.max(0, Math.min(5, Math.floor(Math.log2(Math.min(s.rows, s.columns))))));
			e.encode();
			return e.getEncodedBuffer().slice();
		} finally {
			e.delete();
		}
	};
	const photometric = spec.photometricInterpretation ?? (syntax === "jpegBaseline" && (spec.samplesPerPixel ?? 1) === 3 ? "YBR_FULL_422" : undefined);
	return build(photometric ? { ...spec, photometricInterpretation: photometric } : spec, encoder);
}
