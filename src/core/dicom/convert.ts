import { boxDownscale } from "../imaging/thumbnail";
import { windowImage, type WindowedImage } from "../imaging/window";
import { convertPngOptions, encodePng } from "../png/encodePng";
import { giveBackScratch, takeScratch, type Scratch } from "../util/scratch";
import { ConvertError, errorText } from "./convertError";

/** The uint8 array right before PNG encoding (gray stays one channel); throws on failure. */
export { decodeToUint8 } from "./decode";
import { readMeta } from "./meta";
import { parseDicomBytes, type ParsedDicom } from "./parse";
import { decodeFirstFrame, type FrameValues } from "./pixels";
import { defaultConvertOptions, type ConvertOptions, type ConvertOutcome, type DicomMeta } from "./types";

/** Limits of one conversion (from the worker pool). */
export interface ConvertLimits {
	/** Memory one conversion may use, in bytes (default 1024 MB): a larger image fails before it is decoded. */
	memoryBudgetBytes?: number;
}

const MB = 1024 * 1024;
export const defaultMemoryBudgetBytes = 1024 * MB;

/**
 * Memory a conversion needs, estimated from the header: the file's bytes, plus per sample the
 * decoded integers (4 or 8 bytes), the float32 values (4), codec output (up to 4), the uint8
 * picture (1) and the PNG (up to 3 for gray sent as RGB).
 */
export function memoryNeeded(fileBytes: number, meta: Pick<DicomMeta, "rows" | "columns" | "photometricInterpretation" | "bitsAllocated">): number {
	const pi = meta.photometricInterpretation.toUpperCase();
	const samples = pi.startsWith("RGB") || pi.startsWith("YBR") || pi === "PALETTE COLOR" ? 3 : 1;
	const perSample = 16 + (meta.bitsAllocated > 16 ? 4 : 0);
	return fileBytes + meta.rows * meta.columns * samples * perSample;
}

/** The note on an image windowed over its min–max range (the reference would give black). */
export const minMaxWarning = "10th and 90th percentiles are equal; windowed over the min–max range instead (the reference gives black)";

/** Readable names of SOP classes that hold no image (for the "skipped" reason). */
function noImageKind(sopClassUid: string): string {
	if (sopClassUid === "1.2.840.10008.1.3.10") return "a DICOMDIR (media directory)";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.88.")) return "a structured report or key object selection";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.11.")) return "a presentation state";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.9.")) return "a waveform";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.481.")) return "an RT object without an image";
	if (sopClassUid === "1.2.840.10008.5.1.4.39.1") return "a color palette";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.104.")) return "an encapsulated document";
	if (sopClassUid.startsWith("1.2.840.10008.5.1.4.1.1.66")) return "a raw data, registration or segmentation object";
	return sopClassUid ? `an object of SOP class ${sopClassUid}` : "an object without an image";
}

/** SOP classes that never hold pixel data (reports, presentation states, directories, ...). */
function isNonImageClass(sopClassUid: string): boolean {
	const imageClasses = ["1.2.840.10008.5.1.4.1.1.481.1", "1.2.840.10008.5.1.4.1.1.481.2", "1.2.840.10008.5.1.4.1.1.66.4"];
	if (imageClasses.includes(sopClassUid)) return false;
	return !noImageKind(sopClassUid).startsWith("an object");
}

/**
 * A colour picture whose every pixel has R = G = B (an ultrasound or a screenshot stored as RGB but
 * gray, say) as one channel: its gray PNG decodes to exactly the same RGB and is about a third of the
 * size. Undefined when any pixel has colour.
 */
export function grayOfEqualChannels(data: Uint8Array, channels: number): Uint8Array | undefined {
	if (channels !== 3) return undefined;
	const n = data.length / 3;
	for (let i = 0, j = 0; i < n; i++, j += 3) {
		const r = data[j]!;
		if (data[j + 1] !== r || data[j + 2] !== r) return undefined;
	}
	const gray = new Uint8Array(n);
	for (let i = 0, j = 0; i < n; i++, j += 3) gray[i] = data[j]!;
	return gray;
}

function hasPixelData(parsed: ParsedDicom): boolean {
	const e = parsed.dataSet.elements;
	return Boolean(e["x7fe00010"] ?? e["x7fe00008"] ?? e["x7fe00009"]);
}

/**
 * Converts one DICOM file to the seed-exact 8-bit RGB PNG (first frame, 10/90 percentile window).
 * Never throws: every problem becomes `failed` with a stage and a one-line reason; a file without an
 * image (report, presentation state, DICOMDIR, ...) becomes `skipped`.
 */
export async function convertDicomBytes(
	bytes: Uint8Array,
	options: ConvertOptions = defaultConvertOptions,
	_fileName?: string,
	limits: ConvertLimits = {},
	scratch?: Scratch,
): Promise<ConvertOutcome> {
	// The thread's reusable arrays for this conversion, unless the caller holds them (none while another
	// conversion does); nothing that this function returns is one of them.
	const own = scratch ? undefined : takeScratch();
	try {
		return await convertWith(bytes, options, limits, scratch ?? own);
	} finally {
		giveBackScratch(own);
	}
}

async function convertWith(bytes: Uint8Array, options: ConvertOptions, limits: ConvertLimits, scratch: Scratch | undefined): Promise<ConvertOutcome> {
	const budget = limits.memoryBudgetBytes ?? defaultMemoryBudgetBytes;
	let parsed: ParsedDicom;
	try {
		parsed = parseDicomBytes(bytes, { maxInflatedBytes: budget / 2 });
	} catch (e) {
		return { kind: "failed", stage: e instanceof ConvertError ? e.stage : "parse", error: errorText(e) };
	}
	let meta: DicomMeta;
	try {
		meta = readMeta(parsed.dataSet, parsed.transferSyntaxUid);
	} catch (e) {
		return { kind: "failed", stage: "parse", error: `cannot read the header: ${errorText(e)}` };
	}
	const needed = memoryNeeded(bytes.length, meta);
	// (An image above the pixel cap fails at decode, naming the cap.)
	if (needed > budget && meta.rows * meta.columns <= options.maxPixels) {
		const error = `converting this ${meta.columns}×${meta.rows} image needs about ${Math.ceil(needed / MB)} MB, over the memory budget of ${Math.floor(budget / MB)} MB per conversion worker`;
		return { kind: "failed", stage: "decode", error, meta };
	}
	if (!hasPixelData(parsed)) {
		if (parsed.truncated && !isNonImageClass(meta.sopClassUid)) {
			return { kind: "failed", stage: "parse", error: "file ends before its pixel data (truncated)", meta };
		}
		const reason = `holds no image: ${noImageKind(meta.sopClassUid)}${parsed.truncated ? " (file truncated)" : ""}`;
		return { kind: "skipped", reason, meta };
	}
	let frame: FrameValues;
	try {
		frame = await decodeFirstFrame(parsed, options.maxPixels > 0 ? options.maxPixels : defaultConvertOptions.maxPixels, scratch);
	} catch (e) {
		return { kind: "failed", stage: e instanceof ConvertError ? e.stage : "decode", error: errorText(e), meta };
	}
	let windowed: WindowedImage;
	try {
		windowed = windowImage(frame.values, scratch);
	} catch (e) {
		return { kind: "failed", stage: "window", error: errorText(e), meta };
	}
	// Gray PNGs (unless RGB is asked for): also for colour images that hold no colour at all.
	const gray = options.grayscalePng !== false ? grayOfEqualChannels(windowed.data, frame.channels) : undefined;
	const image = gray ? { data: gray, width: frame.width, height: frame.height, channels: 1 as const } : { data: windowed.data, width: frame.width, height: frame.height, channels: frame.channels };
	try {
		const png = encodePng(image.data, image.width, image.height, image.channels, convertPngOptions(image.channels, options.grayscalePng !== false, options.pngCompressionLevel));
		const warnings = [...parsed.warnings, ...frame.warnings];
		if (meta.numberOfFrames > 1) warnings.push(`first of ${meta.numberOfFrames} frames`);
		if (windowed.window === "min-max") warnings.push(minMaxWarning);
		const result: ConvertOutcome = { kind: "image", png, width: image.width, height: image.height, meta, warnings };
		if (windowed.window === "min-max") result.window = "min-max";
		if (options.thumbnailSize > 0) {
			const t = boxDownscale(image.data, image.width, image.height, image.channels, options.thumbnailSize);
			result.thumbnail = encodePng(t.data, t.width, t.height, image.channels, convertPngOptions(image.channels, options.grayscalePng !== false, options.pngCompressionLevel));
		}
		return result;
	} catch (e) {
		return { kind: "failed", stage: "encode", error: errorText(e), meta };
	}
}
