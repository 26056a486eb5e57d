import type { Scratch } from "../util/scratch";
import type * as dicomParser from "dicom-parser";
import { decodeWasmFrame } from "./codecs";
import { jpegFrameHeader, sniffEncoding } from "./codestream";
import { applyPalette, expandYbr422, ybrFullToRgb } from "./color";
import { ConvertError, errorText } from "./convertError";
import { firstEncapsulatedFrame } from "./frames";
import { decodeJpegLossless } from "./jpegLossless";
import { decodeJpegDct } from "./jpegDct";
import { inflateFrame, type ParsedDicom } from "./parse";
import { decodeRleFrame } from "./rle";
import { pixelEncodingOf, TS, transferSyntaxName, type PixelEncoding } from "./transferSyntax";

/** The first frame as modality values (after MONOCHROME1 inversion and rescale) in float32. */
export interface FrameValues {
	width: number;
	height: number;
	channels: 1 | 3;
	/** Pixel-interleaved values, float32 as the reference casts them. */
	values: Float32Array;
	warnings: string[];
}

/** Image attributes of the data set, with defaults for what is missing. */
export interface PixelModule {
	rows: number;
	columns: number;
	samplesPerPixel: number;
	bitsAllocated: number;
	bitsStored: number;
	pixelRepresentation: number;
	photometric: string;
	planarConfiguration: number;
	frames: number;
	slope: number;
	intercept: number;
}

function num(ds: dicomParser.DataSet, tag: string): number | undefined {
	const el = ds.elements[tag];
	if (!el || el.length < 2 || el.dataOffset + 2 > ds.byteArray.length) return undefined;
	return ds.uint16(tag);
}

function ds(dsx: dicomParser.DataSet, tag: string): number | undefined {
	try {
		const v = dsx.floatString(tag);
		return v !== undefined && Number.isFinite(v) ? v : undefined;
	} catch (_) {
		return undefined;
	}
}

/**
 * SOP classes whose Rescale Intercept / Slope GDCM (the reference reads through ITK's GDCMImageIO)
 * takes from the functional groups: the Pixel Value Transformation Sequence (0028,9145) in the first
 * item of the Shared Functional Groups Sequence (5200,9229), else of the Per-frame one (5200,9230),
 * i.e. frame 1's (gdcm::ImageHelper::GetRescaleInterceptSlopeValue).
 */
const functionalGroupRescaleClasses = new Set([
	"1.2.840.10008.5.1.4.1.1.2.1", // Enhanced CT
	"1.2.840.10008.5.1.4.1.1.4.1", // Enhanced MR
	"1.2.840.10008.5.1.4.1.1.130", // Enhanced PET
	"1.2.840.10008.5.1.4.1.1.13.1.1", // X-Ray 3D Angiographic
	"1.2.840.10008.5.1.4.1.1.13.1.2", // X-Ray 3D Craniofacial
	"1.2.840.10008.5.1.4.1.1.66.4", // Segmentation
	"1.2.840.10008.5.1.4.1.1.13.1.3", // Breast Tomosynthesis
	"1.2.840.10008.5.1.4.1.1.13.1.4", // Breast Projection X-Ray, for presentation
	"1.2.840.10008.5.1.4.1.1.13.1.5", // Breast Projection X-Ray, for processing
	"1.2.840.10008.5.1.4.1.1.4.4", // Legacy Converted Enhanced MR
	"1.2.840.10008.5.1.4.1.1.2.2", // Legacy Converted Enhanced CT
	"1.2.840.10008.5.1.4.1.1.128.1", // Legacy Converted Enhanced PET
]);

/** Intercept and slope of a data set that holds both (the pair GDCM takes from a sequence item). */
function rescalePair(d: dicomParser.DataSet | undefined): { intercept: number; slope: number } | undefined {
	if (!d) return undefined;
	const intercept = ds(d, "x00281052");
	const slope = ds(d, "x00281053");
	return intercept !== undefined && slope !== undefined ? { intercept, slope } : undefined;
}

/**
 * The modality rescale as the reference applies it: for the enhanced (multi-frame) classes above, from
 * the functional groups (an X-Ray 3D Angiographic file without them: from its first X-Ray 3D
 * Reconstruction item); otherwise, and as the fallback, Rescale Intercept (default 0) and Rescale
 * Slope (default 1; a slope of 0 is taken as 1) of the data set, for every SOP class (ITK sets
 * GDCM's ForceRescaleInterceptSlope).
 */
export function modalityRescale(dataSet: dicomParser.DataSet): { intercept: number; slope: number } {
	const sopClass = (dataSet.string("x00020002") ?? dataSet.string("x00080016") ?? "").replace(/[\0\s]+$/, "").trim();
	if (functionalGroupRescaleClasses.has(sopClass)) {
		for (const group of ["x52009229", "x52009230"]) {
			const pair = rescalePair(dataSet.elements[group]?.items?.[0]?.dataSet?.elements["x00289145"]?.items?.[0]?.dataSet);
			if (pair) return pair;
		}
		if (sopClass === "1.2.840.10008.5.1.4.1.1.13.1.1") {
			const pair = rescalePair(dataSet.elements["x00189530"]?.items?.[0]?.dataSet);
			if (pair) return pair;
		}
	}
	const slope = ds(dataSet, "x00281053");
	return { intercept: ds(dataSet, "x00281052") ?? 0, slope: slope === undefined || slope === 0 ? 1 : slope };
}

export function readPixelModule(dataSet: dicomParser.DataSet): PixelModule {
	const bitsAllocated = num(dataSet, "x00280100") ?? 0;
	const frames = Number.parseInt((dataSet.string("x00280008") ?? "1").trim(), 10);
	return {
		rows: num(dataSet, "x00280010") ?? 0,
		columns: num(dataSet, "x00280011") ?? 0,
		samplesPerPixel: num(dataSet, "x00280002") ?? 1,
		bitsAllocated,
		bitsStored: num(dataSet, "x00280101") ?? bitsAllocated,
		pixelRepresentation: num(dataSet, "x00280103") ?? 0,
		photometric: (dataSet.string("x00280004") ?? "").trim().toUpperCase(),
		planarConfiguration: num(dataSet, "x00280006") ?? 0,
		frames: Number.isFinite(frames) && frames > 0 ? frames : 1,
		...modalityRescale(dataSet),
	};
}

/**
 * Stored samples of frame 1, pixel-interleaved, as integers (or floats for float pixel data). One-channel
 * integer samples of at most 16 bits may come as a Float32Array (exact: |v| < 2^24), which toValues then
 * uses as the values without another pass.
 */
interface Stored {
	samples: Int32Array | Float64Array | Float32Array;
	channels: 1 | 3;
	/** True when the codec already turned YBR into RGB (JPEG, JPEG 2000 with MCT). */
	colorConverted: boolean;
	/** Bits that carry the value (for MONOCHROME1 inversion). */
	bits: number;
	signed: boolean;
	isFloat: boolean;
}

/** Mask to `bits` and sign-extend when signed. */
function fixBits(v: number, bits: number, signed: boolean): number {
	if (bits >= 32) return signed ? v | 0 : v >>> 0;
	const masked = v & ((1 << bits) - 1);
	if (signed && masked & (1 << (bits - 1))) return masked - (1 << bits);
	return masked;
}

/** A zero-filled sample array: Float32Array (one-channel values) or Int32Array. */
type SampleAlloc = (count: number, asFloat32: boolean) => Int32Array | Float32Array;
const newSamples: SampleAlloc = (count, asFloat32) => (asFloat32 ? new Float32Array(count) : new Int32Array(count));
/** Sample arrays from the conversion's scratch (see util/scratch.ts), or new ones. */
function sampleAlloc(scratch: Scratch | undefined): SampleAlloc {
	return scratch ? (count, asFloat32) => (asFloat32 ? scratch.float32("samples", count) : scratch.int32("samples", count)) : newSamples;
}

/**
 * Reads native (uncompressed) samples of frame 1 from raw bytes in the data set's byte order; 8- and
 * 16-bit one-channel samples come as a Float32Array (see Stored).
 */
function readNative(bytes: Uint8Array, pm: PixelModule, littleEndian: boolean, warnings: string[], alloc: SampleAlloc = newSamples): Int32Array | Float64Array | Float32Array {
	const count = pm.rows * pm.columns * pm.samplesPerPixel;
	const ba = pm.bitsAllocated;
	const bs = Math.min(pm.bitsStored || ba, ba);
	const signed = pm.pixelRepresentation === 1;
	const need = Math.ceil((count * ba) / 8);
	if (bytes.length < need / 2) {
		throw new ConvertError("decode", `pixel data holds only ${bytes.length} of ${need} bytes (truncated file or wrong header)`);
	}
	if (bytes.length < need) {
		warnings.push(`pixel data holds ${bytes.length} of ${need} bytes; the rest is black`);
		const padded = new Uint8Array(need);
		padded.set(bytes);
		bytes = padded;
	}
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	if (ba === 12) return unpack12(bytes, count, Math.min(bs, 12), signed);
	if (ba === 1) {
		const out = new Int32Array(count);
		for (let i = 0; i < count; i++) out[i] = ((bytes[i >> 3] ?? 0) >> (i & 7)) & 1;
		return out;
	}
	const gray = asFloat32Gray(pm, pm.samplesPerPixel);
	if (ba === 8) {
		const out = alloc(count, gray);
		if (bs === 8 && !signed) out.set(bytes.subarray(0, count)); // native widening copy
		else for (let i = 0; i < count; i++) out[i] = fixBits(bytes[i] ?? 0, bs, signed);
		return out;
	}
	if (ba === 16) {
		const out = alloc(count, gray);
		if (bs === 16 && littleEndian) {
			const aligned = bytes.byteOffset % 2 === 0 ? bytes : new Uint8Array(bytes.subarray(0, need)); // copies (Buffer#slice would not)
			const words = signed ? new Int16Array(aligned.buffer, aligned.byteOffset, count) : new Uint16Array(aligned.buffer, aligned.byteOffset, count);
			out.set(words);
		} else if (bs === 16) {
			if (signed) for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, littleEndian);
			else for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, littleEndian);
		} else if (littleEndian) {
			const aligned = bytes.byteOffset % 2 === 0 ? bytes : new Uint8Array(bytes.subarray(0, need)); // copies (Buffer#slice would not)
			const words = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
			const mask = (1 << bs) - 1;
			const sign = 1 << (bs - 1);
			if (signed) {
				for (let i = 0; i < count; i++) {
					const m = (words[i] ?? 0) & mask;
					out[i] = m & sign ? m - (mask + 1) : m;
				}
			} else for (let i = 0; i < count; i++) out[i] = (words[i] ?? 0) & mask;
		} else {
			for (let i = 0; i < count; i++) out[i] = fixBits(view.getUint16(2 * i, littleEndian), bs, signed);
		}
		return out;
	}
	if (ba === 32) {
		const out = new Float64Array(count);
		for (let i = 0; i < count; i++) out[i] = fixBits(view.getUint32(4 * i, littleEndian), bs, signed);
		return out;
	}
	throw new ConvertError("decode", `unsupported Bits Allocated ${ba}`);
}

/**
 * Bits Allocated 12: two pixels in three bytes, as GDCM unpacks them (b0 b1 b2 → p0 = b0 | (b1 & 0x0f) << 8,
 * p1 = b1 >> 4 | b2 << 4), then masked to Bits Stored and sign-extended when signed.
 */
export function unpack12(bytes: Uint8Array, count: number, bits: number, signed: boolean): Int32Array {
	const out = new Int32Array(count);
	for (let i = 0, p = 0; i < count; i += 2, p += 3) {
		const b0 = bytes[p] ?? 0;
		const b1 = bytes[p + 1] ?? 0;
		out[i] = fixBits(b0 | ((b1 & 0x0f) << 8), bits, signed);
		if (i + 1 < count) out[i + 1] = fixBits((b1 >> 4) | ((bytes[p + 2] ?? 0) << 4), bits, signed);
	}
	return out;
}

/**
 * Whether one-channel samples are produced as a Float32Array (see Stored): not for PALETTE COLOR,
 * whose samples are table indices.
 */
function asFloat32Gray(pm: PixelModule, spp: number): boolean {
	return spp === 1 && pm.photometric !== "PALETTE COLOR";
}

/** Turns planar (RRR…GGG…BBB…) samples into pixel-interleaved ones. */
function interleave<T extends Int32Array | Float64Array>(planar: T, pixels: number): T {
	const out = new (planar.constructor as new (n: number) => T)(planar.length);
	for (let c = 0; c < 3; c++) for (let i = 0; i < pixels; i++) out[3 * i + c] = planar[c * pixels + i] ?? 0;
	return out;
}

/** True on little-endian hosts, where a Uint16Array view reads little-endian samples directly. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Reads decoded codec bytes (8 or 16 bits per sample, little endian) as integers: into an Int32Array,
 * or with `asFloat32` into a Float32Array (the same integers, exact), which saves one-channel images a
 * second pass and array in toValues.
 */
function fromCodec(pixels: Uint8Array, bitsPerSample: number, count: number, signed: boolean, bits: number, asFloat32 = false, alloc: SampleAlloc = newSamples): Int32Array | Float32Array {
	const have = bitsPerSample <= 8 ? pixels.length : pixels.length >> 1;
	if (have < count) throw new ConvertError("decode", `the decoder returned ${have} of ${count} samples`);
	const out = alloc(count, asFloat32);
	if (bitsPerSample <= 8) {
		const n = Math.min(count, pixels.length);
		// fixBits(v, b, true) as shifts: keep the low b bits and extend their sign.
		const up = 32 - Math.min(bits, 8);
		if (signed && bits < 1) for (let i = 0; i < n; i++) out[i] = fixBits(pixels[i] ?? 0, Math.min(bits, 8), true);
		else if (signed) for (let i = 0; i < n; i++) out[i] = ((pixels[i] as number) << up) >> up;
		else out.set(pixels.subarray(0, n)); // native widening copy
		return out;
	}
	const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
	const n = Math.min(count, pixels.length >> 1);
	if (LITTLE_ENDIAN && pixels.byteOffset % 2 === 0 && bits >= 1) {
		const words = new Uint16Array(pixels.buffer, pixels.byteOffset, n);
		if (!signed) {
			out.set(words);
			return out;
		}
		const up = 32 - Math.min(bits, 16);
		for (let i = 0; i < n; i++) out[i] = ((words[i] as number) << up) >> up;
		return out;
	}
	if (signed) for (let i = 0; i < n; i++) out[i] = fixBits(view.getUint16(2 * i, true), Math.min(bits, 16), true);
	else for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
	return out;
}

async function decodeEncapsulated(
	parsed: ParsedDicom,
	el: dicomParser.Element,
	pm: PixelModule,
	family: PixelEncoding,
	labelled: PixelEncoding | undefined,
	warnings: string[],
	scratch?: Scratch,
): Promise<Stored> {
	const alloc = sampleAlloc(scratch);
	const frame = firstEncapsulatedFrame(parsed.dataSet, el, pm.frames, family);
	// The decoder follows the codestream (GDCM does the same): JPEG baseline data labelled JPEG
	// Lossless, JPEG 2000 in a file labelled Explicit VR Little Endian, ...
	let encoding = sniffEncoding(frame) ?? family;
	if (encoding === "rle" && labelled !== "native") encoding = family; // the RLE header is a weak signature
	if (labelled !== undefined && encoding !== labelled) {
		warnings.push(`transfer syntax ${transferSyntaxName(parsed.transferSyntaxUid)} but the pixel data holds ${encodingName(encoding, frame)}; decoded as such`);
	}
	const spp = pm.samplesPerPixel === 3 ? 3 : 1;
	const pixelCount = pm.rows * pm.columns;
	const count = pixelCount * spp;
	const signed = pm.pixelRepresentation === 1;
	const bits = Math.min(pm.bitsStored || pm.bitsAllocated, pm.bitsAllocated === 12 ? 16 : pm.bitsAllocated);
	const base = { channels: spp as 1 | 3, bits, signed, isFloat: false };
	const declared = codestreamSize(frame, encoding);
	if (declared && (declared.width !== pm.columns || (declared.height !== 0 && declared.height !== pm.rows))) {
		// Checked before decoding, so a hostile codestream cannot make the codec allocate a huge image.
		throw new ConvertError("decode", `codestream is ${declared.width}×${declared.height} but the header says ${pm.columns}×${pm.rows}`);
	}
	switch (encoding) {
		case "rle": {
			const raw = decodeRleFrame(frame, pixelCount, spp, pm.bitsAllocated);
			return { ...base, samples: readNative(raw, { ...pm, samplesPerPixel: spp }, true, warnings, alloc), colorConverted: false };
		}
		case "deflatedFrame": {
			const raw = inflateFrame(frame, Math.ceil((count * pm.bitsAllocated) / 8));
			return { ...base, samples: readNative(raw, { ...pm, samplesPerPixel: spp }, true, warnings, alloc), colorConverted: false };
		}
		case "jpegLossless": {
			const d = decodeJpegLossless(frame, pm.bitsAllocated);
			checkDecoded(d.width, d.height, d.components, d.precision, d.samples.length, pm, spp, "JPEG Lossless");
			const out = alloc(count, asFloat32Gray(pm, spp));
			if (signed) for (let i = 0; i < count; i++) out[i] = fixBits(d.samples[i] ?? 0, bits, true);
			else out.set(d.samples.subarray(0, count)); // native widening copy
			return { ...base, samples: out, colorConverted: false };
		}
		case "jpeg": {
			const sof = jpegFrameHeader(frame);
			const precision = sof?.precision ?? 8;
			// GDCM decodes YBR_FULL(_422) JPEG without libjpeg's colour conversion and converts the
			// YCbCr samples with its own routine (ybrFullToRgb); RGB-marked JPEG is not converted at all.
			const ybr = spp === 3 && (pm.photometric === "YBR_FULL" || pm.photometric === "YBR_FULL_422");
			if (precision > 8) {
				const d = decodeJpegDct(frame);
				checkDecoded(d.width, d.height, d.components, d.precision, d.samples.length, pm, spp, "JPEG");
				const out = alloc(count, asFloat32Gray(pm, spp));
				if (signed) for (let i = 0; i < count; i++) out[i] = fixBits(d.samples[i] ?? 0, bits, true);
				else out.set(d.samples.subarray(0, count)); // native widening copy
				return { ...base, samples: out, colorConverted: !ybr && d.components === 3 };
			}
			// libjpeg would assume YCbCr for three components without an Adobe marker (or with JFIF), so
			// tell it there is no transform (APP14, transform 0).
			const input = ybr ? withoutColorTransform(frame) : spp === 3 && pm.photometric === "RGB" ? withAdobeNoTransform(frame) : frame;
			// Read straight from the decoder's memory (no copy of the decoded frame).
			const samples = await decodeWasmFrame("libjpegturbo", input, (info, pixels) => {
				checkDecoded(info.width, info.height, info.componentCount, info.bitsPerSample || 8, pixels.length, pm, spp, "JPEG");
				return fromCodec(pixels, 8, count, signed, bits, asFloat32Gray(pm, spp), alloc);
			});
			return { ...base, samples, colorConverted: !ybr };
		}
		case "jpegLs": {
			const { samples: decoded, interleaveMode } = await decodeWasmFrame("charls", frame, (info, pixels, interleaveMode) => {
				checkDecoded(info.width, info.height, info.componentCount, info.bitsPerSample, pixels.length / (info.bitsPerSample > 8 ? 2 : 1), pm, spp, "JPEG-LS");
				return { samples: fromCodec(pixels, info.bitsPerSample, count, signed, bits, asFloat32Gray(pm, spp), alloc), interleaveMode };
			});
			let samples = decoded;
			if (spp === 3 && interleaveMode === 0 && samples instanceof Int32Array) samples = interleave(samples, pixelCount);
			return { ...base, samples, colorConverted: false };
		}
		case "j2k":
		case "htj2k": {
			const { samples, bps, codecSigned } = await decodeWasmFrame(encoding === "j2k" ? "openjpeg" : "openjph", frame, (info, pixels) => {
				const bps = info.bitsPerSample;
				checkDecoded(info.width, info.height, info.componentCount, bps, pixels.length / (bps > 8 ? 2 : 1), pm, spp, encoding === "j2k" ? "JPEG 2000" : "HTJ2K");
				const codecSigned = info.isSigned ?? signed;
				return { samples: fromCodec(pixels, bps, count, codecSigned, bps, asFloat32Gray(pm, spp), alloc), bps, codecSigned };
			});
			if (codecSigned !== signed || bps > bits) {
				// The codestream disagrees with Pixel Representation / Bits Stored: follow the header, as
				// GDCM does (the codestream's values reinterpreted in the header's bits and sign).
				warnings.push(
					`JPEG 2000 codestream is ${codecSigned ? "signed" : "unsigned"} ${bps}-bit but the header says ${signed ? "signed" : "unsigned"} ${bits}-bit; the header is followed`,
				);
				for (let i = 0; i < count; i++) samples[i] = fixBits(samples[i] as number, bits, signed);
			}
			return { ...base, samples, colorConverted: true };
		}
		default:
			throw new ConvertError("decode", `no decoder for ${encoding}`);
	}
}

function encodingName(encoding: PixelEncoding, frame: Uint8Array): string {
	if (encoding === "jpeg") {
		const m = jpegFrameHeader(frame)?.marker ?? 0xc0;
		return m === 0xc2 ? "progressive JPEG" : m === 0xc1 ? "extended JPEG" : m === 0xc0 ? "baseline JPEG" : `JPEG (SOF${m - 0xc0})`;
	}
	const names: Record<PixelEncoding, string> = {
		native: "uncompressed data",
		rle: "an RLE frame",
		deflatedFrame: "a deflated frame",
		jpeg: "JPEG",
		jpegLossless: "lossless JPEG",
		jpegLs: "JPEG-LS",
		j2k: "JPEG 2000",
		htj2k: "HTJ2K",
	};
	return names[encoding];
}

/**
 * Checks what a decoder returned against the header before it is used: size, components,
 * precision (at most Bits Allocated) and sample count. A mismatch is a failure, never a picture.
 */
function checkDecoded(width: number, height: number, components: number, precision: number, samples: number, pm: PixelModule, spp: number, codec: string): void {
	checkSize(width, height, components, pm, spp);
	const allocated = pm.bitsAllocated === 12 ? 16 : pm.bitsAllocated;
	if (precision > allocated) throw new ConvertError("decode", `${codec} codestream has ${precision}-bit samples but Bits Allocated is ${pm.bitsAllocated}`);
	if (samples < pm.rows * pm.columns * spp) throw new ConvertError("decode", `${codec} decoder returned ${samples} of ${pm.rows * pm.columns * spp} samples`);
}

function checkSize(width: number, height: number, components: number, pm: PixelModule, spp: number): void {
	if (width !== pm.columns || height !== pm.rows) {
		throw new ConvertError("decode", `codestream is ${width}×${height} but the header says ${pm.columns}×${pm.rows}`);
	}
	if (components !== spp) throw new ConvertError("decode", `codestream has ${components} components but Samples per Pixel is ${spp}`);
}

/** The image size a JPEG (SOF), JPEG-LS (SOF55) or JPEG 2000 / HTJ2K (SIZ) codestream declares, if found. */
export function codestreamSize(b: Uint8Array, encoding: PixelEncoding): { width: number; height: number } | undefined {
	const u16 = (p: number): number => ((b[p] ?? 0) << 8) | (b[p + 1] ?? 0);
	const u32 = (p: number): number => u16(p) * 65536 + u16(p + 2);
	if (encoding === "j2k" || encoding === "htj2k") {
		const limit = Math.min(b.length - 24, 4096);
		for (let i = 0; i < limit; i++) {
			if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
				const p = i + 4; // Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4)
				return { width: u32(p + 4) - u32(p + 12), height: u32(p + 8) - u32(p + 16) };
			}
		}
		return undefined;
	}
	if (encoding !== "jpeg" && encoding !== "jpegLossless" && encoding !== "jpegLs") return undefined;
	let i = 2;
	while (i + 9 < b.length) {
		if (b[i] !== 0xff) return undefined;
		const m = b[i + 1] ?? 0;
		if (m === 0xff) {
			i++;
			continue;
		}
		if ((m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7) return { height: u16(i + 5), width: u16(i + 7) };
		if (m === 0xda || m === 0xd9) return undefined;
		i += 2 + u16(i + 2);
	}
	return undefined;
}

/** Inserts an Adobe APP14 marker with transform 0 (RGB, no colour conversion) unless one is there. */
export function withAdobeNoTransform(b: Uint8Array): Uint8Array {
	for (let i = 2; i + 9 < b.length && b[i] === 0xff; ) {
		const m = b[i + 1] ?? 0;
		if (m === 0xee && b[i + 4] === 0x41 && b[i + 5] === 0x64 && b[i + 6] === 0x6f && b[i + 7] === 0x62 && b[i + 8] === 0x65) return b;
		if (m === 0xda || m === 0xd9) break;
		i += 2 + (((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0));
	}
	const app14 = [0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00];
	const out = new Uint8Array(b.length + app14.length);
	out.set(b.subarray(0, 2), 0);
	out.set(app14, 2);
	out.set(b.subarray(2), 2 + app14.length);
	return out;
}

/**
 * A copy of a JPEG whose colour space libjpeg reads as "no transform": a JFIF APP0 is renamed (JFIF
 * implies YCbCr and would win) and an Adobe APP14 gets transform 0 (inserted when missing), so the
 * decoder returns the YCbCr samples as they are (upsampled) and we convert them like GDCM.
 */
export function withoutColorTransform(b: Uint8Array): Uint8Array {
	const out = new Uint8Array(b);
	let adobe = false;
	for (let i = 2; i + 9 < out.length && out[i] === 0xff; ) {
		const m = out[i + 1] ?? 0;
		if (m === 0xe0 && out[i + 4] === 0x4a && out[i + 5] === 0x46 && out[i + 6] === 0x49 && out[i + 7] === 0x46) out[i + 4] = 0x58; // "JFIF" → "XFIF"
		if (m === 0xee && out[i + 4] === 0x41 && out[i + 5] === 0x64 && out[i + 6] === 0x6f && out[i + 7] === 0x62 && out[i + 8] === 0x65 && i + 15 < out.length) {
			out[i + 15] = 0;
			adobe = true;
		}
		if (m === 0xda || m === 0xd9) break;
		i += 2 + (((out[i + 2] ?? 0) << 8) | (out[i + 3] ?? 0));
	}
	return adobe ? out : withAdobeNoTransform(out);
}

/**
 * Decodes the first frame of a parsed data set into float32 modality values: stored values →
 * MONOCHROME1 inverted over the stored range → PALETTE COLOR / YBR to RGB → rescale (grayscale only).
 * Throws ConvertError (stage "decode") with a one-line reason.
 */
export async function decodeFirstFrame(parsed: ParsedDicom, maxPixels: number, scratch?: Scratch): Promise<FrameValues> {
	const { dataSet } = parsed;
	const warnings: string[] = [];
	const pm = readPixelModule(dataSet);
	const el = dataSet.elements["x7fe00010"];
	const floatEl = dataSet.elements["x7fe00008"] ?? dataSet.elements["x7fe00009"];
	if (!el && !floatEl) throw new ConvertError("decode", "no pixel data");
	if (pm.rows <= 0 || pm.columns <= 0) throw new ConvertError("decode", `invalid image size ${pm.columns}×${pm.rows}`);
	const pixelCount = pm.rows * pm.columns;
	if (pixelCount > maxPixels) {
		throw new ConvertError("decode", `image of ${pm.columns}×${pm.rows} pixels exceeds the limit of ${maxPixels} pixels`);
	}
	if (pm.samplesPerPixel !== 1 && pm.samplesPerPixel !== 3) throw new ConvertError("decode", `unsupported Samples per Pixel ${pm.samplesPerPixel}`);
	const littleEndian = parsed.transferSyntaxUid !== TS.explicitBE;
	// dicom-parser reads undefined-length Pixel Data as fragments only under an encapsulated transfer
	// syntax; under Implicit VR Little Endian it returns the raw items. Read them ourselves.
	const encapsulated = el && !el.encapsulatedPixelData && el.hadUndefinedLength ? itemsAsFragments(dataSet.byteArray, el) : el;
	let stored: Stored;
	if (!el && floatEl) {
		const isDouble = floatEl.tag === "x7fe00009";
		const size = isDouble ? 8 : 4;
		const count = pixelCount * pm.samplesPerPixel;
		const avail = Math.max(0, Math.min(floatEl.length, dataSet.byteArray.length - floatEl.dataOffset));
		const view = new DataView(dataSet.byteArray.buffer, dataSet.byteArray.byteOffset + floatEl.dataOffset, avail);
		const samples = new Float64Array(count);
		const n = Math.min(count, Math.floor(avail / size));
		if (n < count) warnings.push(`float pixel data holds ${n} of ${count} values; the rest is 0`);
		let nonFinite = 0;
		for (let i = 0; i < n; i++) {
			const v = isDouble ? view.getFloat64(i * size, littleEndian) : view.getFloat32(i * size, littleEndian);
			if (Number.isFinite(v)) samples[i] = v;
			else nonFinite++;
		}
		if (nonFinite) warnings.push(`${nonFinite} NaN or infinite values shown as 0`);
		stored = { samples, channels: pm.samplesPerPixel === 3 ? 3 : 1, colorConverted: false, bits: 32, signed: true, isFloat: true };
	} else if (encapsulated && encapsulated.encapsulatedPixelData) {
		const el = encapsulated;
		const labelled = pixelEncodingOf(parsed.transferSyntaxUid);
		// Encapsulated data under a native label (or an unknown one) is decoded by what its first
		// fragment holds.
		const firstFragment = (el.fragments ?? []).find((f) => f.length > 0);
		const head = firstFragment ? dataSet.byteArray.subarray(firstFragment.position, Math.min(firstFragment.position + firstFragment.length, dataSet.byteArray.length)) : new Uint8Array(0);
		let sniffed = sniffEncoding(head);
		if (sniffed === "rle" && labelled !== "native") sniffed = undefined; // a weak signature: only trusted over a native label
		const family = labelled && labelled !== "native" && sniffed === undefined ? labelled : sniffed;
		if (!family) {
			throw new ConvertError(
				"decode",
				labelled === "native"
					? `pixel data is encapsulated under ${transferSyntaxName(parsed.transferSyntaxUid)} but holds no codestream we recognise`
					: `unsupported transfer syntax ${transferSyntaxName(parsed.transferSyntaxUid)}`,
			);
		}
		try {
			stored = await decodeEncapsulated(parsed, el, pm, family, labelled, warnings, scratch);
		} catch (e) {
			if (e instanceof ConvertError) throw e;
			throw new ConvertError("decode", `${transferSyntaxName(parsed.transferSyntaxUid)} decode failed: ${codecErrorText(e)}`);
		}
	} else if (el) {
		const encoding = pixelEncodingOf(parsed.transferSyntaxUid);
		if (encoding !== "native" && encoding !== undefined) {
			throw new ConvertError("decode", `transfer syntax ${transferSyntaxName(parsed.transferSyntaxUid)} but pixel data is not encapsulated`);
		}
		if (![1, 8, 12, 16, 32].includes(pm.bitsAllocated)) throw new ConvertError("decode", `unsupported Bits Allocated ${pm.bitsAllocated}`);
		const start = Math.min(el.dataOffset, dataSet.byteArray.length);
		const end = Math.min(el.dataOffset + el.length, dataSet.byteArray.length);
		const bytes = dataSet.byteArray.subarray(start, end);
		const spp = pm.samplesPerPixel === 3 ? 3 : 1;
		let samples: Int32Array | Float64Array | Float32Array;
		if (spp === 3 && pm.photometric === "YBR_FULL_422" && pm.bitsAllocated === 8) {
			const need = pixelCount * 2;
			let b = bytes;
			if (b.length < need) {
				warnings.push(`pixel data holds ${b.length} of ${need} bytes; the rest is black`);
				b = new Uint8Array(need);
				b.set(bytes);
			}
			samples = expandYbr422(b, pm.columns, pm.rows);
		} else {
			samples = readNative(bytes, { ...pm, samplesPerPixel: spp }, littleEndian, warnings, sampleAlloc(scratch));
			if (spp === 3 && pm.planarConfiguration === 1 && !(samples instanceof Float32Array)) samples = interleave(samples, pixelCount);
		}
		stored = {
			samples,
			channels: spp,
			colorConverted: false,
			bits: Math.min(pm.bitsStored || pm.bitsAllocated, pm.bitsAllocated),
			signed: pm.pixelRepresentation === 1,
			isFloat: false,
		};
	} else {
		throw new ConvertError("decode", "no pixel data");
	}
	if (parsed.truncated && warnings.length === 0) warnings.push("file is truncated");
	return toValues(parsed, pm, stored, warnings, scratch);
}

/**
 * Undefined-length Pixel Data that dicom-parser left as raw bytes: a sequence of items (FFFE,E000)
 * ending with (FFFE,E0DD). Returns an element with the Basic Offset Table and fragments, or the
 * element itself when its bytes are not items.
 */
export function itemsAsFragments(bytes: Uint8Array, el: dicomParser.Element): dicomParser.Element {
	const u16 = (p: number): number => (bytes[p] ?? 0) | ((bytes[p + 1] ?? 0) << 8);
	const u32 = (p: number): number => (u16(p) | (u16(p + 2) << 16)) >>> 0;
	const end = Math.min(bytes.length, el.dataOffset + el.length + 8);
	let p = el.dataOffset;
	if (u16(p) !== 0xfffe || u16(p + 2) !== 0xe000) return el;
	const botLength = u32(p + 4);
	if (p + 8 + botLength > end) return el;
	const basicOffsetTable: number[] = [];
	for (let i = 0; i + 4 <= botLength; i += 4) basicOffsetTable.push(u32(p + 8 + i));
	p += 8 + botLength;
	const first = p;
	const fragments: dicomParser.Fragment[] = [];
	while (p + 8 <= end && u16(p) === 0xfffe && u16(p + 2) === 0xe000) {
		const length = Math.min(u32(p + 4), end - p - 8);
		fragments.push({ offset: p - first, position: p + 8, length });
		p += 8 + length;
	}
	if (fragments.length === 0) return el;
	return { ...el, encapsulatedPixelData: true, basicOffsetTable, fragments };
}

function codecErrorText(e: unknown): string {
	if (typeof e === "number") return `codec error ${e}`;
	return errorText(e);
}

function toValues(parsed: ParsedDicom, pm: PixelModule, stored: Stored, warnings: string[], scratch?: Scratch): FrameValues {
	const pi = pm.photometric;
	let samples = stored.samples;
	let channels = stored.channels;
	if (channels === 1 && pi === "PALETTE COLOR") {
		samples = applyPalette(parsed.dataSet, samples, pm.bitsAllocated, scratch?.float32("values", samples.length * 3));
		channels = 3;
	} else if (channels === 3 && (pi === "YBR_FULL" || pi === "YBR_FULL_422") && !stored.colorConverted) {
		ybrFullToRgb(samples, stored.bits > 8 ? 2 ** Math.min(stored.bits, 16) - 1 : 255);
	}
	if (channels === 1) {
		const invert = pi === "MONOCHROME1" && !stored.isFloat;
		if (invert) warnings.push("MONOCHROME1 inverted");
		// GDCM inverts over the range of the stored bits: unsigned max - v, signed -1 - v.
		const flip = stored.signed ? -1 : 2 ** stored.bits - 1;
		const { slope, intercept } = pm;
		const rescale = slope !== 1 || intercept !== 0;
		// Exact integers already in float32 (see Stored) are the values, rescaled or inverted in place
		// (each value is read before it is written: the same float64 arithmetic and float32 rounding).
		const values = samples instanceof Float32Array ? samples : (scratch?.float32("values", samples.length) ?? new Float32Array(samples.length));
		if (!invert && !rescale) {
			if (values !== samples) values.set(samples); // native conversion, the same float32 rounding
		} else if (!invert) for (let i = 0; i < samples.length; i++) values[i] = (samples[i] as number) * slope + intercept;
		else if (!rescale) for (let i = 0; i < samples.length; i++) values[i] = flip - (samples[i] as number);
		else for (let i = 0; i < samples.length; i++) values[i] = (flip - (samples[i] as number)) * slope + intercept;
		return { width: pm.columns, height: pm.rows, channels, values, warnings };
	}
	// Colour: palette output is already float32 (exact integers).
	let values: Float32Array;
	if (samples instanceof Float32Array) values = samples;
	else {
		values = scratch?.float32("values", samples.length) ?? new Float32Array(samples.length);
		values.set(samples);
	}
	return { width: pm.columns, height: pm.rows, channels, values, warnings };
}
