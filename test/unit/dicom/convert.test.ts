// The converter on files the tests write with our own writer: every transfer syntax family we can
// encode, sign, rescale, MONOCHROME1, multi-frame, garbage high bits, broken and hostile files.
//
// Most images are 1×11 pixels so that numpy's percentiles land on samples: with n = 11 the 10th
// and 90th percentiles are the sorted values at index 1 and 9 exactly. The values below sort to
// [0, 100, 101, 150, 200, 227, 300, 354, 355, 355, 4000], so lo = 100, hi = 355, hi - lo = 255 and
// the windowed value is simply clip(v, 100, 355) - 100 (exact in float32).
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { decodeToUint8 } from "../../../src/core/dicom/decode";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom, writeDicomAsync, type DicomWriteSpec } from "../../../src/devtools/dicomWriter";

const VALUES = [200, 0, 355, 101, 4000, 150, 354, 100, 227, 355, 300];
/** clip(v, 100, 355) - 100, by hand. */
const EXPECTED = [100, 0, 255, 1, 255, 50, 254, 0, 127, 255, 200];
/** The same picture inverted (255 - EXPECTED): what MONOCHROME1 or a negative slope gives. */
const INVERTED = [155, 255, 0, 254, 0, 205, 1, 255, 128, 0, 55];

const base: DicomWriteSpec = { rows: 1, columns: 11, bitsAllocated: 16, pixels: VALUES, modality: "CT" };

async function gray(bytes: Uint8Array): Promise<number[]> {
	const img = await decodeToUint8(bytes);
	assert.equal(img.channels, 1);
	return [...img.data];
}

for (const transferSyntax of ["implicitLE", "explicitLE", "explicitBE", "deflated", "rle"] as const) {
	void test(`${transferSyntax}: 16-bit unsigned windows to clip(v, p10, p90) scaled to 0..255`, async () => {
		assert.deepEqual(await gray(writeDicom({ ...base, transferSyntax })), EXPECTED);
	});
}

for (const transferSyntax of ["jpegLs", "j2k"] as const) {
	void test(`${transferSyntax} (lossless, WASM encoder): same picture as uncompressed`, async () => {
		assert.deepEqual(await gray(await writeDicomAsync({ ...base, transferSyntax })), EXPECTED);
		const signed = VALUES.map((v) => v - 2000);
		assert.deepEqual(await gray(await writeDicomAsync({ ...base, transferSyntax, pixels: signed, pixelRepresentation: 1 })), EXPECTED);
	});
}

void test("JPEG baseline (lossy 8-bit): close to the uncompressed picture", async () => {
	const rows = 64;
	const columns = 64;
	const pixels = Array.from({ length: rows * columns }, (_, i) => (i % columns) * 2 + Math.floor(i / columns));
	const spec: DicomWriteSpec = { rows, columns, bitsAllocated: 8, pixels };
	const lossless = await gray(writeDicom(spec));
	const lossy = await gray(await writeDicomAsync({ ...spec, transferSyntax: "jpegBaseline" }));
	const worst = Math.max(...lossy.map((v, i) => Math.abs(v - (lossless[i] ?? 0))));
	assert.ok(worst <= 12, `largest difference ${worst}`);
});

void test("signed 16-bit: a constant offset does not change the picture", async () => {
	assert.deepEqual(await gray(writeDicom({ ...base, pixels: VALUES.map((v) => (v - 2000) & 0xffff), pixelRepresentation: 1 })), EXPECTED);
});

void test("rescale slope 2 intercept -1000 keeps the picture; slope -1 inverts it", async () => {
	assert.deepEqual(await gray(writeDicom({ ...base, rescaleSlope: 2, rescaleIntercept: -1000 })), EXPECTED);
	assert.deepEqual(await gray(writeDicom({ ...base, rescaleSlope: -1, rescaleIntercept: 0 })), INVERTED);
});

void test("fractional slope 0.5: percentiles interpolate and scaling truncates like numpy", async () => {
	// Values 0..10 (n = 11) times 0.5: lo = 0.5, hi = 4.5; (v - 0.5) * 255 / 4 truncated:
	// v=0→0 (clipped), 0.5→0, 1→31.875→31, 1.5→63.75→63, 2→95.625→95, 2.5→127.5→127,
	// 3→159.375→159, 3.5→191.25→191, 4→223.125→223, 4.5→255, 5→255 (clipped).
	const out = await gray(writeDicom({ ...base, pixels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], rescaleSlope: 0.5, rescaleIntercept: 0 }));
	assert.deepEqual(out, [0, 0, 31, 63, 95, 127, 159, 191, 223, 255, 255]);
});

void test("MONOCHROME1 is inverted before windowing (12 bits stored)", async () => {
	const out = await gray(writeDicom({ ...base, bitsStored: 12, photometricInterpretation: "MONOCHROME1" }));
	assert.deepEqual(out, INVERTED);
	const conv = await convertDicomBytes(writeDicom({ ...base, bitsStored: 12, photometricInterpretation: "MONOCHROME1" }), defaultConvertOptions);
	assert.equal(conv.kind, "image");
	if (conv.kind === "image") assert.ok(conv.warnings.includes("MONOCHROME1 inverted"));
});

void test("BitsStored 12 of 16 with garbage in the high bits: masked (unsigned) and sign-extended (signed)", async () => {
	const unsigned = VALUES.map((v) => v | 0xa000);
	assert.deepEqual(await gray(writeDicom({ ...base, bitsStored: 12, pixels: unsigned })), EXPECTED);
	const signed = VALUES.map((v) => ((v - 2000) & 0x0fff) | 0x5000);
	assert.deepEqual(await gray(writeDicom({ ...base, bitsStored: 12, pixelRepresentation: 1, pixels: signed })), EXPECTED);
});

void test("8-bit and 32-bit samples", async () => {
	// 8-bit: two 0s and two 255s put lo = 0 and hi = 255, so values come out unchanged.
	const eight = [10, 0, 255, 20, 255, 30, 40, 0, 50, 60, 70];
	assert.deepEqual(await gray(writeDicom({ ...base, bitsAllocated: 8, pixels: eight })), eight);
	assert.deepEqual(await gray(writeDicom({ ...base, bitsAllocated: 32, pixels: VALUES.map((v) => v + 1_000_000) })), EXPECTED);
});

void test("multi-frame: only the first frame is converted", async () => {
	const second = VALUES.map(() => 7);
	const bytes = writeDicom({ ...base, frames: 2, pixels: [...VALUES, ...second] });
	assert.deepEqual(await gray(bytes), EXPECTED);
	const rle = writeDicom({ ...base, frames: 2, pixels: [...second, ...VALUES], transferSyntax: "rle" });
	assert.deepEqual(await gray(rle), new Array(11).fill(0), "frame 1 constant → zeros");
	const conv = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.ok(conv.kind === "image" && conv.warnings.some((w) => w.includes("first of 2 frames")));
});

void test("RGB (planar 0 and 1) and PALETTE COLOR become RGB", async () => {
	// 1×7 RGB = 21 values: percentile indices 2 and 18, so three 0s and three 255s make lo = 0,
	// hi = 255 and the output equals the input.
	const rgb = [0, 255, 0, 255, 0, 255, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130];
	for (const planarConfiguration of [0, 1] as const) {
		for (const transferSyntax of ["explicitLE", "rle"] as const) {
			const img = await decodeToUint8(writeDicom({ rows: 1, columns: 7, samplesPerPixel: 3, bitsAllocated: 8, pixels: rgb, planarConfiguration, transferSyntax }));
			assert.equal(img.channels, 3);
			assert.deepEqual([...img.data], rgb, `planar ${planarConfiguration} ${transferSyntax}`);
		}
	}
	// Palette: red = index, green = 255 - index, blue = 128 (16-bit entries; GDCM keeps the high byte).
	const lut = (f: (i: number) => number): number[] => Array.from({ length: 256 }, (_, i) => f(i) * 256);
	const img = await decodeToUint8(
		writeDicom({ rows: 1, columns: 7, bitsAllocated: 8, pixels: [0, 255, 0, 255, 10, 20, 30], palette: { red: lut((i) => i), green: lut((i) => 255 - i), blue: lut(() => 128) } }),
	);
	assert.equal(img.channels, 3);
	assert.deepEqual([...img.data], [0, 255, 128, 255, 0, 128, 0, 255, 128, 255, 0, 128, 10, 245, 128, 20, 235, 128, 30, 225, 128]);
});

void test("files without preamble, and without any file meta, still convert", async () => {
	assert.deepEqual(await gray(writeDicom({ ...base, preamble: false })), EXPECTED);
	assert.deepEqual(await gray(writeDicom({ ...base, preamble: false, fileMeta: false, transferSyntax: "explicitLE" })), EXPECTED);
	assert.deepEqual(await gray(writeDicom({ ...base, preamble: false, fileMeta: false, transferSyntax: "implicitLE" })), EXPECTED);
});

void test("meta carries UIDs, modality and descriptions", async () => {
	const bytes = writeDicom({ ...base, sopInstanceUid: "1.2.3.4", seriesInstanceUid: "1.2.3", studyInstanceUid: "1.2", modality: "MR", seriesDescription: "T1 axial", studyDescription: "Head", bodyPartExamined: "HEAD", seriesNumber: 3, instanceNumber: 12 });
	const out = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.equal(out.kind, "image");
	if (out.kind !== "image") return;
	assert.deepEqual(
		[out.meta.sopInstanceUid, out.meta.seriesInstanceUid, out.meta.studyInstanceUid, out.meta.modality, out.meta.seriesDescription, out.meta.studyDescription, out.meta.bodyPartExamined, out.meta.seriesNumber, out.meta.instanceNumber],
		["1.2.3.4", "1.2.3", "1.2", "MR", "T1 axial", "Head", "HEAD", "3", "12"],
	);
	assert.deepEqual([out.meta.rows, out.meta.columns, out.meta.bitsAllocated, out.meta.numberOfFrames], [1, 11, 16, 1]);
});

void test("the PNG is 8-bit RGB with gray replicated, and the thumbnail's longest side is thumbnailSize", async () => {
	const rows = 40;
	const columns = 100;
	const pixels = Array.from({ length: rows * columns }, (_, i) => i % 997);
	const out = await convertDicomBytes(writeDicom({ rows, columns, bitsAllocated: 16, pixels }), { ...defaultConvertOptions, thumbnailSize: 25 });
	assert.equal(out.kind, "image");
	if (out.kind !== "image" || !out.thumbnail) return assert.fail("no thumbnail");
	const png = PNG.sync.read(Buffer.from(out.png));
	assert.deepEqual([png.width, png.height], [100, 40]);
	assert.equal(png.data[0], png.data[1]);
	const thumb = PNG.sync.read(Buffer.from(out.thumbnail));
	assert.deepEqual([thumb.width, thumb.height], [25, 10]);
});

void test("a file without pixel data is skipped with a reason", async () => {
	const out = await convertDicomBytes(writeDicom({ rows: 0, columns: 0, bitsAllocated: 8, sopClassUid: "1.2.840.10008.5.1.4.1.1.88.11" }), defaultConvertOptions);
	assert.equal(out.kind, "skipped");
	if (out.kind === "skipped") assert.match(out.reason, /no image.*structured report/);
});

void test("truncated files: short pixel data is padded with a warning; a file cut in its header fails", async () => {
	const rows = 32;
	const columns = 32;
	const full = writeDicom({ rows, columns, bitsAllocated: 16, pixels: Array.from({ length: rows * columns }, (_, i) => i) });
	const cut = await convertDicomBytes(full.subarray(0, full.length - 200), defaultConvertOptions);
	assert.equal(cut.kind, "image", JSON.stringify(cut).slice(0, 200));
	if (cut.kind === "image") assert.ok(cut.warnings.some((w) => /pixel data holds/.test(w)), cut.warnings.join("; "));
	const header = await convertDicomBytes(full.subarray(0, 300), defaultConvertOptions);
	assert.equal(header.kind, "failed", JSON.stringify(header).slice(0, 200));
	const half = await convertDicomBytes(full.subarray(0, full.length - 1500), defaultConvertOptions);
	assert.equal(half.kind, "failed");
	if (half.kind === "failed") assert.match(half.error, /pixel data holds only/);
});

void test("random garbage and empty input fail at parse with a one-line reason", async () => {
	let seed = 12345;
	const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
	for (const bytes of [new Uint8Array(0), Uint8Array.from({ length: 5000 }, rand), (() => { const b = Uint8Array.from({ length: 5000 }, rand); b.set([0x44, 0x49, 0x43, 0x4d], 128); return b; })()]) {
		const out = await convertDicomBytes(bytes, defaultConvertOptions);
		assert.equal(out.kind, "failed", JSON.stringify(out).slice(0, 200));
		if (out.kind === "failed") {
			assert.equal(out.stage, "parse");
			assert.ok(!out.error.includes("\n") && out.error.length > 5);
		}
	}
});

void test("a header claiming 65535×65535 pixels fails with a reason before allocating", async () => {
	const bytes = writeDicom({ ...base, overrides: [[0x00280010, "US", 65535], [0x00280011, "US", 65535]] });
	const out = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.equal(out.kind, "failed");
	if (out.kind === "failed") {
		assert.equal(out.stage, "decode");
		assert.match(out.error, /65535×65535.*exceeds the limit/);
	}
});

void test("an unsupported transfer syntax fails at decode naming it", async () => {
	const bytes = writeDicom({ ...base, transferSyntax: "rle" });
	// Patch the transfer syntax UID in the file meta to MPEG-4 (same length as RLE's UID + padding).
	const text = Buffer.from(bytes).toString("latin1").replace("1.2.840.10008.1.2.5\0", "1.2.840.10008.1.2.4.102".slice(0, 20));
	const out = await convertDicomBytes(Buffer.from(text, "latin1"), defaultConvertOptions);
	assert.equal(out.kind, "failed");
});

/** Writes an implicit-LE file whose Study Description has an odd length (1), so the pixel data lands at an odd offset. */
function withOddOffset(spec: DicomWriteSpec): Uint8Array {
	const bytes = Buffer.from(writeDicom({ ...spec, transferSyntax: "implicitLE", studyDescription: "x" }));
	const element = Buffer.from([0x08, 0x00, 0x30, 0x10, 0x02, 0x00, 0x00, 0x00, 0x78, 0x20]);
	const at = bytes.indexOf(element);
	assert.ok(at > 0, "Study Description element found");
	const patched = Buffer.concat([bytes.subarray(0, at), Buffer.from([0x08, 0x00, 0x30, 0x10, 0x01, 0x00, 0x00, 0x00, 0x78]), bytes.subarray(at + element.length)]);
	const pixelTag = patched.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
	assert.equal((pixelTag + 8) % 2, 1, "pixel data starts at an odd offset");
	return new Uint8Array(patched);
}

void test("16-bit pixel data at an odd offset (after an odd-length element) decodes the same", async () => {
	assert.deepEqual(await gray(withOddOffset(base)), EXPECTED);
	assert.deepEqual(await gray(withOddOffset({ ...base, bitsStored: 12, pixels: VALUES.map((v) => v | 0xa000) })), EXPECTED);
	assert.deepEqual(await gray(withOddOffset({ ...base, pixelRepresentation: 1, pixels: VALUES.map((v) => (v - 2000) & 0xffff) })), EXPECTED);
});

void test("float pixel data: NaN and infinities become 0 with a warning, the rest windows normally", async () => {
	// Float Pixel Data (7FE0,0008) is not written by writeDicom: patch a 32-bit file's tag and VR.
	const floats = new Float32Array([200, 0, 355, 101, 4000, 150, 354, 100, 227, 355, 300]);
	const bytes = Buffer.from(writeDicom({ ...base, bitsAllocated: 32, pixels: Array.from(new Uint32Array(floats.buffer)) }));
	const at = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57])); // (7FE0,0010) OW
	assert.ok(at > 0);
	bytes.set([0xe0, 0x7f, 0x08, 0x00, 0x4f, 0x46], at); // (7FE0,0008) OF
	assert.deepEqual(await gray(bytes), EXPECTED);
	const withNaN = Buffer.from(bytes);
	withNaN.writeFloatLE(Number.NaN, at + 12 + 4 * 4); // the 4000 (clipped to 255 anyway) → NaN → 0
	const out = await convertDicomBytes(withNaN, defaultConvertOptions);
	assert.equal(out.kind, "image");
	if (out.kind === "image") assert.ok(out.warnings.some((w) => /NaN/.test(w)), out.warnings.join("; "));
});

void test("decoding JPEG 2000 prints nothing on stdout (OpenJPEG's [INFO] lines are silenced)", async () => {
	const bytes = await writeDicomAsync({ rows: 64, columns: 64, bitsAllocated: 16, pixels: Array.from({ length: 4096 }, (_, i) => i), transferSyntax: "j2k" });
	const written: string[] = [];
	const original = process.stdout.write.bind(process.stdout);
	process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
		written.push(String(chunk));
		return original(chunk, ...(rest as []));
	}) as typeof process.stdout.write;
	try {
		const out = await convertDicomBytes(bytes, defaultConvertOptions);
		assert.equal(out.kind, "image");
	} finally {
		process.stdout.write = original;
	}
	assert.deepEqual(written.filter((w) => w.includes("[INFO]")), []);
});

void test("a codestream whose size disagrees with the header fails before decoding", async () => {
	for (const transferSyntax of ["jpegLs", "j2k"] as const) {
		const bytes = await writeDicomAsync({ rows: 16, columns: 16, bitsAllocated: 16, pixels: new Array(256).fill(5), transferSyntax, overrides: [[0x00280010, "US", 8]] });
		const out = await convertDicomBytes(bytes, defaultConvertOptions);
		assert.equal(out.kind, "failed", transferSyntax);
		if (out.kind === "failed") assert.match(out.error, /codestream is 16×16 but the header says 16×8/, transferSyntax);
	}
});

void test("16-bit RGB (RLE and native): v·257 windows back to v", async () => {
	// 21 values with three 0s and three 65535s: lo = 0, hi = 65535, and v·257·255/65535 = v exactly.
	const rgb8 = [0, 255, 0, 255, 0, 255, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130];
	for (const transferSyntax of ["explicitLE", "rle"] as const) {
		const img = await decodeToUint8(writeDicom({ rows: 1, columns: 7, samplesPerPixel: 3, bitsAllocated: 16, pixels: rgb8.map((v) => v * 257), transferSyntax }));
		assert.deepEqual([...img.data], rgb8, transferSyntax);
	}
});

void test("1-bit pixels (native and RLE) become 0 and 255", async () => {
	// n = 11 with two 0s at the low end and two 1s at the high end: lo = 0, hi = 1.
	const bits = [1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1];
	for (const transferSyntax of ["explicitLE", "rle"] as const) {
		assert.deepEqual(await gray(writeDicom({ rows: 1, columns: 11, bitsAllocated: 1, pixels: bits, transferSyntax })), bits.map((b) => b * 255), transferSyntax);
	}
});

void test("uncompressed YBR_FULL becomes RGB with the BT.601 full-range equations", async () => {
	// R = Y + 1.402(Cr-128), G = Y - 0.344136(Cb-128) - 0.714136(Cr-128), B = Y + 1.772(Cb-128), rounded, clamped:
	// (76, 85, 255) → R 254.054 → 254, G 0.103 → 0, B -0.196 → 0;  (150, 44, 21) → R -0.014 → 0, G 255.32 → 255, B 1.152 → 1.
	// White and black twice each put lo = 0 and hi = 255, so the window leaves the values alone.
	const ybr = [255, 128, 128, 0, 128, 128, 76, 85, 255, 128, 128, 128, 150, 44, 21, 255, 128, 128, 0, 128, 128];
	const img = await decodeToUint8(writeDicom({ rows: 1, columns: 7, samplesPerPixel: 3, bitsAllocated: 8, pixels: ybr, photometricInterpretation: "YBR_FULL" }));
	assert.deepEqual([...img.data], [255, 255, 255, 0, 0, 0, 254, 0, 0, 128, 128, 128, 0, 255, 1, 255, 255, 255, 0, 0, 0]);
});
