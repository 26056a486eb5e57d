import { detectBareStart } from "./parse";

/**
 * Whether a file should be treated as DICOM: `DICM` at byte 128, a `.dcm`/`.dicom` name (any case),
 * or a head that parses as a data set without preamble (a group 0002 element with an explicit VR, or
 * a group 0008-ish element in explicit or implicit VR). `head` is the first 512 bytes or fewer.
 */
export function looksLikeDicom(head: Uint8Array, fileName: string): boolean {
	if (/\.(dcm|dicom)$/i.test(fileName)) return true;
	if (head.length >= 132 && head[128] === 0x44 && head[129] === 0x49 && head[130] === 0x43 && head[131] === 0x4d) return true;
	const start = detectBareStart(head);
	if (start === undefined) return false;
	if (start === "implicitLE") return plausibleImplicit(head);
	return true;
}

/** Walks the first implicit-VR elements: tags must ascend within the head and lengths stay sane. */
function plausibleImplicit(head: Uint8Array): boolean {
	const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
	let pos = 0;
	let last = -1;
	let elements = 0;
	while (pos + 8 <= head.length && elements < 4) {
		const tag = view.getUint16(pos, true) * 0x10000 + view.getUint16(pos + 2, true);
		const length = view.getUint32(pos + 4, true);
		if (tag <= last) return false;
		if (length === 0xffffffff) return elements >= 1 || tag >= 0x00080000;
		if (length > 0x100000) return false;
		last = tag;
		pos += 8 + length;
		elements++;
	}
	return elements >= 2 || (elements === 1 && pos >= head.length);
}
