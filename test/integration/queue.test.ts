/**
 * Queue runs in the real extension host (medImageInsight.queue.url, PRODUCT.md §8): a real
 * redis-server and a simulated endpoint on loopback started by this test, and two real worker
 * processes (`node dist/cli.js worker`) that take the endpoint key from their own environment — the
 * extension is given no key at all. Generate Embeddings submits the run; the notification says when
 * no worker is there; every image ends exactly once in the merged output and the final message
 * offers Show Results. Cancel mid-run removes the waiting jobs (fewer images, no duplicates). An
 * unreachable Redis and the built-in simulation are refused in plain words.
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../src/core/pipeline/types";
import { startSimulator, type SimulatorHandle } from "../../src/core/simulator/server";
import { newUid, writeDicom } from "../../src/devtools/dicomWriter";
import { freePort } from "../unit/helpers/debianPackage";
import { startRedis, type RedisServer } from "../unit/helpers/redis";
import { api, extensionId, readJsonl, setSetting, waitFor } from "./helpers";

/** The workers' key: the extension never holds it (no SecretStorage entry for this endpoint). */
const canary = `QUEUE-KEY-${Date.now().toString(36)}-5c1d`;

/** `count` small real DICOM images in `dir` (each its own pixels); their recorded paths, sorted. */
function writeImages(dir: string, count: number, seed: number): string[] {
	const study = newUid();
	const out: string[] = [];
	for (let i = 0; i < count; i++) {
		const series = `s${i % 2}`;
		const pixels = new Uint16Array(32 * 32).map((_, p) => ((p * (i + seed)) % 991) + ((p >> 5) * (i + 7)) % 300);
		const bytes = writeDicom({
			transferSyntax: i % 2 ? "implicitLE" : "explicitLE",
			rows: 32,
			columns: 32,
			bitsAllocated: 16,
			bitsStored: 12,
			pixels,
			modality: "CT",
			studyInstanceUid: study,
			seriesInstanceUid: `${study}.${i % 2}`,
			instanceNumber: i + 1,
		});
		fs.mkdirSync(path.join(dir, series), { recursive: true });
		const rel = `${series}/im${String(i).padStart(3, "0")}.dcm`;
		fs.writeFileSync(path.join(dir, rel), bytes);
		out.push(rel);
	}
	return out.sort();
}

/** Resolves with the promise's value, or fails after a generous hang guard (not a timing assertion). */
async function guard<T>(what: string, p: Thenable<T>, ms = 120_000): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang guard: ${what} did not end within ${ms / 1000} s`)), ms)))]);
	} finally {
		clearTimeout(timer);
	}
}

describe("Queue runs (medImageInsight.queue.url, real Redis and workers)", function () {
	this.timeout(300_000);
	let redis: RedisServer | undefined;
	let sim: SimulatorHandle | undefined;
	let work = "";
	const workers: { child: ChildProcess; log: () => string }[] = [];
	let cli = "";
	/** While true the simulated model refuses every image (HTTP 424, model status 400): they fail for good. */
	let modelRefuses = false;

	function startWorker(id: string): void {
		const child = spawn(process.execPath, [cli, "worker", "--queue", redis!.url, "--id", id, "--jobs", "1", "--workers", "1", "--stall-seconds", "10"], {
			env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), MEDIMAGEINSIGHT_API_KEY: canary },
			stdio: ["ignore", "ignore", "pipe"],
		});
		let log = "";
		child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
		workers.push({ child, log: () => log });
	}

	const generate = (dir: string) => vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.generateEmbeddings", vscode.Uri.file(dir));

	before(async function () {
		const ext = vscode.extensions.getExtension(extensionId);
		cli = path.join(ext!.extensionPath, "dist", "cli.js");
		assert.ok(fs.existsSync(cli), `${cli} is built (node esbuild.js)`);
		// Persistent (append-only, fsynced), so that the queue survives the restart of the Redis test.
		redis = await startRedis({ persist: true });
		assert.ok(redis, "redis-server is installed and started (see TESTING.md)");
		// Slow enough that a run of several jobs can be cancelled while some still wait.
		sim = await startSimulator({ port: 0, key: canary, latencyMs: 150, fault: () => (modelRefuses ? "424-400" : undefined) });
		work = fs.mkdtempSync(path.join(os.tmpdir(), "mii-queue-"));
		await setSetting("endpoint.url", sim.url);
		await setSetting("endpoint.authMode", "key");
		await setSetting("rateLimit.calls", 1000);
		await setSetting("rateLimit.periodSeconds", 1);
		await setSetting("batchSize", 4);
		await setSetting("outputFolder", path.join(work, "out"));
		await vscode.commands.executeCommand("medImageInsight.clearApiKey");
	});

	after(async function () {
		for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
		await Promise.all(workers.map((w) => (w.child.exitCode === null && w.child.signalCode === null ? new Promise((r) => w.child.once("exit", r)) : undefined)));
		for (const k of ["queue.url", "endpoint.url", "endpoint.authMode", "rateLimit.calls", "rateLimit.periodSeconds", "batchSize", "outputFolder"]) await setSetting(k, undefined);
		await sim?.close();
		await redis?.stop();
		if (work) fs.rmSync(work, { recursive: true, force: true });
	});

	it("Generate Embeddings submits to the queue, says when no worker is there, and two workers embed every image exactly once (no key in the extension)", async function () {
		const a = await api();
		const data = path.join(work, "scans-a");
		const images = writeImages(data, 40, 1);
		await setSetting("queue.url", redis!.url);
		const running = generate(data);
		// No worker yet: the notification says how to start one.
		await waitFor("the 'waiting for a worker' message", () => /Waiting for a worker — start one with `medimageinsight worker --queue redis:\/\/127\.0\.0\.1:\d+`/.test(a.lastQueueMessage() ?? ""), 60_000);
		assert.ok(a.isRunning());
		assert.equal(a.lastProgress()?.found, images.length);
		startWorker("w1");
		startWorker("w2");
		await waitFor("the workers reporting progress", () => /worker/.test(a.lastQueueMessage() ?? "") && !/Waiting for a worker/.test(a.lastQueueMessage() ?? ""), 60_000);
		const s = await guard("the queued run", running);
		assert.ok(s, "the run ended with a summary");
		assert.equal(s.cancelled, false);
		assert.equal(s.fatal, undefined);
		assert.equal(s.found, images.length);
		assert.equal(s.embedded, images.length);
		assert.equal(s.failed, 0);

		// The merged output: every image exactly once, as a local run writes it.
		const rows = readJsonl<{ path: string; embedding: number[] }>(path.join(s.outDir, "embeddings.jsonl"));
		assert.deepEqual(rows.map((r) => r.path).sort(), images);
		const run = JSON.parse(fs.readFileSync(path.join(s.outDir, "run.json"), "utf8")) as { counts: Record<string, number>; queue?: { parts: { id: string; embedded: number }[] } };
		assert.equal(run.counts["embedded"], images.length);
		assert.equal(run.queue?.parts.reduce((n, p) => n + p.embedded, 0), images.length);
		assert.ok(fs.existsSync(path.join(s.outDir, "embeddings.npy")));

		const notice = a.lastNotice();
		assert.ok(notice);
		assert.equal(notice.severity, "info");
		assert.match(notice.text, /40 images embedded/);
		assert.match(notice.text, /Done by \d workers? on redis:\/\/127\.0\.0\.1:\d+/);
		assert.ok(notice.actions.includes("Show Results"), `actions: ${notice.actions.join(", ")}`);
		assert.match(a.statusBarText(), /40 embedded/);
		// The extension sent no key: the endpoint has none in SecretStorage, and the workers' key is in no log line.
		assert.ok(!a.logLines().some((l) => l.includes(canary)));
		assert.equal(a.lastRun?.outDir, s.outDir);

		// Generate Embeddings again: nothing left to queue, the same folder.
		const again = await guard("the second submission", generate(data));
		assert.ok(again);
		assert.equal(again.embedded, 0);
		assert.equal(again.alreadyDone, images.length);
		assert.equal(readJsonl(path.join(s.outDir, "embeddings.jsonl")).length, images.length);
	});

	it("Cancel mid-run removes the run's waiting jobs and says how many: fewer images than the folder, none twice", async function () {
		const a = await api();
		assert.ok(workers.length === 2, "the workers of the first test");
		const data = path.join(work, "scans-b");
		// 8 jobs of 16 images; with one job at a time per worker, most wait when Cancel comes.
		const images = writeImages(data, 128, 5);
		await setSetting("queue.url", redis!.url);
		const running = generate(data);
		await waitFor("some images embedded", () => a.isRunning() && (a.lastProgress()?.embedded ?? 0) >= 1, 120_000);
		assert.equal(await vscode.commands.executeCommand("medImageInsight.cancelRun"), true);
		const s = await guard("the cancelled run", running);
		assert.ok(s);
		assert.equal(s.cancelled, true);
		const notice = a.lastNotice();
		assert.ok(notice);
		const removed = Number(/(\d+) waiting jobs? (?:was|were) removed from the queue/.exec(notice.text)?.[1]);
		assert.ok(removed >= 1, `jobs removed: ${notice.text}`);
		const rows = readJsonl<{ path: string }>(path.join(s.outDir, "embeddings.jsonl"));
		const paths = rows.map((r) => r.path);
		assert.equal(new Set(paths).size, paths.length, "no image twice");
		assert.ok(paths.every((p) => images.includes(p)));
		// Every removed job held 16 images that were not embedded.
		assert.ok(paths.length <= images.length - 16 * removed, `${paths.length} embedded, ${removed} jobs removed`);
		assert.ok(paths.length >= 1);
		assert.equal(s.embedded, paths.length);
		assert.ok(notice.actions.includes("Show Results"), `actions: ${notice.actions.join(", ")}`);
	});

	it("Retry Failed in queue mode submits the run again: the failed images are queued again, embedded, and their failures leave the merged folder", async function () {
		const a = await api();
		const data = path.join(work, "scans-r");
		const images = writeImages(data, 6, 13);
		await setSetting("queue.url", redis!.url);
		modelRefuses = true;
		let first: RunSummary | undefined;
		try {
			first = await guard("the run whose images fail", generate(data));
		} finally {
			modelRefuses = false;
		}
		assert.ok(first);
		assert.equal(first.failed, images.length, JSON.stringify(first));
		const failedNotice = a.lastNotice();
		assert.ok(failedNotice);
		assert.equal(failedNotice.severity, "warning");
		assert.ok(failedNotice.actions.includes(`Retry ${images.length} failed`), failedNotice.actions.join(", "));
		assert.equal(readJsonl(path.join(first.outDir, "failures.jsonl")).length, images.length);

		const retried = await guard("Retry Failed", vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.retryFailed", first.outDir));
		assert.ok(retried);
		assert.equal(retried.outDir, first.outDir);
		assert.equal(retried.embedded, images.length);
		assert.equal(retried.failed, 0);
		assert.deepEqual(readJsonl<{ path: string }>(path.join(first.outDir, "embeddings.jsonl")).map((r) => r.path).sort(), images);
		// Superseded failures leave failures.jsonl in the merge.
		assert.equal(readJsonl(path.join(first.outDir, "failures.jsonl")).length, 0);
	});

	it("Redis going away mid-run is said in the notification; once it is back the run ends with every image once", async function () {
		const a = await api();
		const data = path.join(work, "scans-restart");
		const images = writeImages(data, 64, 17);
		await setSetting("queue.url", redis!.url);
		const running = generate(data);
		await waitFor("some images embedded", () => a.isRunning() && (a.lastProgress()?.embedded ?? 0) >= 1, 120_000);
		await redis!.kill();
		try {
			await waitFor("the notification saying the queue does not answer", () => /^The queue at redis:\/\/127\.0\.0\.1:\d+ does not answer \(connection refused\): waiting for it to come back/.test(a.lastQueueMessage() ?? ""), 60_000);
			assert.ok(a.isRunning(), "the run waits for the queue");
		} finally {
			await redis!.restart();
		}
		const s = await guard("the run after the restart", running, 180_000);
		assert.ok(s);
		assert.equal(s.cancelled, false);
		assert.equal(s.embedded, images.length);
		assert.deepEqual(readJsonl<{ path: string }>(path.join(s.outDir, "embeddings.jsonl")).map((r) => r.path).sort(), images);
		assert.ok(a.lastNotice()?.actions.includes("Show Results"));
	});

	it("an unreachable Redis is refused at once with the plain reason", async function () {
		const a = await api();
		const port = await freePort();
		await setSetting("queue.url", `redis://127.0.0.1:${port}`);
		const data = path.join(work, "scans-c");
		writeImages(data, 2, 9);
		const s = await guard("the refused run", generate(data), 60_000);
		assert.equal(s, undefined);
		assert.ok(!a.isRunning());
		const notice = a.lastNotice();
		assert.ok(notice);
		assert.equal(notice.severity, "error", `${notice.text}\n${a.logLines().slice(-15).join("\n")}`);
		assert.match(notice.text, new RegExp(`Cannot reach the queue at redis://127\\.0\\.0\\.1:${port}: connection refused`));
	});

	it("the built-in simulation is refused in queue mode (its key lives only in this window)", async function () {
		const a = await api();
		await setSetting("queue.url", redis!.url);
		await vscode.commands.executeCommand("medImageInsight.startSimulatedEndpoint", { quiet: true });
		try {
			assert.ok(a.simulationInUse());
			const data = path.join(work, "scans-d");
			writeImages(data, 2, 11);
			const s = await guard("the refused run", generate(data), 60_000);
			assert.equal(s, undefined);
			const notice = a.lastNotice();
			assert.ok(notice);
			assert.equal(notice.severity, "error", `${notice.text}\n${a.logLines().slice(-15).join("\n")}`);
			assert.match(notice.text, /Queue runs cannot use the built-in simulated endpoint/);
			assert.match(notice.text, /medimageinsight simulate/);
		} finally {
			await vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint");
			await setSetting("queue.url", undefined);
		}
	});
});
