// Parity with the reference pipeline over every real file in ../shared/dicom: where the reference
// succeeded, the identical uint8 array; where it failed or is wrong, the behaviour documented in
// docs/converter.md.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { PNG } from "pngjs";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { decodeToUint8 } from "../../../src/core/dicom/decode";
import { parseDicomBytes } from "../../../src/core/dicom/parse";
import { decodeFirstFrame } from "../../../src/core/dicom/pixels";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { loadManifest, readNpy } from "../helpers/sharedDicom";

const shared = loadManifest("reference parity tests");

/** Files whose reference output is wrong; what we produce instead is checked against another reference. */
const sameAs: Record<string, string> = {
	// GDCM scrambles the byte planes of 16-bit RGB RLE (row 0 comes out green); the same picture in
	// 8-bit RGB is SC_rgb.dcm, and 65535/32896/16448 window to exactly its 255/128/64.
	"files/pydicom/SC_rgb_rle_16bit.dcm": "reference/pydicom-data/SC_rgb.dcm.npy",
	// The reference cannot read these; each holds the same first frame as a file it can.
	"files/pydicom-data/liver_deflate.dcm": "reference/pydicom/liver_1frame.dcm.npy",
	"files/dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.80.dcm":
		"reference/dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm.npy",
};

/** Reference failures where we give a picture: [width, height, channels]. */
const pictures: Record<string, [number, number, number]> = {
	"files/pydicom-data/parametric_map_float.dcm": [128, 128, 1],
	"files/pydicom-data/HTJ2KLossless_08_RGB.dcm": [640, 480, 3],
	"files/pydicom-data/liver_nonbyte_aligned_rle.dcm": [510, 510, 1],
	"files/dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm": [512, 512, 1],
};

/** (v - min)·255 / (max - min) in float32, truncated: the min–max window, written out plainly. */
function minMaxByDefinition(values: Float32Array): Uint8Array {
	let min = Infinity;
	let max = -Infinity;
	for (const v of values) {
		min = Math.min(min, v);
		max = Math.max(max, v);
	}
	const f = Math.fround;
	return Uint8Array.from(values, (v) => Math.min(255, Math.trunc(f(f(f(v - min) * 255) / f(max - min)))));
}

function sameArray(actual: Uint8Array, expected: Uint8Array, label: string): void {
	assert.equal(actual.length, expected.length, `${label}: length`);
	let diff = 0;
	let first = -1;
	for (let i = 0; i < expected.length; i++) {
		if (actual[i] !== expected[i]) {
			diff++;
			if (first < 0) first = i;
		}
	}
	assert.equal(diff, 0, `${label}: ${diff} of ${expected.length} values differ (first at ${first}: ${actual[first]} vs ${expected[first]})`);
}

if (shared) {
	const { dir, files } = shared;
	for (const f of files) {
		const bytes = (): Uint8Array => fs.readFileSync(path.join(dir, f.path));
		const expectedNpy = sameAs[f.path] ?? (f.reference.ok ? f.reference.output_npy : undefined);
		if (f.reference.ok && f.reference.nan_from_zero_range && f.reference.output_npy) {
			const npyPath = f.reference.output_npy;
			void test(`${f.path}: the reference is black (10th = 90th percentile, 0/0); we window over min–max and say so`, async () => {
				const npy = readNpy(path.join(dir, npyPath));
				assert.ok(npy.data.every((v) => v === 0), "the reference array is all zeros");
				const out = await convertDicomBytes(bytes(), defaultConvertOptions);
				assert.equal(out.kind, "image", out.kind === "failed" ? out.error : "");
				if (out.kind !== "image") return;
				assert.equal(out.window, "min-max");
				const frame = await decodeFirstFrame(parseDicomBytes(bytes()), 64_000_000);
				assert.deepEqual([frame.height, frame.width, ...(frame.channels === 3 ? [3] : [])], npy.shape);
				const expected = minMaxByDefinition(frame.values);
				sameArray((await decodeToUint8(bytes())).data, expected, "min–max picture");
				assert.ok(new Set(expected).size > 1, "not black");
			});
		} else if (expectedNpy) {
			void test(`${f.path}: uint8 array and PNG pixels equal ${sameAs[f.path] ? `the reference of the same picture (${path.basename(expectedNpy)})` : "the reference"}`, async () => {
				const npy = readNpy(path.join(dir, expectedNpy));
				assert.equal(npy.dtype, "|u1");
				const img = await decodeToUint8(bytes());
				assert.deepEqual([img.height, img.width, ...(img.channels === 3 ? [3] : [])], npy.shape);
				sameArray(img.data, npy.data, "decodeToUint8");
				const out = await convertDicomBytes(bytes(), defaultConvertOptions, path.basename(f.path));
				assert.equal(out.kind, "image", out.kind === "failed" ? out.error : "");
				if (out.kind !== "image") return;
				const png = PNG.sync.read(Buffer.from(out.png));
				assert.equal(png.width, img.width);
				assert.equal(png.height, img.height);
				const channels = img.channels;
				const rgb = new Uint8Array(img.width * img.height * channels);
				for (let i = 0; i < img.width * img.height; i++) {
					for (let c = 0; c < channels; c++) rgb[i * channels + c] = png.data[i * 4 + c] ?? 0;
					if (channels === 1) {
						assert.equal(png.data[i * 4 + 1], png.data[i * 4], "gray replicated to G");
						assert.equal(png.data[i * 4 + 2], png.data[i * 4], "gray replicated to B");
					}
				}
				sameArray(rgb, npy.data, "PNG pixels");
			});
		} else if (pictures[f.path]) {
			const [w, h, c] = pictures[f.path] ?? [0, 0, 0];
			void test(`${f.path}: reference fails (${f.note ?? ""}); we give a ${w}×${h} picture`, async () => {
				const out = await convertDicomBytes(bytes(), defaultConvertOptions);
				assert.equal(out.kind, "image", out.kind === "failed" ? out.error : out.kind);
				const img = await decodeToUint8(bytes());
				assert.deepEqual([img.width, img.height, img.channels], [w, h, c]);
				const distinct = new Set(img.data).size;
				assert.ok(distinct >= 2, `a real picture has more than one value (got ${distinct})`);
			});
		} else {
			void test(`${f.path}: reference fails (${f.note ?? ""}); we skip it with a reason`, async () => {
				const out = await convertDicomBytes(bytes(), defaultConvertOptions);
				assert.equal(out.kind, "skipped", JSON.stringify(out).slice(0, 200));
				if (out.kind === "skipped") assert.match(out.reason, /^holds no image/);
			});
		}
	}
	void test("CT0012 JPEG-LS near-lossless (.81) is within a few levels of the lossless picture", async () => {
		const near = await decodeToUint8(fs.readFileSync(path.join(dir, "files/dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm")));
		const ref = readNpy(path.join(dir, "reference/dicomParser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm.npy"));
		let close = 0;
		for (let i = 0; i < ref.data.length; i++) if (Math.abs((near.data[i] ?? 0) - (ref.data[i] ?? 0)) <= 8) close++;
		assert.ok(close / ref.data.length > 0.95, `${close} of ${ref.data.length} within 8 levels`);
	});
} else {
	void test("reference parity (SKIPPED: ../shared/dicom not found)", { skip: "../shared/dicom not found" }, () => undefined);
}
