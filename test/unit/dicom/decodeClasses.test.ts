// Files whose pixel data is not what a naive reading of the header says (issue 8, item 1 a–f): each
// written here with the project's writer and a test JPEG encoder (helpers/jpegEncoder.ts); expected
// values come from the source arrays, or from the arithmetic the reference (GDCM) documents — never
// from our own decoder.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { decodeWithWasm } from "../../../src/core/dicom/codecs";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { parseDicomBytes } from "../../../src/core/dicom/parse";
import { decodeFirstFrame, type FrameValues } from "../../../src/core/dicom/pixels";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom, writeDicomAsync, type DicomWriteSpec } from "../../../src/devtools/dicomWriter";
import { encodeTestJpeg, idctFloat, type TestJpegMode } from "../helpers/jpegEncoder";
import { encodeLosslessJpeg } from "../helpers/losslessJpegEncoder";

const UID = {
	explicitLE: "1.2.840.10008.1.2.1",
	baseline: "1.2.840.10008.1.2.4.50",
	extended: "1.2.840.10008.1.2.4.51",
	spectral: "1.2.840.10008.1.2.4.53",
	progressive: "1.2.840.10008.1.2.4.55",
	lossless: "1.2.840.10008.1.2.4.57",
	losslessSV1: "1.2.840.10008.1.2.4.70",
	j2kLossless: "1.2.840.10008.1.2.4.90",
};

async function frameOf(bytes: Uint8Array): Promise<FrameValues> {
	return decodeFirstFrame(parseDicomBytes(bytes), 64_000_000);
}

function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
		return s / 4294967296;
	};
}

/** A gray picture that is constant on every 8×8 block (so a DCT codestream holds it exactly). */
function blockPicture(width: number, height: number, precision: 8 | 12, seed: number): number[] {
	const r = rng(seed);
	const levels: number[] = [];
	const bw = Math.ceil(width / 8);
	for (let i = 0; i < bw * Math.ceil(height / 8); i++) levels.push(Math.floor(r() * (1 << precision)));
	const out: number[] = [];
	for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.push(levels[Math.floor(y / 8) * bw + Math.floor(x / 8)] ?? 0);
	return out;
}

/** A textured gray picture (gradient + noise): its codestream has AC coefficients in every band. */
function texturedPicture(width: number, height: number, precision: 8 | 12, seed: number): number[] {
	const r = rng(seed);
	const max = (1 << precision) - 1;
	const out: number[] = [];
	for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.push(Math.max(0, Math.min(max, Math.round(((x + 2 * y) / (width + 2 * height)) * max * 0.8 + r() * max * 0.2))));
	return out;
}

function grayJpegSpec(width: number, height: number, bits: 8 | 12, codestream: Uint8Array, transferSyntaxUid: string): DicomWriteSpec {
	return {
		rows: height,
		columns: width,
		bitsAllocated: bits === 8 ? 8 : 16,
		bitsStored: bits,
		pixels: new Array<number>(width * height).fill(0),
		encapsulatedFrames: [codestream],
		transferSyntaxUid,
		modality: "CT",
	};
}

// ---- a. The decoder follows the codestream, not only the transfer syntax UID -------------------

void test("a: JPEG Lossless label holding a baseline (SOF0) codestream decodes as baseline JPEG", async () => {
	const src = blockPicture(24, 16, 8, 1);
	const jpeg = encodeTestJpeg({ width: 24, height: 16, precision: 8, mode: "sequential", components: [{ h: 1, v: 1, samples: src }] });
	for (const label of [UID.losslessSV1, UID.lossless]) {
		const f = await frameOf(writeDicom(grayJpegSpec(24, 16, 8, jpeg.codestream, label)));
		assert.deepEqual([...f.values], src, label);
		assert.ok(f.warnings.some((w) => /baseline JPEG/.test(w)), `a warning names what was found: ${f.warnings.join("; ")}`);
	}
});

void test("a: JPEG Lossless label holding an extended 12-bit (SOF1) codestream decodes as extended JPEG", async () => {
	const src = blockPicture(21, 13, 12, 2);
	const jpeg = encodeTestJpeg({ width: 21, height: 13, precision: 12, mode: "sequential", components: [{ h: 1, v: 1, samples: src }] });
	const f = await frameOf(writeDicom(grayJpegSpec(21, 13, 12, jpeg.codestream, UID.losslessSV1)));
	assert.deepEqual([...f.values], src);
});

void test("a: Explicit VR Little Endian label with encapsulated JPEG / JPEG 2000 / JPEG-LS decodes by the codestream", async () => {
	const src = blockPicture(16, 16, 8, 3);
	const jpeg = encodeTestJpeg({ width: 16, height: 16, precision: 8, mode: "sequential", components: [{ h: 1, v: 1, samples: src }] });
	const f = await frameOf(writeDicom(grayJpegSpec(16, 16, 8, jpeg.codestream, UID.explicitLE)));
	assert.deepEqual([...f.values], src);
	// Implicit VR Little Endian, and a bare data set without file meta (read as implicit LE).
	const implicit = await frameOf(writeDicom({ ...grayJpegSpec(16, 16, 8, jpeg.codestream, "1.2.840.10008.1.2"), transferSyntax: "implicitLE" }));
	assert.deepEqual([...implicit.values], src);
	const bare = await frameOf(writeDicom({ ...grayJpegSpec(16, 16, 8, jpeg.codestream, "1.2.840.10008.1.2"), transferSyntax: "implicitLE", preamble: false, fileMeta: false }));
	assert.deepEqual([...bare.values], src);

	const ct = Array.from({ length: 64 }, (_, i) => ((i * 397) % 3000) - 1024);
	const ctSpec: DicomWriteSpec = { rows: 8, columns: 8, bitsAllocated: 16, pixelRepresentation: 1, pixels: ct, modality: "CT" };
	for (const transferSyntax of ["j2k", "jpegLs"] as const) {
		// Encode with the codec, then take its codestream into a file labelled Explicit VR LE.
		const encoded = parseDicomBytes(await writeDicomAsync({ ...ctSpec, transferSyntax }));
		const el = encoded.dataSet.elements["x7fe00010"];
		const fr = el?.fragments?.[0];
		assert.ok(el && fr);
		const codestream = encoded.dataSet.byteArray.slice(fr.position, fr.position + fr.length);
		const g = await frameOf(writeDicom({ ...ctSpec, encapsulatedFrames: [codestream], transferSyntaxUid: UID.explicitLE }));
		assert.deepEqual([...g.values], ct, transferSyntax);
	}
});

void test("a: vice versa — JPEG-LS and JPEG 2000 codestreams under a JPEG Baseline / JPEG Lossless label", async () => {
	const px = Array.from({ length: 48 }, (_, i) => (i * 37) % 256);
	const spec: DicomWriteSpec = { rows: 6, columns: 8, bitsAllocated: 8, pixels: px, modality: "OT" };
	const jls = await writeDicomAsync({ ...spec, transferSyntax: "jpegLs", transferSyntaxUid: UID.baseline });
	assert.deepEqual([...(await frameOf(jls)).values], px);
	const j2k = await writeDicomAsync({ ...spec, transferSyntax: "j2k", transferSyntaxUid: UID.lossless });
	assert.deepEqual([...(await frameOf(j2k)).values], px);
});

void test("a: vice versa — a lossless (SOF3) codestream under a JPEG Baseline / Extended label decodes as lossless", async () => {
	const ct = Array.from({ length: 15 * 9 }, (_, i) => (i * 7919) % 4096);
	const sof3 = encodeLosslessJpeg(ct, { width: 15, height: 9, components: 1, precision: 12, predictor: 1 });
	for (const label of [UID.baseline, UID.extended]) {
		const f = await frameOf(writeDicom({ ...grayJpegSpec(15, 9, 12, sof3, label) }));
		assert.deepEqual([...f.values], ct, label);
		assert.ok(f.warnings.some((w) => /holds lossless JPEG/.test(w)), f.warnings.join("; "));
	}
});

/** An HTJ2K codestream from the OpenJPH encoder (8-bit gray, lossless). */
async function htj2kCodestream(width: number, height: number, px: number[]): Promise<Uint8Array> {
	interface Enc {
		getDecodedBuffer(info: Record<string, unknown>): Uint8Array;
		encode(): void;
		getEncodedBuffer(): Uint8Array;
		delete(): void;
	}
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const mod = require("@cornerstonejs/codec-openjph/wasmjs") as unknown;
	const factory = (typeof mod === "function" ? mod : (mod as { default: unknown }).default) as (o: Record<string, unknown>) => Promise<{ HTJ2KEncoder: new () => Enc }>;
	const m = await factory({ print: () => undefined, printErr: () => undefined });
	const e = new m.HTJ2KEncoder();
	try {
		e.getDecodedBuffer({ width, height, bitsPerSample: 8, componentCount: 1, isSigned: false, isUsingColorTransform: false }).set(px);
		e.encode();
		return e.getEncodedBuffer().slice();
	} finally {
		e.delete();
	}
}

void test("a: HTJ2K codestream under a JPEG 2000 label, and a JPEG 2000 codestream under an HTJ2K label", async () => {
	const px = Array.from({ length: 48 }, (_, i) => (i * 53) % 256);
	const spec: DicomWriteSpec = { rows: 6, columns: 8, bitsAllocated: 8, pixels: px, modality: "OT" };
	const ht = await htj2kCodestream(8, 6, px);
	assert.deepEqual([...(await frameOf(writeDicom({ ...spec, encapsulatedFrames: [ht], transferSyntaxUid: UID.j2kLossless }))).values], px);
	const j2k = await writeDicomAsync({ ...spec, transferSyntax: "j2k", transferSyntaxUid: "1.2.840.10008.1.2.4.201" });
	const f = await frameOf(j2k);
	assert.deepEqual([...f.values], px);
	assert.ok(f.warnings.some((w) => /holds JPEG 2000/.test(w)), f.warnings.join("; "));
});

// ---- b. JPEG 2000 whose signedness / precision disagrees with the header -----------------------

void test("b: unsigned JPEG 2000 codestream with Pixel Representation 1 follows the header (signed CT)", async () => {
	const ct = Array.from({ length: 100 }, (_, i) => ((i * 611) % 3000) - 1024);
	const words = ct.map((v) => v & 0xffff); // the same bits, read unsigned by the encoder
	for (const bitsStored of [16, 12]) {
		const bytes = await writeDicomAsync({
			rows: 10,
			columns: 10,
			bitsAllocated: 16,
			pixelRepresentation: 0,
			pixels: words,
			transferSyntax: "j2k",
			modality: "CT",
			overrides: [
				[0x00280103, "US", 1],
				[0x00280101, "US", bitsStored],
				[0x00280102, "US", bitsStored - 1],
			],
		});
		const f = await frameOf(bytes);
		assert.deepEqual([...f.values], ct, `Bits Stored ${bitsStored}`);
		assert.ok(f.warnings.some((w) => /header is followed/.test(w)));
	}
});

void test("b: signed JPEG 2000 codestream with Pixel Representation 0 follows the header (unsigned)", async () => {
	const signed = Array.from({ length: 100 }, (_, i) => ((i * 611) % 2000) - 1000);
	const bytes = await writeDicomAsync({
		rows: 10,
		columns: 10,
		bitsAllocated: 16,
		pixelRepresentation: 1,
		pixels: signed,
		transferSyntax: "j2k",
		modality: "CT",
		overrides: [[0x00280103, "US", 0]],
	});
	const f = await frameOf(bytes);
	assert.deepEqual(
		[...f.values],
		signed.map((v) => v & 0xffff),
	);
});

// ---- c. YBR_FULL / YBR_FULL_422 JPEG converted like GDCM ---------------------------------------

/** GDCM's YBR_FULL → RGB (BT.601 full range, rounded, clamped), written out here independently. */
function gdcmYbrToRgb(y: number, cb: number, cr: number): [number, number, number] {
	const c = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
	return [c(y + 1.402 * (cr - 128)), c(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)), c(y + 1.772 * (cb - 128))];
}

/** libjpeg's h2v1 "fancy" (triangle) upsampling of one row, edges replicated. */
function fancyH2v1(row: number[]): number[] {
	const out: number[] = [];
	for (let i = 0; i < row.length; i++) {
		const v = 3 * (row[i] ?? 0);
		out.push((v + (row[Math.max(0, i - 1)] ?? 0) + 1) >> 2, (v + (row[Math.min(row.length - 1, i + 1)] ?? 0) + 2) >> 2);
	}
	return out;
}

/** Random YCbCr triples (libjpeg's own conversion differs from GDCM's on a few per cent of them). */
function triples(n: number): [number, number, number][] {
	const r = rng(17);
	return Array.from({ length: n }, () => [Math.floor(r() * 256), Math.floor(r() * 256), Math.floor(r() * 256)] as [number, number, number]);
}

for (const [pi, h] of [
	["YBR_FULL", 1],
	["YBR_FULL_422", 2],
] as const) {
	void test(`c: ${pi} JPEG: the decoded YCbCr samples converted with GDCM's routine, not libjpeg's`, async () => {
		const width = 256 * h;
		const height = 32;
		const cw = width / h;
		// One triple per chroma block (8×8 chroma samples = 8h × 8 pixels); its luma blocks share the Y value.
		const perRow = cw / 8;
		const t = triples(perRow * (height / 8));
		const y: number[] = [];
		const cb: number[] = [];
		const cr: number[] = [];
		for (let row = 0; row < height; row++) {
			for (let x = 0; x < width; x++) y.push(t[Math.floor(row / 8) * perRow + Math.floor(x / (8 * h))]?.[0] ?? 0);
			for (let x = 0; x < cw; x++) {
				const k = t[Math.floor(row / 8) * perRow + Math.floor(x / 8)] ?? [0, 0, 0];
				cb.push(k[1]);
				cr.push(k[2]);
			}
		}
		const jpeg = encodeTestJpeg({
			width,
			height,
			precision: 8,
			mode: "sequential",
			components: [
				{ h, v: 1, samples: y },
				{ h: 1, v: 1, samples: cb },
				{ h: 1, v: 1, samples: cr },
			],
		});
		const up = (plane: number[]): number[] => (h === 1 ? plane : Array.from({ length: height }, (_, row) => fancyH2v1(plane.slice(row * cw, (row + 1) * cw))).flat());
		const cbUp = up(cb);
		const crUp = up(cr);
		const expected = y.flatMap((v, i) => gdcmYbrToRgb(v, cbUp[i] ?? 0, crUp[i] ?? 0));
		const spec: DicomWriteSpec = {
			rows: height,
			columns: width,
			samplesPerPixel: 3,
			photometricInterpretation: pi,
			bitsAllocated: 8,
			pixels: new Array<number>(width * height * 3).fill(0),
			encapsulatedFrames: [jpeg.codestream],
			transferSyntaxUid: UID.baseline,
		};
		const f = await frameOf(writeDicom(spec));
		assert.equal(f.channels, 3);
		assert.deepEqual([...f.values], expected);
		// The codec's own YCbCr → RGB gives other values at some pixels: the old behaviour is caught.
		const own = await decodeWithWasm("libjpegturbo", jpeg.codestream);
		const differ = [...own.pixels].filter((v, i) => v !== expected[i]).length;
		assert.ok(differ > 0, "libjpeg's conversion differs somewhere");
		// Encoders usually add a JFIF APP0 (which makes libjpeg assume YCbCr whatever else is said)
		// or an Adobe APP14 with transform 1: the same picture must come out.
		const jfif = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
		const adobe1 = [0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x01];
		for (const markers of [jfif, adobe1, [...jfif, ...adobe1]]) {
			const withMarkers = Uint8Array.from([0xff, 0xd8, ...markers, ...jpeg.codestream.subarray(2)]);
			const g = await frameOf(writeDicom({ ...spec, encapsulatedFrames: [withMarkers] }));
			assert.deepEqual([...g.values], expected, `with APP markers ${markers.length}`);
		}
	});
}

/** libjpeg's h2v2 "fancy" upsampling of a plane (cw × ch → 2cw × 2ch), edges replicated. */
function fancyH2v2(plane: number[], cw: number, ch: number): number[] {
	const at = (x: number, y: number): number => plane[Math.max(0, Math.min(ch - 1, y)) * cw + Math.max(0, Math.min(cw - 1, x))] ?? 0;
	const out: number[] = [];
	for (let y = 0; y < 2 * ch; y++) {
		const iy = y >> 1;
		const ny = y & 1 ? iy + 1 : iy - 1;
		const sum = (x: number): number => 3 * at(x, iy) + at(x, ny);
		for (let i = 0; i < cw; i++) out.push((3 * sum(i) + sum(i - 1) + 8) >> 4, (3 * sum(i) + sum(i + 1) + 7) >> 4);
	}
	return out;
}

for (const [precision, v] of [
	[12, 1],
	[12, 2],
	[8, 2],
] as const) {
	void test(`c: ${precision}-bit colour JPEG (${precision === 8 ? "libjpeg-turbo" : "own decoder"}) upsamples ${v === 1 ? "4:2:2 (h2v1)" : "4:2:0 (h2v2)"} chroma with libjpeg's triangle filter`, async () => {
		const width = 32;
		const height = 16 * v;
		const cw = width / 2;
		const chh = height / v;
		const y = blockPicture(width, height, precision, 41);
		const cb = blockPicture(cw, chh, precision, 42);
		const cr = blockPicture(cw, chh, precision, 43);
		const jpeg = encodeTestJpeg({
			width,
			height,
			precision,
			mode: "sequential",
			components: [
				{ h: 2, v, samples: y },
				{ h: 1, v: 1, samples: cb },
				{ h: 1, v: 1, samples: cr },
			],
		});
		const up = (plane: number[]): number[] => (v === 1 ? Array.from({ length: height }, (_, row) => fancyH2v1(plane.slice(row * cw, (row + 1) * cw))).flat() : fancyH2v2(plane, cw, chh));
		const cbUp = up(cb);
		const crUp = up(cr);
		const expected = y.flatMap((value, i) => [value, cbUp[i] ?? -1, crUp[i] ?? -1]);
		// Photometric RGB: no colour conversion, so the upsampled samples are what comes out.
		const f = await frameOf(
			writeDicom({
				rows: height,
				columns: width,
				samplesPerPixel: 3,
				photometricInterpretation: "RGB",
				bitsAllocated: precision === 8 ? 8 : 16,
				bitsStored: precision,
				pixels: new Array<number>(width * height * 3).fill(0),
				encapsulatedFrames: [jpeg.codestream],
				transferSyntaxUid: precision === 8 ? UID.baseline : UID.extended,
			}),
		);
		assert.deepEqual([...f.values], expected);
	});
}

// ---- d. Retired progressive JPEG syntaxes (.53 spectral selection, .55 full progression) ------

for (const precision of [8, 12] as const) {
	for (const [mode, label] of [
		["spectral", UID.spectral],
		["progressive", UID.progressive],
	] as [TestJpegMode, string][]) {
		void test(`d: ${precision}-bit ${mode} JPEG (${label}) decodes block-constant pictures exactly`, async () => {
			const src = blockPicture(37, 19, precision, 20 + precision);
			const jpeg = encodeTestJpeg({ width: 37, height: 19, precision, mode, components: [{ h: 1, v: 1, samples: src }] });
			const f = await frameOf(writeDicom(grayJpegSpec(37, 19, precision, jpeg.codestream, label)));
			assert.deepEqual([...f.values], src);
		});

		void test(`d: ${precision}-bit ${mode} JPEG (${label}) with AC coefficients and restart markers equals the sequential codestream and the exact IDCT within 1`, async () => {
			const width = 40;
			const height = 24;
			const src = texturedPicture(width, height, precision, 30 + precision);
			const quant = Array.from({ length: 64 }, (_, k) => 1 + (k % 3));
			const comp = [{ h: 1, v: 1, samples: src }];
			// Restart markers every 4 MCUs in the progressive file (end-of-band runs and predictions reset).
			const prog = encodeTestJpeg({ width, height, precision, mode, components: comp, quant, restartInterval: 4 });
			const seq = encodeTestJpeg({ width, height, precision, mode: "sequential", components: comp, quant });
			const f = await frameOf(writeDicom(grayJpegSpec(width, height, precision, prog.codestream, label)));
			const s = await frameOf(writeDicom(grayJpegSpec(width, height, precision, seq.codestream, precision === 8 ? UID.baseline : UID.extended)));
			assert.deepEqual([...f.values], [...s.values], "progressive = sequential");
			// Independent expectation: the exact inverse DCT of the dequantized coefficients.
			const center = 1 << (precision - 1);
			const max = (1 << precision) - 1;
			const coefs = prog.coefficients[0] as Int32Array;
			const perLine = prog.grid[0]?.blocksPerLine ?? 0;
			let exact = 0;
			let nonzeroAc = 0;
			for (let y = 0; y < height; y++) {
				for (let x = 0; x < width; x++) {
					const b = (Math.floor(y / 8) * perLine + Math.floor(x / 8)) * 64;
					const block = Array.from(coefs.subarray(b, b + 64), (c, k) => c * (prog.quant[k] ?? 1));
					const want = Math.min(max, Math.max(0, Math.round((idctFloat(block)[(y % 8) * 8 + (x % 8)] ?? 0) + center)));
					const got = f.values[y * width + x] ?? -1;
					assert.ok(Math.abs(got - want) <= 1, `(${x},${y}): ${got} vs exact IDCT ${want}`);
					if (got === want) exact++;
				}
			}
			for (let i = 0; i < coefs.length; i++) if (i % 64 !== 0 && coefs[i] !== 0) nonzeroAc++;
			assert.ok(nonzeroAc > 100, "the picture has AC coefficients to refine");
			assert.ok(exact > width * height * 0.9, `${exact} of ${width * height} exact`);
		});
	}
}

// ---- e. Bits Allocated 12, native (two pixels in three bytes) ---------------------------------

void test("e: Bits Allocated 12 packed native, without preamble or file meta, unsigned and signed", async () => {
	const r = rng(5);
	const values = Array.from({ length: 7 * 5 }, () => Math.floor(r() * 4096)); // odd count: the last byte pair holds one pixel
	const spec: DicomWriteSpec = { rows: 5, columns: 7, bitsAllocated: 12, bitsStored: 12, pixels: values, transferSyntax: "implicitLE", preamble: false, fileMeta: false, modality: "CT" };
	const bytes = writeDicom(spec);
	const f = await frameOf(bytes);
	assert.deepEqual([...f.values], values);
	const signed = await frameOf(writeDicom({ ...spec, pixelRepresentation: 1 }));
	assert.deepEqual(
		[...signed.values],
		values.map((v) => (v >= 2048 ? v - 4096 : v)),
	);
	const out = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.equal(out.kind, "image");
});

// ---- f. Decoder output is checked against the header ------------------------------------------

void test("f: a codestream whose precision, size or components disagree with the header fails with a reason", async () => {
	const src = blockPicture(16, 16, 12, 7);
	const jpeg12 = encodeTestJpeg({ width: 16, height: 16, precision: 12, mode: "sequential", components: [{ h: 1, v: 1, samples: src }] });
	const tooDeep = await convertDicomBytes(writeDicom({ ...grayJpegSpec(16, 16, 12, jpeg12.codestream, UID.extended), bitsAllocated: 8, bitsStored: 8 }), defaultConvertOptions);
	assert.equal(tooDeep.kind, "failed");
	assert.match(tooDeep.kind === "failed" ? tooDeep.error : "", /12-bit samples but Bits Allocated is 8/);

	const gray8 = encodeTestJpeg({ width: 16, height: 16, precision: 8, mode: "sequential", components: [{ h: 1, v: 1, samples: blockPicture(16, 16, 8, 8) }] });
	const rgbHeader = await convertDicomBytes(
		writeDicom({ ...grayJpegSpec(16, 16, 8, gray8.codestream, UID.baseline), samplesPerPixel: 3, photometricInterpretation: "YBR_FULL_422", pixels: new Array<number>(768).fill(0) }),
		defaultConvertOptions,
	);
	assert.equal(rgbHeader.kind, "failed");
	assert.match(rgbHeader.kind === "failed" ? rgbHeader.error : "", /1 components but Samples per Pixel is 3/);

	const jls16 = await writeDicomAsync({
		rows: 4,
		columns: 4,
		bitsAllocated: 16,
		pixels: Array.from({ length: 16 }, (_, i) => i * 4000),
		transferSyntax: "jpegLs",
		overrides: [
			[0x00280100, "US", 8],
			[0x00280101, "US", 8],
			[0x00280102, "US", 7],
		],
	});
	const lsOut = await convertDicomBytes(jls16, defaultConvertOptions);
	assert.equal(lsOut.kind, "failed");
	assert.match(lsOut.kind === "failed" ? lsOut.error : "", /16-bit samples but Bits Allocated is 8/);
});

void test("f: a lossless JPEG the fallback library would misread (subsampled components) fails with a reason, not a picture", async () => {
	const px = Array.from({ length: 8 * 4 * 3 }, (_, i) => (i * 37) % 256);
	const codestream = Uint8Array.from(encodeLosslessJpeg(px, { width: 8, height: 4, components: 3, precision: 8, predictor: 1 }));
	// Declare the first component 2×1 subsampled: jpeg-lossless-decoder-js ignores that and returns 96 wrong values.
	const sof = codestream.findIndex((b, i) => b === 0xff && codestream[i + 1] === 0xc3);
	codestream[sof + 11] = 0x21;
	const bytes = writeDicom({ rows: 4, columns: 8, samplesPerPixel: 3, bitsAllocated: 8, pixels: new Array<number>(96).fill(0), encapsulatedFrames: [codestream], transferSyntaxUid: UID.losslessSV1 });
	const out = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.equal(out.kind, "failed");
	assert.match(out.kind === "failed" ? out.error : "", /subsampled components \(2×1, 1×1, 1×1\)/);
});
