/**
 * The answers behind the language model tools, on a results folder written here line by line (the
 * format of PRODUCT.md §4) and read by the real reader; expectations worked out by hand.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findImage, labelImages, QueryError, runInputs, similarTo, summarizeRun, type SimilarImages, type SimilarSeries } from "../../../src/core/analysis/runQueries";
import { readResults, type ResultsModel } from "../../../src/core/results/reader";

let dir = "";
let model: ResultsModel;
const input = path.join(os.tmpdir(), "scans-root");

/** Unit vector at `deg` degrees in the first two of four dimensions. */
function at(deg: number): number[] {
	return [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180), 0, 0];
}

before(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-queries-"));
	const images: [string, string, string, string, number][] = [
		// path, sop, series, study, angle
		["ct/a/1.dcm", "1.1", "S-CT", "T1", 0],
		["ct/a/2.dcm", "1.2", "S-CT", "T1", 10],
		["ct/b/1.dcm", "1.3", "S-CT2", "T1", 20],
		["mr/1.dcm", "2.1", "S-MR", "T2", 90],
		["mr/2.dcm", "2.2", "S-MR", "T2", 100],
		["xr/1.dcm", "3.1", "S-XR", "T3", 180],
	];
	const lines = images.map(([p, sop, series, study, deg]) =>
		JSON.stringify({ path: p, sha256: "h", key: "k", sopInstanceUid: sop, seriesInstanceUid: series, studyInstanceUid: study, modality: p.slice(0, 2).toUpperCase(), seriesDescription: "PATIENT^NAME series", time: "", embedding: at(deg).map((x) => x * 3) }),
	);
	fs.writeFileSync(path.join(dir, "embeddings.jsonl"), lines.join("\n") + "\n");
	const failures = [
		{ path: "bad/1.dcm", stage: "decode", error: "Unsupported transfer syntax 1.2.3", time: "" },
		{ path: "bad/2.dcm", stage: "decode", error: "Unsupported transfer syntax 1.2.3", time: "" },
		{ path: "sr/report.dcm", stage: "skipped", error: "no pixel data", time: "" },
		{ path: "net/1.dcm", stage: "embed", error: "HTTP 500 after 8 attempts", time: "" },
	];
	fs.writeFileSync(path.join(dir, "failures.jsonl"), failures.map((f) => JSON.stringify(f)).join("\n") + "\n");
	fs.writeFileSync(
		path.join(dir, "run.json"),
		JSON.stringify({ inputs: [input], startedAt: "2026-11-01T10:00:00.000Z", endedAt: "2026-11-01T10:00:03.000Z", durationMs: 3000, imagesPerSecond: 2, endpoint: { url: "http://127.0.0.1:1/score", simulated: true }, counts: { embedded: 6, ignored: 2, failed: 3, skipped: 1 }, cancelled: false }),
	);
	model = await readResults(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

void test("an image is found by its results path, an absolute path under the run's input, its SOP UID or a unique path suffix", async () => {
	const inputs = await runInputs(dir);
	assert.deepEqual(inputs, [input]);
	assert.equal(model.rows[findImage(model, "mr/2.dcm", inputs)]?.sopInstanceUid, "2.2");
	assert.equal(model.rows[findImage(model, path.join(input, "ct", "b", "1.dcm"), inputs)]?.sopInstanceUid, "1.3");
	assert.equal(model.rows[findImage(model, "3.1", inputs)]?.path, "xr/1.dcm");
	assert.equal(model.rows[findImage(model, "b/1.dcm", inputs)]?.sopInstanceUid, "1.3");
	assert.throws(() => findImage(model, "1.dcm", inputs), (e: unknown) => e instanceof QueryError && /matches 4 images/.test(e.message));
	assert.throws(() => findImage(model, "bad/1.dcm", inputs), /has no embedding: it failed \(decode: Unsupported transfer syntax/);
	assert.throws(() => findImage(model, "nowhere.dcm", inputs), /No embedded image .* matches "nowhere.dcm"/);
});

void test("similar images are ranked by cosine with the query excluded; no description or other header text is returned", () => {
	const r = similarTo(model, 0, 3, "image") as SimilarImages;
	assert.equal(r.query.path, "ct/a/1.dcm");
	assert.deepEqual(r.similar.map((s) => s.path), ["ct/a/2.dcm", "ct/b/1.dcm", "mr/1.dcm"]);
	assert.deepEqual(r.similar.map((s) => s.score), [Math.round(Math.cos(Math.PI / 18) * 1e4) / 1e4, Math.round(Math.cos(Math.PI / 9) * 1e4) / 1e4, 0]);
	assert.ok(!JSON.stringify(r).includes("PATIENT"), "descriptions are not returned");
	assert.deepEqual(Object.keys(r.similar[0]!).sort(), ["modality", "path", "score", "seriesInstanceUid", "sopInstanceUid", "studyInstanceUid"]);
});

void test("similar series compare the series' mean directions", () => {
	// S-CT = mean of 0° and 10° = 5°; S-CT2 = 20°; S-MR = 95°; S-XR = 180°.
	const r = similarTo(model, 1, 3, "series") as SimilarSeries;
	assert.equal(r.query.seriesInstanceUid, "S-CT");
	assert.equal(r.query.images, 2);
	assert.deepEqual(r.similar.map((s) => s.seriesInstanceUid), ["S-CT2", "S-MR", "S-XR"]);
	assert.ok(Math.abs(r.similar[0]!.score - Math.cos((15 * Math.PI) / 180)) < 1e-4);
	assert.ok(Math.abs(r.similar[1]!.score - Math.cos((90 * Math.PI) / 180)) < 1e-4);
	assert.ok(Math.abs(r.similar[2]!.score - Math.cos((175 * Math.PI) / 180)) < 1e-4);
});

void test("zero-shot labels: the most probable label per image, counts over all, the list cut at the limit", async () => {
	const asked: string[][] = [];
	// Label texts along 0° and 90°, with the endpoint's scaling factor ln(10): logits 10·cos.
	const embedTexts = async (texts: string[]) => {
		asked.push(texts);
		return { embeddings: texts.map((t) => Float32Array.from(at(t === "ct" ? 0 : 90))), scalingFactor: Math.log(10) };
	};
	const r = await labelImages(model, ["ct", "mr", "ct", " "], embedTexts, { limit: 2, signal: new AbortController().signal });
	assert.deepEqual(asked, [["ct", "mr"]], "duplicate and blank labels are dropped before asking");
	// 0°,10°,20° → ct; 90°,100° → mr; 180°: cos = -1 vs 0 → mr.
	assert.deepEqual(r.counts, { ct: 3, mr: 3 });
	assert.equal(r.labelled, 6);
	assert.equal(r.images.length, 2);
	assert.ok(r.truncated);
	const p0 = 1 / (1 + Math.exp(10 * (0 - 1)));
	assert.equal(r.images[0]!.label, "ct");
	assert.ok(Math.abs(r.images[0]!.probability - p0) < 1e-4, `${r.images[0]!.probability} vs ${p0}`);

	const some = await labelImages(model, ["ct", "mr"], embedTexts, { rows: [5], limit: 10, signal: new AbortController().signal });
	assert.deepEqual(some.counts, { ct: 0, mr: 1 });
	assert.equal(some.images[0]!.path, "xr/1.dcm");
	await assert.rejects(labelImages(model, ["ct"], embedTexts, { limit: 1, signal: new AbortController().signal }), /at least two different candidate labels/);
	await assert.rejects(
		labelImages(model, ["a", "b"], async () => ({ embeddings: [new Float32Array(3), new Float32Array(3)] }), { limit: 1, signal: new AbortController().signal }),
		/label embeddings have 3 values but the images 4/,
	);
});

void test("a run summary: counts, series and studies, failures grouped by reason, rate", () => {
	const s = summarizeRun(model);
	assert.equal(s.embedded, 6);
	assert.equal(s.failed, 3);
	assert.equal(s.skipped, 1);
	assert.equal(s.ignored, 2);
	assert.equal(s.series, 4);
	assert.equal(s.studies, 3);
	assert.deepEqual(s.modalities, { CT: 3, MR: 2, XR: 1 });
	assert.deepEqual(
		s.failuresByReason.map((f) => [f.stage, f.reason, f.count]),
		[
			["decode", "Unsupported transfer syntax 1.2.3", 2],
			["embed", "HTTP 500 after 8 attempts", 1],
			["skipped", "no pixel data", 1],
		],
	);
	assert.deepEqual(s.failuresByReason[0]!.examples, ["bad/1.dcm", "bad/2.dcm"]);
	assert.equal(s.imagesPerSecond, 2);
	assert.equal(s.elapsedSeconds, 3);
	assert.equal(s.simulatedEndpoint, true);
	assert.equal(s.cancelled, false);
});
