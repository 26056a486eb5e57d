/** Transfer syntax UIDs the converter knows, and how each one stores its pixel data. */
export const TS = Object.freeze({
	implicitLE: "1.2.840.10008.1.2",
	explicitLE: "1.2.840.10008.1.2.1",
	deflatedLE: "1.2.840.10008.1.2.1.99",
	explicitBE: "1.2.840.10008.1.2.2",
	jpegBaseline: "1.2.840.10008.1.2.4.50",
	jpegExtended: "1.2.840.10008.1.2.4.51",
	jpegSpectralSelection: "1.2.840.10008.1.2.4.53",
	jpegFullProgression: "1.2.840.10008.1.2.4.55",
	jpegLossless: "1.2.840.10008.1.2.4.57",
	jpegLosslessSV1: "1.2.840.10008.1.2.4.70",
	jpegLsLossless: "1.2.840.10008.1.2.4.80",
	jpegLsNear: "1.2.840.10008.1.2.4.81",
	j2kLossless: "1.2.840.10008.1.2.4.90",
	j2k: "1.2.840.10008.1.2.4.91",
	htj2kLossless: "1.2.840.10008.1.2.4.201",
	htj2kLosslessRpcl: "1.2.840.10008.1.2.4.202",
	htj2k: "1.2.840.10008.1.2.4.203",
	rle: "1.2.840.10008.1.2.5",
	deflatedFrame: "1.2.840.10008.1.2.8.1",
});

/** How the pixel data of a transfer syntax is encoded. */
export type PixelEncoding = "native" | "rle" | "deflatedFrame" | "jpeg" | "jpegLossless" | "jpegLs" | "j2k" | "htj2k";

/** Maps a transfer syntax UID to its pixel encoding, or undefined for one we cannot decode. */
export function pixelEncodingOf(uid: string): PixelEncoding | undefined {
	switch (uid) {
		case TS.implicitLE:
		case TS.explicitLE:
		case TS.deflatedLE:
		case TS.explicitBE:
		case "1.2.840.10008.1.2.1.98": // encapsulated uncompressed explicit LE
			return uid === "1.2.840.10008.1.2.1.98" ? undefined : "native";
		case TS.rle:
			return "rle";
		case TS.deflatedFrame:
			return "deflatedFrame";
		case TS.jpegBaseline:
		case TS.jpegExtended:
		case TS.jpegSpectralSelection: // retired, processes 6/8 (progressive, spectral selection)
		case TS.jpegFullProgression: // retired, processes 10/12 (progressive, full progression)
			return "jpeg";
		case TS.jpegLossless:
		case TS.jpegLosslessSV1:
			return "jpegLossless";
		case TS.jpegLsLossless:
		case TS.jpegLsNear:
			return "jpegLs";
		case TS.j2kLossless:
		case TS.j2k:
			return "j2k";
		case TS.htj2kLossless:
		case TS.htj2kLosslessRpcl:
		case TS.htj2k:
			return "htj2k";
		default:
			return undefined;
	}
}

const names: Record<string, string> = {
	[TS.implicitLE]: "Implicit VR Little Endian",
	[TS.explicitLE]: "Explicit VR Little Endian",
	[TS.deflatedLE]: "Deflated Explicit VR Little Endian",
	[TS.explicitBE]: "Explicit VR Big Endian",
	[TS.jpegBaseline]: "JPEG Baseline",
	[TS.jpegExtended]: "JPEG Extended",
	[TS.jpegSpectralSelection]: "JPEG Spectral Selection (retired)",
	[TS.jpegFullProgression]: "JPEG Full Progression (retired)",
	[TS.jpegLossless]: "JPEG Lossless",
	[TS.jpegLosslessSV1]: "JPEG Lossless SV1",
	[TS.jpegLsLossless]: "JPEG-LS Lossless",
	[TS.jpegLsNear]: "JPEG-LS Near-Lossless",
	[TS.j2kLossless]: "JPEG 2000 Lossless",
	[TS.j2k]: "JPEG 2000",
	[TS.htj2kLossless]: "HTJ2K Lossless",
	[TS.htj2kLosslessRpcl]: "HTJ2K Lossless RPCL",
	[TS.htj2k]: "HTJ2K",
	[TS.rle]: "RLE Lossless",
	[TS.deflatedFrame]: "Deflated Image Frame Compression",
	"1.2.840.10008.1.2.4.100": "MPEG2",
	"1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
	"1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD",
	"1.2.840.10008.1.2.4.110": "MPEG-4 AVC/H.264 Stereo",
	"1.2.840.10008.1.2.4.107": "HEVC/H.265",
	"1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10",
};

/** A readable name for a transfer syntax UID (the UID itself when unknown). */
export function transferSyntaxName(uid: string): string {
	return names[uid] ?? uid;
}
