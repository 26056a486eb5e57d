import { test } from "node:test";
import assert from "node:assert/strict";
import type { ToWebview } from "../../../src/core/protocol/webview";
import type { ResultsModel } from "../../../src/core/results/reader";
import { testSession } from "../helpers/resultsSession";

function session(model: ResultsModel, onCopy?: string) {
	const sent: ToWebview[] = [];
	const s = testSession(model, sent, {
		embedTexts: async (t) => ({ embeddings: t.map((x, i) => Float32Array.from([Math.cos(i + x.length), Math.sin(i + x.length)])) }),
		onAction: async (a) => (a.type === "copyPath" ? onCopy : undefined),
		hasNpy: true,
	});
	return { s, sent, settle: () => new Promise((r) => setTimeout(r, 30)) };
}

function rows(n: number): Pick<ResultsModel, "rows" | "vectors" | "dim"> {
	return {
		rows: Array.from({ length: n }, (_, i) => ({ path: `img${i}.dcm`, sha256: "s", key: "k", sopInstanceUid: `1.${i}`, seriesInstanceUid: "2", studyInstanceUid: "3", modality: "CT", time: "2026-11-29T10:00:00Z" })),
		vectors: new Float32Array(Array.from({ length: n }, (_, i) => [Math.cos(i), Math.sin(i)]).flat()),
		dim: 2,
	};
}

void test("summary: the folder's totals count later failures of embedded files; the last run's counts come from run.json", () => {
	const { s } = session({
		outDir: "/out",
		...rows(4),
		failures: [
			{ path: "sr.dcm", stage: "skipped", error: "no image", time: "" },
			{ path: "bad.dcm", stage: "decode", error: "truncated", time: "" },
		],
		laterFailures: [
			{ path: "img0.dcm", stage: "embed", error: "connection error: ECONNREFUSED", time: "2026-11-29T11:00:00Z" },
			{ path: "img1.dcm", stage: "embed", error: "connection error: ECONNREFUSED", time: "2026-11-29T11:00:00Z" },
		],
		problems: [],
		run: { simulated: false, settings: [], counts: { found: 6, embedded: 0, alreadyDone: 2, failed: 3, skipped: 1, ignored: 0 }, elapsedMs: 12_000, imagesPerSecond: 0, cancelled: false },
	});
	const sum = s.summary();
	assert.equal(sum.embedded, 4);
	assert.equal(sum.failed, 3, "bad.dcm and the two later failures");
	assert.equal(sum.skipped, 1);
	assert.equal(sum.failedWithEmbedding, 2);
	assert.deepEqual(sum.lastRun, { elapsedMs: 12_000, rate: 0, embedded: 0, alreadyDone: 2, failed: 3, skipped: 1, cancelled: false });
	assert.deepEqual(s.failureList().map((f) => [f.path, f.embedded === true]), [
		["sr.dcm", false],
		["bad.dcm", false],
		["img0.dcm", true],
		["img1.dcm", true],
	]);
	assert.match(s.csv(), /img0\.dcm,failed,.*ECONNREFUSED/);
});

void test("summary: a last run that stopped early carries its reason; the folder's totals keep the earlier embeddings", () => {
	const message = "Cannot reach the endpoint at http://127.0.0.1:45871/score: nothing is listening at 127.0.0.1:45871 (connection refused).";
	const { s } = session({
		outDir: "/out",
		...rows(3),
		failures: [],
		problems: [],
		run: { simulated: false, settings: [], counts: { found: 3, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 }, elapsedMs: 2_000, imagesPerSecond: 0, cancelled: false, fatal: { code: "unreachable", message } },
	});
	const sum = s.summary();
	assert.equal(sum.embedded, 3);
	assert.equal(sum.failed, 0);
	assert.deepEqual(sum.lastRun, { elapsedMs: 2_000, rate: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, cancelled: false, stopped: message });
});

void test("a session that replaces another after a re-read replays its labels, search and outliers on the new data", async () => {
	const first = session({ outDir: "/out", ...rows(5), failures: [], problems: [] });
	first.s.receive({ type: "ready" });
	first.s.receive({ type: "labels", labels: ["CT chest", "MR brain"] });
	first.s.receive({ type: "query", text: "chest" });
	first.s.receive({ type: "outliers", k: 2 });
	await first.settle();
	const carried = first.s.requests();
	assert.deepEqual(carried.map((r) => r.type), ["labels", "query", "outliers"]);
	const second = session({ outDir: "/out", ...rows(7), failures: [], problems: [] });
	second.s.carryOver(carried);
	first.s.dispose();
	second.s.receive({ type: "ready" });
	await second.settle();
	const types = second.sent.map((m) => m.type);
	assert.equal(types[0], "init");
	const labels = second.sent.find((m) => m.type === "labels");
	assert.ok(labels && labels.type === "labels" && new Int32Array(labels.best).length === 7, "labels recomputed for the 7 new rows");
	const query = second.sent.find((m) => m.type === "query");
	assert.ok(query && query.type === "query" && new Float32Array(query.scores).length === 7);
	assert.ok(second.sent.some((m) => m.type === "outliers"));
});

void test("Copy Path: the shell's confirmation reaches the view", async () => {
	const { s, sent, settle } = session({ outDir: "/out", ...rows(2), failures: [], problems: [] }, "Copied /out/embeddings.npy");
	s.receive({ type: "ready" });
	s.receive({ type: "copyPath", which: "npy" });
	await settle();
	assert.deepEqual(sent.filter((m) => m.type === "notice"), [{ type: "notice", message: "Copied /out/embeddings.npy" }]);
});
