import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readResults, parseRunInfo } from "../../../src/core/results/reader";
import { ResultsStore } from "../../../src/core/results/store";

function tmp(): string {
	return mkdtempSync(join(tmpdir(), "mii-reader-"));
}

function rec(path: string, embedding: number[], extra: Record<string, unknown> = {}): string {
	return JSON.stringify({ path, sha256: `sha-${path}`, key: `key-${path}`, sopInstanceUid: `1.2.${path.length}`, seriesInstanceUid: "1.2.3", studyInstanceUid: "1.2", modality: "CT", embedding, time: "2026-11-25T10:00:00Z", ...extra });
}

void test("latest record per path wins, rows are L2-normalised, bad lines are reported not fatal", async () => {
	const dir = tmp();
	try {
		writeFileSync(
			join(dir, "embeddings.jsonl"),
			[
				rec("a.dcm", [3, 4, 0]),
				rec("b.dcm", [0, 0, 2], { seriesDescription: "<img src=x>", thumbnail: "thumbnails/b.png", scalingFactor: 4.2 }),
				"{not json",
				rec("c.dcm", [1, 2]), // wrong length
				rec("d.dcm", [1, Number.NaN, 0]).replace("null", "\"x\""), // NaN serialises as null → not a number
				rec("a.dcm", [0, 5, 0], { modality: "MR" }), // later record for a.dcm
				"",
				rec("e.dcm", [1, 1, 0], { thumbnail: "../../etc/passwd" }),
				'{"path":"f.dcm","embedding":[1,0', // truncated by a crash
			].join("\n"),
		);
		const m = await readResults(dir);
		assert.deepEqual(m.rows.map((r) => r.path), ["a.dcm", "b.dcm", "e.dcm"]);
		assert.equal(m.dim, 3);
		assert.equal(m.vectors.length, 9);
		// a.dcm is the later record (0,5,0) normalised to (0,1,0), with modality MR
		assert.deepEqual(Array.from(m.vectors.subarray(0, 3)), [0, 1, 0]);
		assert.equal(m.rows[0]?.modality, "MR");
		assert.deepEqual(Array.from(m.vectors.subarray(3, 6)), [0, 0, 1]);
		assert.ok(Math.abs((m.vectors[6] as number) - Math.SQRT1_2) < 1e-7);
		assert.equal(m.rows[1]?.seriesDescription, "<img src=x>");
		assert.equal(m.rows[1]?.thumbnail, "thumbnails/b.png");
		assert.equal(m.rows[2]?.thumbnail, undefined, "a thumbnail outside the output folder is dropped");
		assert.equal(m.scalingFactor, 4.2);
		assert.equal(m.problems.length, 4, m.problems.join("\n"));
		assert.match(m.problems[0] ?? "", /^embeddings\.jsonl:3: not valid JSON/);
		assert.match(m.problems[1] ?? "", /^embeddings\.jsonl:4: embedding has 2 values, expected 3/);
		assert.match(m.problems[2] ?? "", /^embeddings\.jsonl:5: .*finite number/);
		assert.match(m.problems[3] ?? "", /^embeddings\.jsonl:9: not valid JSON/);
		assert.equal(m.run, undefined);
		assert.deepEqual(m.failures, []);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

void test("failures of paths embedded later are dropped; the latest failure per path is kept", async () => {
	const dir = tmp();
	try {
		writeFileSync(join(dir, "embeddings.jsonl"), rec("x/ok.dcm", [1, 0]) + "\n");
		writeFileSync(
			join(dir, "failures.jsonl"),
			[
				JSON.stringify({ path: "x/ok.dcm", stage: "embed", error: "HTTP 503", time: "t1" }),
				JSON.stringify({ path: "x/bad.dcm", stage: "decode", error: "first reason", time: "t1" }),
				JSON.stringify({ path: "x/sr.dcm", stage: "skipped", error: "no pixel data (SR)", time: "t1" }),
				JSON.stringify({ path: "x/bad.dcm", stage: "parse", error: "second reason", time: "t2" }),
				JSON.stringify({ stage: "parse" }),
			].join("\n") + "\n",
		);
		const m = await readResults(dir);
		assert.deepEqual(
			m.failures.map((f) => [f.path, f.stage, f.error]),
			[
				["x/sr.dcm", "skipped", "no pixel data (SR)"],
				["x/bad.dcm", "parse", "second reason"],
			],
		);
		assert.deepEqual(m.problems, ["failures.jsonl:5: no path"]);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

void test("an empty or missing output folder gives an empty model", async () => {
	const dir = tmp();
	try {
		const m = await readResults(dir);
		assert.equal(m.rows.length, 0);
		assert.equal(m.dim, 0);
		assert.equal(m.vectors.length, 0);
		assert.deepEqual(m.problems, []);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

void test("many records grow the matrix without losing rows", async () => {
	const dir = tmp();
	try {
		const lines: string[] = [];
		for (let i = 0; i < 1000; i++) lines.push(rec(`img${i}.dcm`, [i + 1, 0, 0, 0]));
		writeFileSync(join(dir, "embeddings.jsonl"), lines.join("\n") + "\n");
		const m = await readResults(dir);
		assert.equal(m.rows.length, 1000);
		assert.equal(m.vectors.length, 4000);
		assert.equal(m.rows[999]?.path, "img999.dcm");
		assert.equal(m.vectors[999 * 4], 1);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

void test("run.json: endpoint, simulated, timings and counts; secrets are never shown", async () => {
	const dir = tmp();
	try {
		writeFileSync(
			join(dir, "run.json"),
			JSON.stringify({
				simulated: true,
				endpoint: { url: "http://127.0.0.1:5000/score", batchSize: 10 },
				settings: { endpoint: { url: "http://127.0.0.1:5000/score", batchSize: 10, apiKey: "canary-secret" }, convert: { thumbnails: true } },
				counts: { found: 12, embedded: 10, failed: 1, skipped: 1, ignored: 3 },
				startedAt: "2026-11-25T10:00:00.000Z",
				finishedAt: "2026-11-25T10:00:05.000Z",
			}),
		);
		const m = await readResults(dir);
		assert.ok(m.run);
		assert.equal(m.run.simulated, true);
		assert.equal(m.run.endpointUrl, "http://127.0.0.1:5000/score");
		assert.equal(m.run.elapsedMs, 5000);
		assert.equal(m.run.counts["ignored"], 3);
		assert.ok(m.run.settings.some(([k, v]) => k === "endpoint.batchSize" && v === "10"));
		assert.ok(!JSON.stringify(m.run).includes("canary-secret"));
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

void test("run.json as the store writes it: endpoint and convert settings at the top level", () => {
	const r = parseRunInfo({
		format: 1,
		product: { name: "medimageinsight-vscode", version: "0.1.0" },
		startedAt: "2026-11-25T10:00:00.000Z",
		endedAt: "2026-11-25T10:01:00.000Z",
		durationMs: 60000,
		imagesPerSecond: 12.5,
		inputs: ["/data/ct"],
		workers: 1,
		endpoint: { url: "http://127.0.0.1:5000/score", simulated: true, batchSize: 10, rateLimit: { calls: 60, periodSeconds: 60 } },
		convert: { thumbnailSize: 64 },
		counts: { found: 5, ignored: 2, embedded: 4, alreadyDone: 0, failed: 1, skipped: 0 },
		cancelled: false,
	});
	assert.equal(r?.simulated, true);
	assert.equal(r?.endpointUrl, "http://127.0.0.1:5000/score");
	assert.equal(r?.elapsedMs, 60000);
	assert.equal(r?.imagesPerSecond, 12.5);
	assert.equal(r?.cancelled, false);
	const settings = new Map(r?.settings);
	assert.equal(settings.get("endpoint.batchSize"), "10");
	assert.equal(settings.get("endpoint.rateLimit.calls"), "60");
	assert.equal(settings.get("convert.thumbnailSize"), "64");
	assert.equal(settings.get("version"), "0.1.0");
	assert.equal(settings.has("endpoint.url"), false);
});

void test("run.json of a run that stopped early: the reason is read, not mistaken for a setting", () => {
	const message = "Cannot reach the endpoint at http://127.0.0.1:45871/score: nothing is listening at 127.0.0.1:45871 (connection refused). Check the URL and that the endpoint is running.";
	const r = parseRunInfo({ endpoint: { url: "http://127.0.0.1:45871/score" }, counts: { found: 9, embedded: 0, failed: 0, skipped: 2 }, cancelled: false, fatal: { code: "unreachable", message } });
	assert.deepEqual(r?.fatal, { code: "unreachable", message });
	assert.equal(r?.settings.some(([k]) => k.startsWith("fatal")), false);
	assert.equal(parseRunInfo({ counts: {}, cancelled: false })?.fatal, undefined);
	assert.equal(parseRunInfo({ counts: {}, fatal: { code: "x" } })?.fatal, undefined, "a fatal without a message is not shown as a reason");
});

void test("parseRunInfo tolerates other shapes", () => {
	assert.equal(parseRunInfo(null), undefined);
	assert.equal(parseRunInfo([1]), undefined);
	const r = parseRunInfo({ endpointUrl: "https://x.inference.ml.azure.com/score", timings: { elapsedMs: 1234 }, summary: { embedded: 2, cancelled: true } });
	assert.equal(r?.simulated, false);
	assert.equal(r?.endpointUrl, "https://x.inference.ml.azure.com/score");
	assert.equal(r?.elapsedMs, 1234);
	assert.equal(r?.cancelled, true);
	assert.equal(r?.counts["embedded"], 2);
});

void test("reads what the results store writes (records, a later retry, thumbnails)", async () => {
	const dir = tmp();
	try {
		const store = await ResultsStore.open(dir, { config: "cfg" });
		const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
		const thumb = await store.saveThumbnail("ab".repeat(32), png);
		const base = { sha256: "ab".repeat(32), sopInstanceUid: "1.2.3.4", seriesInstanceUid: "1.2.3", studyInstanceUid: "1.2", modality: "MR", time: new Date().toISOString() };
		await store.append({
			embeddings: [{ ...base, path: "mr/one.dcm", key: "k1", embedding: [0.6, 0.8, 0], scalingFactor: 4.5, thumbnail: thumb, seriesDescription: "T2 <b>axial</b>" }],
			failures: [
				{ path: "mr/two.dcm", stage: "embed", error: "HTTP 503 after 8 attempts", key: "k2", time: base.time },
				{ path: "sr/report.dcm", stage: "skipped", error: "holds no image", time: base.time },
			],
		});
		// a later retry embeds mr/two.dcm: its failure must disappear
		await store.append({ embeddings: [{ ...base, path: "mr/two.dcm", key: "k2", sopInstanceUid: "1.2.3.5", embedding: [0, 0, 2] }] });
		await store.close();
		const m = await readResults(dir);
		assert.deepEqual(m.rows.map((r) => r.path), ["mr/one.dcm", "mr/two.dcm"]);
		assert.equal(m.rows[0]?.thumbnail, thumb);
		assert.match(thumb, /^thumbnails\/[0-9a-f]+\.png$/);
		assert.equal(m.rows[0]?.seriesDescription, "T2 <b>axial</b>");
		assert.ok(Math.abs((m.vectors[0] as number) - 0.6) < 1e-6 && Math.abs((m.vectors[1] as number) - 0.8) < 1e-6);
		assert.deepEqual(Array.from(m.vectors.subarray(3, 6)), [0, 0, 1]);
		assert.equal(m.scalingFactor, 4.5);
		assert.deepEqual(m.failures.map((f) => f.path), ["sr/report.dcm"]);
		assert.deepEqual(m.problems, []);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
