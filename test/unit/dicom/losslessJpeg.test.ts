// Own JPEG Lossless decoder: codestreams written here by a small encoder that follows T.81 Annex H
// (all seven predictors, 2–16 bit, 1 and 3 components, interleaved and one scan per component, point
// transform, restart intervals) must decode to the input samples; the shared DICOM files must
// decode exactly as jpeg-lossless-decoder-js decodes them.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { firstEncapsulatedFrame } from "../../../src/core/dicom/frames";
import { decodeJpegLossless, decodeWithLibrary } from "../../../src/core/dicom/jpegLossless";
import { decodeLosslessJpeg, LosslessUnsupported } from "../../../src/core/dicom/losslessJpeg";
import { parseDicomBytes } from "../../../src/core/dicom/parse";
import { encodeLosslessJpeg as encode, type EncodeOptions } from "../helpers/losslessJpegEncoder";
import { loadManifest } from "../helpers/sharedDicom";

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** A smooth picture with noise (small differences) and a few random outliers (large ones). */
function picture(o: EncodeOptions, seed: number): number[] {
	const r = rng(seed);
	const max = 2 ** o.precision - 1;
	const out: number[] = [];
	for (let y = 0; y < o.height; y++) {
		for (let x = 0; x < o.width; x++) {
			for (let c = 0; c < o.components; c++) {
				const smooth = (0.5 + 0.4 * Math.sin(x / 7 + c) * Math.cos(y / 5)) * max;
				const v = r() < 0.05 ? r() * max : smooth + (r() - 0.5) * Math.min(max, 40);
				out.push(Math.max(0, Math.min(max, Math.round(v))));
			}
		}
	}
	return out;
}

void test("every predictor, 2–16 bit, 1 and 3 components: decodes to the encoded samples", () => {
	let seed = 1;
	for (const precision of [2, 8, 12, 16]) {
		for (const components of [1, 3]) {
			for (let predictor = 1; predictor <= 7; predictor++) {
				const o: EncodeOptions = { width: 23, height: 17, components, precision, predictor };
				const samples = picture(o, seed++);
				const d = decodeLosslessJpeg(encode(samples, o));
				assert.deepEqual([d.width, d.height, d.components, d.precision], [23, 17, components, precision]);
				assert.deepEqual(Array.from(d.samples), samples, `precision ${precision}, ${components} components, predictor ${predictor}`);
			}
		}
	}
});

void test("full-range 16-bit noise (difference category 16) round-trips", () => {
	const r = rng(99);
	const o: EncodeOptions = { width: 31, height: 9, components: 1, precision: 16, predictor: 1 };
	const samples = Array.from({ length: 31 * 9 }, (_, i) => (i % 2 ? 0 : r() < 0.5 ? 65535 : Math.floor(r() * 65536)));
	samples[1] = 32768; // then 0: a step of -32768, coded as category 16 without extra bits
	samples[2] = 0;
	assert.deepEqual(Array.from(decodeLosslessJpeg(encode(samples, o)).samples), samples);
});

void test("point transform: samples come back as (v >> Pt) << Pt", () => {
	for (const pt of [1, 3]) {
		const o: EncodeOptions = { width: 19, height: 11, components: 1, precision: 12, predictor: 6, pointTransform: pt };
		const samples = picture(o, 7 + pt);
		assert.deepEqual(Array.from(decodeLosslessJpeg(encode(samples, o)).samples), samples.map((s) => (s >> pt) << pt));
	}
});

void test("restart intervals of whole lines, interleaved and one scan per component", () => {
	for (const [restartLines, separateScans] of [[1, false], [3, false], [2, true], [0, true]] as const) {
		const o: EncodeOptions = { width: 17, height: 13, components: 3, precision: 8, predictor: 4, restartLines, separateScans };
		const samples = picture(o, 40 + restartLines);
		assert.deepEqual(Array.from(decodeLosslessJpeg(encode(samples, o)).samples), samples, `restart ${restartLines} lines, separate scans ${separateScans}`);
	}
});

void test("what it does not handle is refused as unsupported, and decodeJpegLossless still decodes it", () => {
	const o: EncodeOptions = { width: 8, height: 4, components: 1, precision: 8, predictor: 1 };
	const stream = encode(picture(o, 3), o);
	const baseline = stream.slice();
	baseline[3] = 0xc0; // SOF0 instead of SOF3
	assert.throws(() => decodeLosslessJpeg(baseline), LosslessUnsupported);
	assert.throws(() => decodeLosslessJpeg(Uint8Array.from([0, 1, 2])), LosslessUnsupported);
	// A stream ours decodes goes through ours and equals the library's result.
	const samples = picture(o, 3);
	assert.deepEqual(Array.from(decodeJpegLossless(stream, 8).samples), samples);
	assert.deepEqual(Array.from(decodeWithLibrary(stream, 8).samples), samples);
});

const shared = loadManifest("JPEG Lossless comparison with jpeg-lossless-decoder-js");
if (shared) {
	const { dir, files } = shared;
	const names = ["JPEG-LL.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "SC_rgb_jpeg_gdcm.dcm", "CT0012.fragmented_no_bot_jpeg_lossless.57.dcm"];
	for (const name of names) {
		const entry = files.find((f) => path.basename(f.path) === name);
		void test(`${name}: our decoder equals jpeg-lossless-decoder-js sample for sample`, () => {
			assert.ok(entry, `${name} is in the manifest`);
			const parsed = parseDicomBytes(new Uint8Array(fs.readFileSync(path.join(dir, entry.path))));
			const el = parsed.dataSet.elements["x7fe00010"];
			assert.ok(el);
			const bits = parsed.dataSet.uint16("x00280100") ?? 16;
			const frame = firstEncapsulatedFrame(parsed.dataSet, el, 1, "jpegLossless");
			const ours = decodeLosslessJpeg(frame);
			const lib = decodeWithLibrary(frame, bits);
			assert.deepEqual([ours.width, ours.height, ours.components], [lib.width, lib.height, lib.components]);
			assert.equal(ours.samples.length, lib.samples.length);
			let mismatches = 0;
			for (let i = 0; i < ours.samples.length; i++) if (ours.samples[i] !== lib.samples[i]) mismatches++;
			assert.equal(mismatches, 0);
		});
	}
} else {
	void test("JPEG Lossless on shared files (SKIPPED: ../shared/dicom not found)", { skip: "../shared/dicom not found" }, () => undefined);
}
