import { test } from "node:test";
import assert from "node:assert/strict";
import type { RunProgress, RunSummary } from "../../../src/core/pipeline/types";
import {
	commonestReason,
	failedText,
	formatDuration,
	percentDone,
	progressMessage,
	ReportThrottle,
	statusBarRunningText,
	statusBarSummaryText,
	summaryMessage,
} from "../../../src/extension/ui/progressText";

function progress(over: Partial<RunProgress>): RunProgress {
	return {
		found: 0,
		discoveryDone: false,
		ignored: 0,
		converted: 0,
		embedded: 0,
		alreadyDone: 0,
		failed: 0,
		skipped: 0,
		rate: 0,
		client: { state: "running", inFlight: 0, concurrency: 3 },
		elapsedMs: 0,
		...over,
	};
}

function summary(over: Partial<RunSummary>): RunSummary {
	return { outDir: "/o", found: 0, ignored: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, cancelled: false, elapsedMs: 0, ...over };
}

void test("the running message reads like the spec: “Embedding 1,234 / 10,000 · 8.3 img/s · 18 min left”", () => {
	const p = progress({ found: 10000, discoveryDone: true, converted: 1300, embedded: 1234, rate: 8.3, etaSeconds: 1050 });
	assert.equal(progressMessage(p), "Embedding 1,234 / 10,000 · 8.3 img/s · 18 min left");
});

void test("while discovery still runs the total is marked open and no ETA is promised", () => {
	const p = progress({ found: 500, discoveryDone: false, converted: 20, embedded: 10, rate: 4, etaSeconds: 100 });
	assert.equal(progressMessage(p), "Embedding 10 / 500+ · 4.0 img/s");
});

void test("a paused endpoint says it is throttling and counts down", () => {
	const now = 1_000_000;
	const p = progress({ found: 90, discoveryDone: true, converted: 40, embedded: 30, failed: 2, client: { state: "paused", reason: "429", resumeAt: now + 40_000 } });
	assert.equal(progressMessage(p, now), "Endpoint throttling — waiting 40 s · 32 / 90 done · 2 failed");
	assert.equal(progressMessage(p, now + 41_000), "Endpoint throttling — probing · 32 / 90 done · 2 failed");
});

void test("before anything is converted the message says what it is doing", () => {
	assert.equal(progressMessage(progress({ found: 12 })), "Looking for DICOM files… 12 found");
});

void test("percent counts embedded, already done, failed and skipped against the files found", () => {
	assert.equal(percentDone(progress({ found: 200, embedded: 50, alreadyDone: 30, failed: 10, skipped: 10 })), 50);
	assert.equal(percentDone(progress({ found: 0 })), 0);
});

void test("durations round to seconds, minutes, hours", () => {
	assert.equal(formatDuration(0.2), "<1 s");
	assert.equal(formatDuration(42.4), "42 s");
	assert.equal(formatDuration(61), "1 min");
	assert.equal(formatDuration(2 * 3600 + 5 * 60), "2 h 5 min");
	assert.equal(formatDuration(3 * 3600), "3 h");
});

void test("the status bar shows a spinner with done/found and the rate while running", () => {
	assert.equal(statusBarRunningText(progress({ found: 900, discoveryDone: true, embedded: 120, rate: 14 })), "$(sync~spin) 120/900 · 14.0/s");
});

void test("the status bar summary distinguishes success, failures, cancellation and a stop", () => {
	assert.equal(statusBarSummaryText(summary({ found: 10, embedded: 7, alreadyDone: 3 })), "$(check) 10 embedded");
	assert.equal(statusBarSummaryText(summary({ found: 10, embedded: 8, failed: 2 })), "$(warning) 8 embedded · 2 failed");
	assert.equal(statusBarSummaryText(summary({ found: 10, embedded: 4, cancelled: true })), "$(circle-slash) 4/10 · cancelled");
	assert.equal(statusBarSummaryText(summary({ fatal: { code: "unauthorized", message: "401" } })), "$(error) MedImageInsight: stopped");
});

void test("the final message names every count and labels the simulation", () => {
	const m = summaryMessage(summary({ found: 20, embedded: 15, alreadyDone: 2, failed: 1, skipped: 2, ignored: 3, elapsedMs: 14_000 }), true);
	assert.equal(m, "18 images: 15 embedded now, 2 identical to images already embedded, 1 failed (14 s); 2 files without an image skipped; 3 other files ignored. (simulated endpoint, not MedImageInsight)");
	assert.equal(summaryMessage(summary({ ignored: 4 }), false), "No DICOM files found (4 other files ignored).");
	assert.equal(summaryMessage(summary({ found: 9, embedded: 9, elapsedMs: 4_000 }), false), "9 images embedded in 4 s.");
	assert.equal(summaryMessage(summary({ found: 1, embedded: 1, elapsedMs: 4_000 }), false), "1 image embedded in 4 s.");
});

void test("a re-run says there was nothing to do, or how many were identical to images already embedded", () => {
	assert.equal(summaryMessage(summary({ found: 56, alreadyDone: 56, elapsedMs: 800 }), false), "Nothing to do: all 56 images were already embedded.");
	assert.equal(summaryMessage(summary({ found: 58, alreadyDone: 56, skipped: 2 }), false), "Nothing to do: all 56 images were already embedded; 2 files without an image skipped.");
	assert.equal(summaryMessage(summary({ found: 280, embedded: 56, alreadyDone: 224, elapsedMs: 30_000 }), false), "280 images: 56 embedded now, 224 identical to images already embedded (30 s).");
	// A re-run where a broken file fails again: nothing new, and why the rest failed.
	assert.equal(
		summaryMessage(summary({ found: 12, alreadyDone: 10, failed: 1, skipped: 1, failureReasons: [{ reason: "not decodable", count: 1 }], elapsedMs: 300 }), false),
		"11 images: 10 already embedded, 1 failed: not decodable (<1 s); 1 file without an image skipped.",
	);
	// The status bar counts the same images: all of them are embedded in the folder.
	assert.equal(statusBarSummaryText(summary({ found: 280, embedded: 56, alreadyDone: 224 })), "$(check) 280 embedded");
});

void test("failures name the commonest reason", () => {
	const reasons = [
		{ reason: "no answer", count: 6 },
		{ reason: "connection refused", count: 50 },
	];
	assert.equal(failedText({ failed: 56, failureReasons: [{ reason: "connection refused", count: 56 }] }), "56 failed: connection refused");
	assert.equal(failedText({ failed: 56, failureReasons: reasons }), "56 failed (50: connection refused)");
	assert.equal(failedText({ failed: 3 }), "3 failed");
	assert.deepEqual(commonestReason({ failed: 0, failureReasons: reasons }), undefined);
	assert.equal(
		summaryMessage(summary({ found: 56, failed: 56, failureReasons: [{ reason: "connection refused", count: 56 }], elapsedMs: 3_000 }), false),
		"56 images: none embedded, 56 failed: connection refused (3 s).",
	);
});

void test("a cancelled run says what is done and what is left, in the same counts", () => {
	const s = summary({ found: 56, embedded: 10, alreadyDone: 4, failed: 1, cancelled: true, elapsedMs: 5_000 });
	assert.equal(summaryMessage(s, false), "Run cancelled after 5 s. 56 images: 10 embedded now, 4 identical to images already embedded, 1 failed, 41 not done yet. Run it again to continue where it stopped.");
	assert.equal(statusBarSummaryText(s), "$(circle-slash) 14/56 · cancelled");
});

void test("a stop for a dead endpoint leads with its reason", () => {
	const m = summaryMessage(summary({ found: 56, fatal: { code: "unreachable", message: "Cannot reach the endpoint at http://127.0.0.1:9/score: connection refused. Check the URL." }, elapsedMs: 2_000 }), false);
	assert.equal(m, "MedImageInsight stopped after 2 s: Cannot reach the endpoint at http://127.0.0.1:9/score: connection refused. Check the URL.");
});

void test("the throttle lets at most one report through per 250 ms", () => {
	const t = new ReportThrottle(250);
	const passed = [0, 100, 249, 250, 400, 501, 760].filter((ms) => t.shouldReport(ms));
	assert.deepEqual(passed, [0, 250, 501, 760]);
});
