/**
 * Hostile DICOM files built from the project's writer (src/core/dicom/writer.ts): a deflate bomb,
 * a data set of very many elements, encapsulated pixel data without a Basic Offset Table. Shared by
 * the unit tests and the memory bench.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { writeDicom, type DicomWriteSpec } from "../../../src/devtools/dicomWriter";

const MB = 1024 * 1024;

/** Offset where the data set starts (after preamble and file meta) in a file the writer wrote. */
export function dataSetStart(file: Uint8Array): number {
	const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
	// 128-byte preamble, "DICM", then (0002,0000) UL: 4 tag + 2 VR + 2 length + 4 value.
	return 132 + 12 + v.getUint32(140, true);
}

/**
 * A deflated (1.2.840.10008.1.2.1.99) file whose header declares a small `rows`×`columns` 8-bit
 * image but whose Pixel Data holds `inflatedBytes` zeros: a few hundred kilobytes on disk per
 * 256 MB inflated. Written to `file` (streaming; never holds the inflated bytes).
 */
export async function writeDeflateBomb(file: string, inflatedBytes: number, rows = 64, columns = 64): Promise<number> {
	const spec: DicomWriteSpec = { rows, columns, bitsAllocated: 8, pixels: new Uint8Array(rows * columns), modality: "OT", sopInstanceUid: "1.2.3.4.5.6.7.8.9", studyInstanceUid: "1.2.3.4", seriesInstanceUid: "1.2.3.4.5" };
	const deflatedFile = writeDicom({ ...spec, transferSyntax: "deflated" });
	const meta = deflatedFile.subarray(0, dataSetStart(deflatedFile));
	const bare = writeDicom({ ...spec, transferSyntax: "explicitLE", preamble: false, fileMeta: false });
	const before = bare.subarray(0, bare.length - rows * columns - 12); // elements before Pixel Data
	const pixelHeader = new Uint8Array(12);
	const v = new DataView(pixelHeader.buffer);
	v.setUint16(0, 0x7fe0, true);
	v.setUint16(2, 0x0010, true);
	pixelHeader.set([0x4f, 0x42], 4); // OB
	const length = inflatedBytes - (inflatedBytes % 2);
	v.setUint32(8, length, true);
	const out = fs.createWriteStream(file);
	out.write(meta);
	const deflate = zlib.createDeflateRaw({ level: 9, memLevel: 9 });
	deflate.pipe(out);
	const done = new Promise<void>((resolve, reject) => {
		out.on("finish", () => resolve());
		out.on("error", reject);
		deflate.on("error", reject);
	});
	deflate.write(before);
	deflate.write(pixelHeader);
	const zeros = Buffer.alloc(4 * MB);
	for (let left = length; left > 0; left -= zeros.length) {
		const chunk = left >= zeros.length ? zeros : zeros.subarray(0, left);
		if (!deflate.write(chunk)) await new Promise<void>((resolve) => deflate.once("drain", () => resolve()));
	}
	deflate.end();
	await done;
	return fs.statSync(file).size;
}

/**
 * An explicit-LE file with `count` empty private elements (LO, length 0) before its Pixel Data: a
 * few megabytes on disk that become `count` objects in the parser (a JS-heap hog).
 */
export function manyElements(count: number, spec: DicomWriteSpec): Uint8Array {
	const file = writeDicom({ ...spec, transferSyntax: "explicitLE" });
	const pixelAt = findPixelDataTag(file);
	const block = new Uint8Array(count * 8);
	const v = new DataView(block.buffer);
	for (let i = 0; i < count; i++) {
		const group = 0x0011 + 2 * Math.floor(i / 0xff00); // odd (private) groups, ascending
		const element = 0x0100 + (i % 0xff00);
		v.setUint16(i * 8, group, true);
		v.setUint16(i * 8 + 2, element, true);
		block[i * 8 + 4] = 0x4c; // L
		block[i * 8 + 5] = 0x4f; // O
	}
	const out = new Uint8Array(file.length + block.length);
	out.set(file.subarray(0, pixelAt), 0);
	out.set(block, pixelAt);
	out.set(file.subarray(pixelAt), pixelAt + block.length);
	return out;
}

/** Offset of the (7FE0,0010) tag in an explicit-LE file. */
export function findPixelDataTag(file: Uint8Array): number {
	for (let i = file.length - 12; i >= 132; i--) {
		if (file[i] === 0xe0 && file[i + 1] === 0x7f && file[i + 2] === 0x10 && file[i + 3] === 0x00 && file[i + 4] === 0x4f) return i;
	}
	throw new Error("no Pixel Data in the file");
}

/** The same encapsulated file with an empty Basic Offset Table (as many real multi-frame files have). */
export function withoutOffsetTable(file: Uint8Array): Uint8Array {
	const at = findPixelDataTag(file) + 12; // item of the offset table
	const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
	if (v.getUint16(at, true) !== 0xfffe || v.getUint16(at + 2, true) !== 0xe000) throw new Error("no offset table item");
	const length = v.getUint32(at + 4, true);
	const out = new Uint8Array(file.length - length);
	out.set(file.subarray(0, at + 8), 0);
	out.set(file.subarray(at + 8 + length), at + 8);
	new DataView(out.buffer).setUint32(at + 4, 0, true);
	return out;
}
