// Bounded memory on hostile files, and the window-collapse picture, on files the tests write with
// the project's writer: size limit, deflate bomb, first-frame-only reading of multi-frame files
// (native and encapsulated, with and without a Basic Offset Table), memory budget; and, over the
// multi-frame files of ../shared/dicom, reading the first frame only gives the same picture.
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { after, before, test } from "node:test";
import { PNG } from "pngjs";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { convertDicomFile } from "../../../src/core/dicom/convertFile";
import { defaultConvertOptions, type ConvertOutcome } from "../../../src/core/dicom/types";
import { writeDicom, type DicomWriteSpec } from "../../../src/devtools/dicomWriter";
import { dataSetStart, writeDeflateBomb, withoutOffsetTable } from "../helpers/hostileDicom";
import { loadManifest } from "../helpers/sharedDicom";

let dir = "";
before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-mem-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function put(name: string, bytes: Uint8Array): string {
	const file = path.join(dir, name);
	fs.writeFileSync(file, bytes);
	return file;
}

/** The gray picture of an image outcome (PNG channel R). */
function grayOf(o: ConvertOutcome): number[] {
	assert.equal(o.kind, "image", o.kind === "failed" ? `${o.stage}: ${o.error}` : o.kind);
	if (o.kind !== "image") return [];
	const png = PNG.sync.read(Buffer.from(o.png));
	return Array.from({ length: png.width * png.height }, (_, i) => png.data[i * 4] ?? 0);
}

function failure(o: ConvertOutcome): string {
	assert.equal(o.kind, "failed", `expected a failure, got ${o.kind}`);
	return o.kind === "failed" ? `${o.stage}: ${o.error}` : "";
}

// --- window collapse -------------------------------------------------------------------------

void test("a non-constant image whose 10th and 90th percentiles coincide is windowed over min–max, and says so", async () => {
	// 1×21 pixels: nineteen 40s, one 20 and one 60. Both percentiles are 40 (the reference: 0/0 → black).
	// Over min–max (20..60): 20 → 0, 40 → (20·255/40) = 127.5 → 127, 60 → 255.
	const pixels = new Array(21).fill(40);
	pixels[3] = 20;
	pixels[17] = 60;
	const out = await convertDicomBytes(writeDicom({ rows: 1, columns: 21, bitsAllocated: 8, pixels }), defaultConvertOptions);
	assert.deepEqual(grayOf(out), pixels.map((v) => (v === 20 ? 0 : v === 60 ? 255 : 127)));
	assert.equal(out.kind === "image" ? out.window : undefined, "min-max");
	assert.ok(out.kind === "image" && out.warnings.some((w) => /min–max/.test(w)));
	// A rescaled CT (slope 0.5, intercept -1024) collapses the same way: the picture does not change.
	const ct = await convertDicomBytes(writeDicom({ rows: 1, columns: 21, bitsAllocated: 16, pixels, rescaleSlope: 0.5, rescaleIntercept: -1024 }), defaultConvertOptions);
	assert.deepEqual(grayOf(ct), grayOf(out));
});

void test("a constant image stays all zeros and is not marked", async () => {
	const out = await convertDicomBytes(writeDicom({ rows: 4, columns: 5, bitsAllocated: 16, pixels: new Array(20).fill(1234) }), defaultConvertOptions);
	assert.deepEqual(grayOf(out), new Array(20).fill(0));
	assert.equal(out.kind === "image" ? out.window : "x", undefined);
});

void test("an ordinary image keeps the percentile window (no mark)", async () => {
	const out = await convertDicomBytes(writeDicom({ rows: 1, columns: 11, bitsAllocated: 8, pixels: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] }), defaultConvertOptions);
	// n = 11: lo = 10, hi = 90; (v - 10)·255/80, clipped.
	assert.deepEqual(grayOf(out), [0, 0, 31, 63, 95, 127, 159, 191, 223, 255, 255]);
	assert.equal(out.kind === "image" ? out.window : "x", undefined);
});

// --- size limit ----------------------------------------------------------------------------

void test("a file above maxFileSizeMB is refused with a reason before it is read", async () => {
	const file = put("big.dcm", writeDicom({ rows: 1024, columns: 1024, bitsAllocated: 16, pixels: new Uint16Array(1024 * 1024).fill(7) }));
	const r = await convertDicomFile(file, { ...defaultConvertOptions, maxFileSizeMB: 1 });
	assert.match(failure(r.outcome), /^read: file of 2\.0 MB is above the 1\.0 MB size limit \(setting medImageInsight\.maxFileSizeMB, CLI --max-file-mb\); not read$/);
	assert.equal(r.bytesRead, 0);
	assert.equal(r.sha256, undefined);
	assert.equal(r.size, fs.statSync(file).size);
	// Within the limit it converts (the default is 2048 MB).
	const ok = await convertDicomFile(file, defaultConvertOptions);
	assert.equal(ok.outcome.kind, "image");
	assert.equal(ok.sha256, createHash("sha256").update(fs.readFileSync(file)).digest("hex"));
});

// --- deflate bomb --------------------------------------------------------------------------

void test("a deflate bomb (small on disk, 256 MB inflated, 64×64 declared) fails with a reason and is not inflated", async () => {
	const file = path.join(dir, "bomb.dcm");
	const onDisk = await writeDeflateBomb(file, 256 * 1024 * 1024);
	assert.ok(onDisk < 1024 * 1024, `the bomb is small on disk (${onDisk} bytes)`);
	const r = await convertDicomFile(file, defaultConvertOptions);
	assert.match(failure(r.outcome), /^parse: deflated data set inflates to more than 1\.\d MB but its header declares 64×64 × 1 frame × 1 sample × 1 byte: refused as a decompression bomb$/);
	assert.equal(r.bytesRead, onDisk);
	// The same through the in-memory converter.
	assert.match(failure(await convertDicomBytes(fs.readFileSync(file), defaultConvertOptions)), /decompression bomb/);
});

void test("a deflated file whose header declares more than the memory budget allows is refused before inflating", async () => {
	const bytes = writeDicom({ rows: 64, columns: 64, frames: 8, bitsAllocated: 16, pixels: new Uint16Array(64 * 64 * 8), transferSyntax: "deflated", overrides: [[0x00280008, "IS", "40000"]] });
	const out = await convertDicomBytes(bytes, defaultConvertOptions, "x.dcm", { memoryBudgetBytes: 64 * 1024 * 1024 });
	assert.match(failure(out), /^parse: deflated data set declares 64×64 × 40000 frames × 1 sample × 2 bytes \(\d+ MB inflated\), more than the 32 MB allowed$/);
});

void test("an honest deflated file still converts, multi-frame included", async () => {
	const pixels = Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 4096);
	const deflated = await convertDicomBytes(writeDicom({ rows: 64, columns: 64, frames: 3, bitsAllocated: 16, pixels, transferSyntax: "deflated" }), defaultConvertOptions);
	const plain = await convertDicomBytes(writeDicom({ rows: 64, columns: 64, frames: 3, bitsAllocated: 16, pixels }), defaultConvertOptions);
	assert.deepEqual(grayOf(deflated), grayOf(plain));
});

// --- first frame only ----------------------------------------------------------------------

const W = 256;
const FRAMES = 20;
const FRAME_BYTES = W * W * 2;
/** Frame f: a ramp shifted by f (frame 0 is what must come out). */
function framePixels(frames: number): Uint16Array {
	const p = new Uint16Array(W * W * frames);
	for (let f = 0; f < frames; f++) for (let i = 0; i < W * W; i++) p[f * W * W + i] = ((i % W) * 8 + Math.floor(i / W) + f * 1000) % 4096;
	return p;
}

async function firstFrameAlone(spec: Omit<DicomWriteSpec, "pixels" | "frames">): Promise<number[]> {
	return grayOf(await convertDicomBytes(writeDicom({ ...spec, pixels: framePixels(1) }), defaultConvertOptions));
}

void test("a native multi-frame file: only the header and the first frame are read; later frames truncated away do not matter", async () => {
	const spec = { rows: W, columns: W, bitsAllocated: 16 as const, modality: "MR" };
	const full = writeDicom({ ...spec, frames: FRAMES, pixels: framePixels(FRAMES) });
	// Cut the file in the middle of frame 3: reading it whole would hit the end of the data set.
	const cut = full.subarray(0, full.length - FRAME_BYTES * (FRAMES - 2) - 1000);
	for (const [name, bytes] of [["native.dcm", full], ["native-cut.dcm", cut]] as const) {
		const r = await convertDicomFile(put(name, bytes), defaultConvertOptions, { wholeFileUpTo: 0 });
		assert.deepEqual(grayOf(r.outcome), await firstFrameAlone(spec), name);
		assert.ok(r.bytesRead >= FRAME_BYTES && r.bytesRead <= FRAME_BYTES + 64 * 1024, `${name}: read ${r.bytesRead} of ${bytes.length} bytes`);
		assert.equal(r.sha256, createHash("sha256").update(bytes).digest("hex"), "the hash covers the whole file");
		if (r.outcome.kind === "image") {
			assert.equal(r.outcome.meta.numberOfFrames, FRAMES);
			assert.ok(!r.outcome.warnings.some((w) => /ends early|truncated/.test(w)), r.outcome.warnings.join("; "));
		}
	}
	// Read whole, the cut file reports its truncation: the first-frame path really did not read it.
	const whole = await convertDicomFile(path.join(dir, "native-cut.dcm"), defaultConvertOptions);
	assert.equal(whole.bytesRead, cut.length);
	assert.ok(whole.outcome.kind === "image" && whole.outcome.warnings.some((w) => /ends early/.test(w)));
});

for (const bot of [true, false]) {
	void test(`an encapsulated (RLE) multi-frame file ${bot ? "with" : "without"} a Basic Offset Table: only the first frame's fragments are read${bot ? "; later fragments of garbage do not matter" : ""}`, async () => {
		const spec = { rows: W, columns: W, bitsAllocated: 16 as const, modality: "XA", transferSyntax: "rle" as const };
		let file = writeDicom({ ...spec, frames: FRAMES, pixels: framePixels(FRAMES) });
		if (!bot) file = withoutOffsetTable(file);
		const frameOne = writeDicom({ ...spec, pixels: framePixels(1) });
		const firstFragment = frameOne.length - dataSetStart(frameOne); // an upper bound of frame 1's encoded size
		// With a table, garbage over the last frames' bytes (item headers included): whoever reads them
		// fails. Without one, the fragments are counted (one per frame), so they stay intact.
		const bad = new Uint8Array(file);
		if (bot) bad.fill(0xab, bad.length - Math.floor(bad.length / 3));
		const r = await convertDicomFile(put(`rle-${bot}.dcm`, bad), defaultConvertOptions, { wholeFileUpTo: 0 });
		assert.deepEqual(grayOf(r.outcome), await firstFrameAlone({ ...spec, transferSyntax: "explicitLE" }));
		assert.ok(r.bytesRead < 64 * 1024 + firstFragment + 32 * FRAMES, `read ${r.bytesRead} of ${bad.length} bytes`);
		assert.ok(r.bytesRead < bad.length / 4);
	});
}

void test("a single-frame file and a small file are read whole, as before", async () => {
	const single = put("single.dcm", writeDicom({ rows: W, columns: W, bitsAllocated: 16, pixels: framePixels(1) }));
	const r = await convertDicomFile(single, defaultConvertOptions, { wholeFileUpTo: 0 });
	assert.equal(r.bytesRead, fs.statSync(single).size);
	const multi = put("multi-small.dcm", writeDicom({ rows: W, columns: W, frames: 3, bitsAllocated: 16, pixels: framePixels(3) }));
	assert.equal((await convertDicomFile(multi, defaultConvertOptions)).bytesRead, fs.statSync(multi).size, "below 16 MB: whole");
});

// --- memory budget -------------------------------------------------------------------------

void test("an image whose conversion needs more than the memory budget fails with a reason before decoding", async () => {
	const bytes = writeDicom({ rows: 1024, columns: 1024, bitsAllocated: 16, pixels: new Uint16Array(1024 * 1024) });
	const out = await convertDicomBytes(bytes, defaultConvertOptions, "big.dcm", { memoryBudgetBytes: 8 * 1024 * 1024 });
	assert.match(failure(out), /^decode: converting this 1024×1024 image needs about 19 MB, over the memory budget of 8 MB per conversion worker$/);
	assert.equal((await convertDicomBytes(bytes, defaultConvertOptions, "big.dcm", { memoryBudgetBytes: 64 * 1024 * 1024 })).kind, "image");
});

// --- ../shared/dicom: the first-frame path gives the reference path's picture ---------------------

const shared = loadManifest("first-frame reading parity");
if (shared) {
	for (const f of shared.files.filter((x) => ((x as { number_of_frames?: number | null }).number_of_frames ?? 1) > 1)) {
		void test(`${f.path}: reading only the first frame gives the same outcome as reading the whole file`, async () => {
			const abs = path.join(shared.dir, f.path);
			const bytes = fs.readFileSync(abs);
			const whole = await convertDicomBytes(bytes, defaultConvertOptions);
			const part = await convertDicomFile(abs, defaultConvertOptions, { wholeFileUpTo: 0 });
			assert.equal(part.outcome.kind, whole.kind);
			if (part.outcome.kind === "image" && whole.kind === "image") {
				assert.equal(Buffer.compare(Buffer.from(part.outcome.png), Buffer.from(whole.png)), 0, "same PNG");
				assert.equal(part.outcome.meta.numberOfFrames, whole.meta.numberOfFrames);
			}
			assert.equal(part.sha256, createHash("sha256").update(bytes).digest("hex"));
			assert.ok(part.bytesRead <= bytes.length);
		});
	}
}

// --- Deflated Image Frame (1.2.840.10008.1.2.8.1) bomb ------------------------------------------

/** A Deflated Image Frame file of one 64×64 8-bit frame whose fragment inflates to `inflated` bytes. */
function deflatedFrameFile(inflated: Uint8Array): Uint8Array {
	const rle = writeDicom({ rows: 64, columns: 64, bitsAllocated: 8, pixels: new Uint8Array(64 * 64), transferSyntax: "rle" });
	const text = Buffer.from(rle).toString("latin1");
	const tsAt = text.indexOf("1.2.840.10008.1.2.5\0");
	const pixelAt = text.lastIndexOf("\xe0\x7f\x10\x00OB");
	assert.ok(tsAt > 0 && pixelAt > tsAt);
	const uid = Buffer.from("1.2.840.10008.1.2.8.1\0", "latin1"); // 22 bytes instead of 20
	const fragment = zlib.deflateRawSync(inflated);
	const items = Buffer.alloc(8 + 8 + 8);
	items.writeUInt32LE(0xe000fffe, 0); // empty offset table
	items.writeUInt32LE(0xe000fffe, 8);
	items.writeUInt32LE(fragment.length + (fragment.length % 2), 12);
	const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
	const out = Buffer.concat([Buffer.from(rle.subarray(0, tsAt)), uid, Buffer.from(rle.subarray(tsAt + 20, pixelAt + 12)), items.subarray(0, 16), fragment, Buffer.alloc(fragment.length % 2), end]);
	out.writeUInt16LE(22, tsAt - 2); // the UID element's length
	out.writeUInt32LE(out.readUInt32LE(140) + 2, 140); // the file meta group length
	return out;
}

void test("a Deflated Image Frame that inflates far beyond its declared 64×64 fails with a reason; an honest one converts", async () => {
	const honest = new Uint8Array(64 * 64).map((_, i) => i % 251);
	const ok = await convertDicomBytes(deflatedFrameFile(honest), defaultConvertOptions);
	assert.deepEqual(grayOf(ok), grayOf(await convertDicomBytes(writeDicom({ rows: 64, columns: 64, bitsAllocated: 8, pixels: honest }), defaultConvertOptions)));
	const bomb = await convertDicomBytes(deflatedFrameFile(new Uint8Array(64 * 1024 * 1024)), defaultConvertOptions);
	assert.match(failure(bomb), /^decode: deflated frame inflates to more than 1\.0 MB but its header declares 4096 bytes: refused as a decompression bomb$/);
});
