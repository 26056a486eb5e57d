import assert from "node:assert/strict";
import { test } from "node:test";
import type { QueueRunStatus, QueueRunSummary } from "../../../src/core/queue/queueRun";
import { countsText, statusBarRunningText } from "../../../src/extension/ui/progressText";
import { needsWorker, queueNote, queueProgress, queueProgressMessage, queueSummary, RateMeter, sinceBase, submittingMessage, zeroCounters } from "../../../src/extension/ui/queueText";

function status(over: Partial<QueueRunStatus> = {}): QueueRunStatus {
	return {
		runId: "r1",
		outDir: "/out",
		endpoint: "https://e.example/score",
		generation: 2,
		enumerated: true,
		merged: false,
		cancelled: false,
		found: 140,
		queued: 140,
		alreadyDoneAtSubmit: 0,
		ignored: 0,
		done: { items: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, jobs: 0 },
		jobs: { waiting: 3, active: 2, delayed: 0, failed: 0, completed: 0 },
		workers: 2,
		submittedAt: 0,
		...over,
	};
}

const queue = "redis://q:6379";

void test("progress counts only what the workers did since this submission began", () => {
	// An earlier submission had embedded 100 images; this one found 40, 10 of them already done.
	const base = { items: 100, embedded: 90, alreadyDone: 0, failed: 10, skipped: 0, jobs: 7 };
	const s = status({ done: { items: 120, embedded: 108, alreadyDone: 1, failed: 11, skipped: 0, jobs: 9 } });
	const p = queueProgress(s, base, { found: 40, alreadyDone: 10, ignored: 2, done: true }, 4, 5000);
	assert.equal(p.found, 40);
	assert.equal(p.embedded, 18);
	assert.equal(p.alreadyDone, 11);
	assert.equal(p.failed, 1);
	assert.equal(p.ignored, 2);
	assert.equal(p.discoveryDone, true);
	// 40 − (18 + 11 + 1) = 10 left at 4 img/s.
	assert.equal(p.etaSeconds, 2.5);
	assert.match(queueProgressMessage(p, s, queue), /^Embedding 30 \/ 40 · 4\.0 img\/s · 3 s left · 1 failed · 2 workers, 3 jobs waiting$/);
	assert.equal(statusBarRunningText(p), "$(sync~spin) 30/40 · 4.0/s");
});

void test("no worker alive: the message says how to start one, with the queue's URL", () => {
	const s = status({ workers: 0 });
	assert.equal(needsWorker(s), true);
	const p = queueProgress(s, zeroCounters, { found: 40, alreadyDone: 0, ignored: 0, done: true }, 0, 1000);
	assert.equal(queueProgressMessage(p, s, queue), "Waiting for a worker — start one with `medimageinsight worker --queue redis://q:6379` · 0 / 40 done · 3 jobs waiting");
	// Every job done but no worker left to merge: still waiting for one.
	assert.equal(needsWorker(status({ workers: 0, jobs: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 3 } })), true);
	assert.equal(needsWorker(status({ workers: 0, merged: true })), false);
});

void test("every job done, not merged yet: 'merging'", () => {
	const s = status({ jobs: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 3 }, done: { items: 40, embedded: 40, alreadyDone: 0, failed: 0, skipped: 0, jobs: 3 } });
	const p = queueProgress(s, zeroCounters, { found: 40, alreadyDone: 0, ignored: 0, done: true }, 0, 1000);
	assert.match(queueProgressMessage(p, s, queue), /^Merging the workers' parts into the output folder · 40 embedded$/);
});

void test("while submit enumerates", () => {
	assert.equal(submittingMessage({ found: 1200, queued: 1184, jobs: 74, alreadyDone: 16, ignored: 0 }, queue), "Putting the run on the queue at redis://q:6379 · 1,200 found · 16 already done · 1,184 queued in 74 jobs");
});

void test("the end of a run as a local run's summary, and the note about the queue", () => {
	const merge = { generation: 2, embedded: 38, failed: 2, skipped: 0, duplicates: 1, parts: [{ id: "a", embedded: 20, failed: 1, skipped: 0 }, { id: "b", embedded: 18, failed: 1, skipped: 0 }], rows: 38, dim: 1024, time: "", failureReasons: [{ reason: "HTTP 500", count: 2 }] };
	const end: QueueRunSummary = { status: status({ merged: true, merge, done: { items: 40, embedded: 38, alreadyDone: 0, failed: 2, skipped: 0, jobs: 3 }, jobs: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 3 } }), finished: true, detached: false };
	const s = queueSummary("/out", { found: 40, alreadyDone: 0, ignored: 1, done: true }, end, zeroCounters, false, 9000);
	assert.deepEqual({ ...s, failureReasons: undefined }, { outDir: "/out", found: 40, ignored: 1, embedded: 38, alreadyDone: 0, failed: 2, skipped: 0, cancelled: false, failureReasons: undefined, elapsedMs: 9000 });
	assert.equal(countsText(s), "40 images: 38 embedded now, 2 failed: HTTP 500; 1 other file ignored");
	assert.equal(queueNote(end, undefined, queue), "Done by 2 workers on redis://q:6379; the output folder holds 38 embeddings.");
	// Cancelled: how many jobs left the queue.
	assert.equal(queueNote(end, 5, queue), "5 waiting jobs were removed from the queue. Done by 2 workers on redis://q:6379; the output folder holds 38 embeddings.");
	// Not merged (no worker left): when the final files come.
	const open: QueueRunSummary = { status: status({ workers: 0 }), finished: false, detached: true };
	assert.equal(queueNote(open, 1, queue), "1 waiting job was removed from the queue. The final files are written when a worker merges the parts (start one with `medimageinsight worker --queue redis://q:6379`).");
	// A worker's fatal error: the summary carries it.
	const fatal: QueueRunSummary = { status: status(), finished: false, fatal: { code: "unauthorized", message: "HTTP 401", worker: "w1", time: "" }, detached: false };
	assert.deepEqual(queueSummary("/out", { found: 40, alreadyDone: 0, ignored: 0, done: true }, fatal, zeroCounters, false, 1).fatal, { code: "queue-worker", message: "worker w1: HTTP 401" });
});

void test("sinceBase never goes below zero; the rate meter averages over its window", () => {
	assert.deepEqual(sinceBase(zeroCounters, { items: 5, embedded: 5, alreadyDone: 0, failed: 0, skipped: 0, jobs: 1 }), zeroCounters);
	const m = new RateMeter(10_000);
	assert.equal(m.add(0, 0), 0);
	assert.equal(m.add(20, 2000), 10);
	assert.equal(m.add(40, 4000), 10);
	// Samples older than the window drop out: 40 → 100 in 10 s.
	assert.equal(m.add(100, 14_000), 6);
});
