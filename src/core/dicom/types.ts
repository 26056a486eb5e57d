/**
 * Shared types of the DICOM converter. Everything here is plain data so that it can cross a
 * worker boundary (structured clone) unchanged.
 */

/** The header fields the product keeps. Text fields are untrusted strings from the file. */
export interface DicomMeta {
	sopInstanceUid: string;
	seriesInstanceUid: string;
	studyInstanceUid: string;
	sopClassUid: string;
	modality: string;
	transferSyntaxUid: string;
	photometricInterpretation: string;
	rows: number;
	columns: number;
	numberOfFrames: number;
	bitsAllocated: number;
	bitsStored: number;
	/** Free-text fields, shown to the user (as text, never as HTML). Empty string when absent. */
	seriesDescription: string;
	studyDescription: string;
	bodyPartExamined: string;
	seriesNumber: string;
	instanceNumber: string;
}

/** Stages at which a file can fail; part of failures.jsonl. */
export type ConvertStage = "read" | "parse" | "decode" | "window" | "encode";

/** Conversion settings. They are part of the resume key, so keep them few and explicit. */
export interface ConvertOptions {
	/**
	 * zlib level for the PNG sent to the endpoint (0–9). Does not change pixels. Default 1: measured
	 * 4× faster than level 6 on CT slices for PNGs about 20 % larger (docs/benchmarks.md); PNG
	 * encoding is most of the conversion time. Since grayscale PNGs it applies to gray images sent
	 * as RGB (grayscalePng false); grayscale and colour PNGs use the encoder's own profiles
	 * (png/encodePng.ts: GRAY_PNG_DEFAULTS, COLOUR_PNG_DEFAULTS); 0 stores without compression in
	 * every case.
	 */
	pngCompressionLevel: number;
	/** Longest side of the thumbnail PNG (pixels); 0 = no thumbnail. Default 0. */
	thumbnailSize: number;
	/** Refuse images with more pixels than this (protects against hostile headers). Default 64e6. */
	maxPixels: number;
	/**
	 * Gray images as 8-bit grayscale PNGs (colour type 0, about a third smaller than RGB and
	 * cheaper to encode); false = RGB with three equal channels, as the reference. MedImageInsight
	 * turns gray into RGB before its transform, so the model sees the same pixels. Colour images are
	 * RGB either way. Default true. Part of the resume key (see results/resumeKey.ts).
	 */
	grayscalePng: boolean;
	/**
	 * Files larger than this (MB) are refused before they are read (setting
	 * medImageInsight.maxFileSizeMB, CLI --max-file-mb). 0 = no limit. Default 2048.
	 */
	maxFileSizeMB?: number;
}

export const defaultConvertOptions: Readonly<ConvertOptions> = Object.freeze({
	pngCompressionLevel: 1,
	thumbnailSize: 0,
	maxPixels: 64_000_000,
	grayscalePng: true,
	maxFileSizeMB: 2048,
});

/** The outcome of converting one file: exactly one of image, skipped (holds no image) or failed. */
export type ConvertOutcome =
	| {
			kind: "image";
			/** 8-bit RGB PNG, the seed-exact picture. */
			png: Uint8Array;
			/** Small RGB PNG for the results view, when asked for. */
			thumbnail?: Uint8Array;
			width: number;
			height: number;
			meta: DicomMeta;
			/** Notes about what was done differently from the reference, e.g. "MONOCHROME1 inverted". */
			warnings: string[];
			/**
			 * Set when the 10th and 90th percentiles were equal on an image that is not constant: the
			 * picture is windowed over its min–max range (the reference's formula gives black there).
			 */
			window?: "min-max";
	  }
	| { kind: "skipped"; reason: string; meta?: Partial<DicomMeta> }
	| { kind: "failed"; stage: ConvertStage; error: string; meta?: Partial<DicomMeta> };
