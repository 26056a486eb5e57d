/**
 * What an encapsulated frame really holds, read from its first bytes (GDCM, the reference, also
 * looks at the codestream rather than trusting the transfer syntax UID alone).
 */
import type { PixelEncoding } from "./transferSyntax";

/** The JPEG frame header (SOFn) of a JPEG-family codestream. */
export interface JpegFrameHeader {
	/** SOF marker (0xc0 baseline, 0xc1 extended, 0xc2 progressive, 0xc3 lossless, 0xf7 JPEG-LS, ...). */
	marker: number;
	precision: number;
	height: number;
	width: number;
	components: number;
	/** Horizontal and vertical sampling factors per component. */
	sampling: { h: number; v: number }[];
}

/** Reads the first SOFn (or JPEG-LS SOF55) of a JPEG codestream; undefined when none is found before a scan. */
export function jpegFrameHeader(b: Uint8Array): JpegFrameHeader | undefined {
	if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
	const u16 = (p: number): number => ((b[p] ?? 0) << 8) | (b[p + 1] ?? 0);
	let i = 2;
	while (i + 3 < b.length) {
		if (b[i] !== 0xff) {
			i++; // tolerate garbage between segments, as libjpeg does (with a warning)
			continue;
		}
		const m = b[i + 1] ?? 0;
		if (m === 0xff) {
			i++;
			continue;
		}
		if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7) || m === 0x01 || m === 0x00) {
			i += 2;
			continue;
		}
		if ((m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7) {
			const p = i + 4;
			const components = b[p + 5] ?? 0;
			const sampling: { h: number; v: number }[] = [];
			for (let c = 0; c < components; c++) {
				const s = b[p + 7 + 3 * c] ?? 0x11;
				sampling.push({ h: s >> 4, v: s & 15 });
			}
			return { marker: m, precision: b[p] ?? 0, height: u16(p + 1), width: u16(p + 3), components, sampling };
		}
		if (m === 0xda || m === 0xd9) return undefined;
		i += 2 + u16(i + 2);
	}
	return undefined;
}

/** True for a JPEG 2000 codestream (SOC + SIZ) or a JP2 file (signature box). */
function isJ2k(b: Uint8Array): boolean {
	return (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) || (b.length >= 12 && b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20);
}

/** True when a JPEG 2000 main header has a CAP marker announcing Part 15 (High-Throughput) block coding. */
function isHtj2k(b: Uint8Array): boolean {
	let start = 0;
	if (!(b[0] === 0xff && b[1] === 0x4f)) {
		// JP2: find the contiguous codestream box.
		for (let i = 0; i + 8 < Math.min(b.length, 4096); i++) {
			if (b[i] === 0x6a && b[i + 1] === 0x70 && b[i + 2] === 0x32 && b[i + 3] === 0x63) {
				start = i + 4;
				break;
			}
		}
		if (!(b[start] === 0xff && b[start + 1] === 0x4f)) return false;
	}
	let i = start + 2;
	const end = Math.min(b.length, start + 65536);
	while (i + 4 <= end) {
		if (b[i] !== 0xff) return false;
		const m = b[i + 1] ?? 0;
		if (m === 0x50) {
			// Lcap(2) Pcap(4): bit 15 from the top (Part 15) set.
			const pcap = (((b[i + 4] ?? 0) << 24) | ((b[i + 5] ?? 0) << 16) | ((b[i + 6] ?? 0) << 8) | (b[i + 7] ?? 0)) >>> 0;
			return (pcap & 0x00020000) !== 0;
		}
		if (m === 0x90 || m === 0x93 || m === 0xd9) return false; // first tile: the main header is over
		i += 2 + (((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0));
	}
	return false;
}

/** True for an RLE Lossless frame: a 64-byte header with 1–15 segments, the first right after it. */
function isRle(b: Uint8Array): boolean {
	if (b.length < 64) return false;
	const n = (b[0] ?? 0) | ((b[1] ?? 0) << 8) | ((b[2] ?? 0) << 16) | ((b[3] ?? 0) << 24);
	const first = (b[4] ?? 0) | ((b[5] ?? 0) << 8) | ((b[6] ?? 0) << 16) | ((b[7] ?? 0) << 24);
	return n >= 1 && n <= 15 && first === 64;
}

/**
 * The encoding a frame's bytes hold: JPEG (SOF0/1/2 → "jpeg", SOF3 → "jpegLossless", SOF55 →
 * "jpegLs"), JPEG 2000 (with a Part 15 CAP marker → "htj2k") or RLE. Undefined when the bytes are
 * none of these (e.g. deflated frames); the caller then goes by the transfer syntax.
 */
export function sniffEncoding(b: Uint8Array): PixelEncoding | undefined {
	if (b[0] === 0xff && b[1] === 0xd8) {
		const sof = jpegFrameHeader(b);
		if (!sof) return "jpeg";
		if (sof.marker === 0xf7) return "jpegLs";
		if (sof.marker === 0xc3 || sof.marker === 0xc7 || sof.marker === 0xcb || sof.marker === 0xcf) return "jpegLossless";
		return "jpeg";
	}
	if (isJ2k(b)) return isHtj2k(b) ? "htj2k" : "j2k";
	if (isRle(b)) return "rle";
	return undefined;
}
