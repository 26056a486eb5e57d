/**
 * The core API the VS Code shell and the CLI use (queueRun.ts: submitRun / watchRun / cancelRun /
 * runStatus) against a real redis-server, in this process, without workers: what submit queues, that
 * a re-submit adds nothing twice, that items already done in the output folder (its own files or a
 * worker's part) are left out, and that cancel removes the waiting jobs.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { defaultEndpointSettings } from "../../../src/core/endpoint/types";
import { cancelRun, QueueRunError, runMetaOf, runStatus, submitRun, watchRun, type SubmitRunOptions } from "../../../src/core/queue/queueRun";
import { bullConnection } from "../../../src/core/queue/redisConnection";
import { bullPrefix, jobIdOf, queueNameOf } from "../../../src/core/queue/runKeys";
import type { ItemJobData, QueueItem } from "../../../src/core/queue/types";
import { ResumeKeys, sourceId } from "../../../src/core/results/resumeKey";
import { ResultsStore } from "../../../src/core/results/store";
import { nullLogger } from "../../../src/core/util/logger";
import { keyTokenProvider } from "../../../src/core/endpoint/auth";
import { QueueWorker } from "../../../src/core/queue/queueWorker";
import { startSimulator } from "../../../src/core/simulator/server";
import { startRedis, type RedisServer } from "../helpers/redis";
import { workerScript } from "../pipeline/runHelpers";
import { writeCorpus } from "./queueHelpers";

let redis: RedisServer | undefined;
let tmp = "";
before(async () => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-queuerun-"));
	redis = await startRedis();
});
after(async () => {
	await redis?.stop();
	fs.rmSync(tmp, { recursive: true, force: true });
});

function options(input: string, out: string, extra: Partial<SubmitRunOptions> = {}): SubmitRunOptions {
	return {
		queueUrl: redis!.url,
		inputs: [input],
		outDir: out,
		endpoint: { ...defaultEndpointSettings, url: "http://127.0.0.1:9/score" },
		simulated: false,
		auth: "key",
		convert: { ...defaultConvertOptions, thumbnailSize: 128 },
		jobSize: 4,
		logger: nullLogger,
		...extra,
	};
}

async function queuedItems(runId: string): Promise<{ ids: string[]; items: QueueItem[] }> {
	const queue = new Queue<ItemJobData>(queueNameOf(runId), { connection: bullConnection(redis!.url), prefix: bullPrefix });
	try {
		const jobs = await queue.getJobs(["waiting", "delayed", "prioritized"]);
		return { ids: jobs.map((j) => j.id!).sort(), items: jobs.flatMap((j) => j.data.items) };
	} finally {
		await queue.close();
	}
}

void describe("queueRun (real Redis)", { skip: !fs.existsSync("/usr/bin/redis-server") && process.getuid?.() !== 0 }, () => {
	void it("submit queues every image once in jobs of the job size, with the paths a local run records; a re-submit adds nothing", async () => {
		assert.ok(redis, "redis-server started");
		const input = path.join(tmp, "in-a");
		const images = writeCorpus(input, 10, 5);
		fs.writeFileSync(path.join(input, "readme.txt"), "not DICOM");
		const out = path.join(tmp, "out-a");
		const progress: number[] = [];
		const r = await submitRun({ ...options(input, out), onProgress: (p) => progress.push(p.queued) }, new AbortController().signal);
		assert.equal(r.found, 10);
		assert.equal(r.queued, 10);
		assert.equal(r.jobs, 3); // 4 + 4 + 2
		assert.equal(r.ignored, 1);
		assert.equal(r.alreadyDone, 0);
		assert.ok(progress.length > 0 && progress.at(-1) === 10);
		const q = await queuedItems(r.runId);
		assert.equal(q.ids.length, 3);
		assert.deepEqual(q.items.map((i) => i.path).sort(), images);
		for (const i of q.items) {
			assert.equal(i.kind, "file");
			if (i.kind === "file") assert.equal(i.size, fs.statSync(i.absPath).size);
		}

		const again = await submitRun(options(input, out), new AbortController().signal);
		assert.equal(again.runId, r.runId, "the same run");
		assert.equal(again.generation, r.generation + 1);
		assert.equal(again.queued, 0);
		assert.equal(again.jobs, 0);
		assert.equal(again.existingJobs, 3);
		assert.deepEqual((await queuedItems(r.runId)).ids, q.ids);

		const status = await runStatus(redis.url, { outDir: out });
		assert.equal(status.runs.length, 1);
		assert.equal(status.runs[0]!.jobs.waiting, 3);
		assert.equal(status.runs[0]!.queued, 10);
		assert.equal(status.runs[0]!.enumerated, true);
		assert.equal(status.runs[0]!.merged, false);
	});

	void it("leaves out images a worker's part (or the folder itself) has embedded with the same settings; other settings make another run", async () => {
		assert.ok(redis, "redis-server started");
		const input = path.join(tmp, "in-b");
		const images = writeCorpus(input, 6, 6);
		const out = path.join(tmp, "out-b");
		const o = options(input, out);
		const keys = new ResumeKeys(o.convert, o.endpoint, false);
		// A worker's part records two of them as embedded, one as skipped.
		const part = await ResultsStore.open(path.join(out, "parts", "w9"), { config: keys.config });
		const stampOf = (rel: string) => {
			const abs = path.join(input, rel);
			const st = fs.statSync(abs);
			return { size: st.size, mtimeMs: st.mtimeMs, source: sourceId(abs, st.ino), config: keys.config };
		};
		await part.append({
			embeddings: images.slice(0, 2).map((p) => ({ path: p, sha256: "0".repeat(64), sopInstanceUid: "1", seriesInstanceUid: "1", studyInstanceUid: "1", modality: "CT", key: keys.key("0".repeat(64)), time: new Date().toISOString(), ...stampOf(p), embedding: [1, 2] })),
			failures: [{ path: images[2]!, stage: "skipped", error: "no image", time: new Date().toISOString(), ...stampOf(images[2]!) }],
		});
		await part.close();
		const r = await submitRun(o, new AbortController().signal);
		assert.equal(r.found, 6);
		assert.equal(r.alreadyDone, 3);
		assert.deepEqual((await queuedItems(r.runId)).items.map((i) => i.path).sort(), images.slice(3));

		// RGB PNGs change what is sent: another run, with everything queued.
		const rgb = await submitRun(options(input, out, { convert: { ...defaultConvertOptions, grayscalePng: false } }), new AbortController().signal);
		assert.notEqual(rgb.runId, r.runId);
		assert.equal(rgb.queued, 6);
	});

	void it("job ids depend on the run and the items only", () => {
		const item: QueueItem = { kind: "file", path: "a.dcm", absPath: "/x/a.dcm", size: 1, mtimeMs: 2, ino: 3 };
		assert.equal(jobIdOf("r1", [item]), jobIdOf("r1", [{ ...item }]));
		assert.notEqual(jobIdOf("r1", [item]), jobIdOf("r2", [item]));
		assert.notEqual(jobIdOf("r1", [item]), jobIdOf("r1", [{ ...item, mtimeMs: 5 }]));
		assert.match(jobIdOf("r1", [item]), /^j[0-9a-f]{32}$/);
	});

	void it("refuses an endpoint URL or a DICOMweb URL that carries a credential, and an output folder among the inputs", () => {
		const base = options(path.join(tmp, "in-a"), path.join(tmp, "out-c"));
		assert.throws(() => runMetaOf({ ...base, endpoint: { ...base.endpoint, url: "https://user:pw@example.invalid/score" } }), QueueRunError);
		assert.throws(() => runMetaOf({ ...base, endpoint: { ...base.endpoint, url: "https://example.invalid/score?code=abc" } }), /carries a credential/);
		assert.throws(() => runMetaOf({ ...base, inputs: ["https://pacs.invalid/dicom-web/studies?access_token=abc"] }), /credential/);
		assert.throws(() => runMetaOf({ ...base, inputs: ["https://u:p@pacs.invalid/dicom-web/studies"] }), /password/);
		assert.throws(() => runMetaOf({ ...base, inputs: [path.join(tmp, "out-c")] }), /cannot be one of the inputs/);
		const meta = runMetaOf(base);
		assert.equal(JSON.stringify(meta).includes("MEDIMAGEINSIGHT_API_KEY"), false);
		assert.deepEqual(Object.keys(meta.endpoint).sort(), ["batchSize", "maxConcurrentRequests", "maxPauseMs", "maxPayloadBytes", "maxRetryDelayMs", "minRetryDelayMs", "rateLimit", "requestTimeoutMs", "retries", "url"]);
	});

	void it("cancelRun removes the waiting jobs; the run then ends (merge queued) and watchRun reports it cancelled once merged", async () => {
		assert.ok(redis, "redis-server started");
		const input = path.join(tmp, "in-d");
		writeCorpus(input, 9, 7);
		const out = path.join(tmp, "out-d");
		const r = await submitRun(options(input, out), new AbortController().signal);
		assert.equal(r.jobs, 3);
		const removed = await cancelRun(redis.url, r.runId);
		assert.equal(removed, 3);
		const q = new Queue(queueNameOf(r.runId), { connection: bullConnection(redis.url), prefix: bullPrefix });
		try {
			// Nothing left but the merge job, which a worker would take.
			const waiting = await q.getJobs(["waiting"]);
			assert.deepEqual(waiting.map((j) => j.id), [`merge-${r.generation}`]);
		} finally {
			await q.close();
		}
		const stop = new AbortController();
		const seen: boolean[] = [];
		const summary = await watchRun(
			redis.url,
			r.runId,
			(s) => {
				seen.push(s.cancelled);
				stop.abort();
			},
			stop.signal,
		);
		assert.equal(summary.detached, true);
		assert.equal(summary.status.cancelled, true);
		assert.deepEqual(seen, [true]);
		await assert.rejects(cancelRun(redis.url, "no-such-run"), /No run no-such-run/);
	});

	void it("watchRun follows a run to its end with a worker (in this process): progress, then the merged summary; the output folder has every image once", async () => {
		assert.ok(redis, "redis-server started");
		const key = "queue-run-test-key";
		const sim = await startSimulator({ port: 0, key, latencyMs: 20 });
		const input = path.join(tmp, "in-e");
		const images = writeCorpus(input, 7, 8);
		const out = path.join(tmp, "out-e");
		let worker: QueueWorker | undefined;
		try {
			const r = await submitRun(options(input, out, { endpoint: { ...defaultEndpointSettings, url: sim.url, batchSize: 2, rateLimit: { calls: 100, periodSeconds: 1 } } }), new AbortController().signal);
			// Only this run (the runs of the tests above are still on the queue, against no endpoint).
			worker = await QueueWorker.start({
				queueUrl: redis.url,
				id: "in-process",
				concurrency: 2,
				conversionWorkers: 1,
				workerScript,
				logger: nullLogger,
				credentials: async () => ({ tokens: keyTokenProvider(async () => key) }),
				stallSeconds: 5,
				pollMs: 200,
				runIds: [r.runId],
			});
			const seen: number[] = [];
			const summary = await watchRun(redis.url, r.runId, (st) => seen.push(st.done.items), new AbortController().signal, 100);
			assert.equal(summary.finished, true);
			assert.equal(summary.detached, false);
			assert.equal(summary.status.merged, true);
			assert.equal(summary.status.done.embedded, 7);
			assert.equal(summary.status.merge?.embedded, 7);
			assert.deepEqual(summary.status.merge?.parts.map((p) => p.id), ["in-process"]);
			assert.ok(seen.length >= 1 && seen.at(-1) === 7, `progress ${seen.join(",")}`);
			for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, "progress never goes back");
			const paths = fs
				.readFileSync(path.join(out, "embeddings.jsonl"), "utf8")
				.trim()
				.split("\n")
				.map((l) => (JSON.parse(l) as { path: string }).path)
				.sort();
			assert.deepEqual(paths, images);
		} finally {
			await worker?.close();
			await sim.close();
		}
	});
});
