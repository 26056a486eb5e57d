/**
 * A queue worker (PRODUCT.md §8): takes the jobs of every active run from Redis (BullMQ) and runs
 * them through the same pipeline as a local run, into its own part of the run's output folder,
 * `<out>/parts/<worker id>/`, with an endpoint client whose calls per period, requests in flight and
 * pause are shared with every other worker through Redis (sharedQuota.ts).
 *
 * - One EmbedPipeline per run, opened at the run's first job and kept open across jobs (several
 *   jobs at once: `concurrency`), so conversion threads, batches and the store are shared by them.
 * - At least once: a job that stalled (its worker died) or ran twice finds its items done — in this
 *   worker's part (the pipeline's resume) or in any other part or the folder's own files
 *   (DoneIndex) — and does not send them again. The merge keeps one record per image anyway.
 * - Nothing is failed for a worker's own trouble: a refused key, an unwritable part, a cancel (SIGTERM)
 *   put the job back on the queue (moved to delayed, BullMQ's DelayedError) for another worker or a
 *   later try; a refused key also stops this worker (the error is recorded in the run for `submit
 *   --wait` and `status`). An endpoint-wide pause is told to BullMQ (`worker.rateLimit`), so that no
 *   worker takes new jobs of that run while the endpoint refuses.
 * - When the last job of a submission completes, a merge job is added (its id makes it one); the
 *   worker that takes it writes the final files (mergeParts) and the run's summary.
 */
import * as os from "node:os";
import * as path from "node:path";
import { DelayedError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { EndpointClient } from "../endpoint/client";
import type { TokenProvider } from "../endpoint/types";
import { EmbedPipeline, type ProcessResult } from "../pipeline/embedPipeline";
import type { RunOptions, WorkItem } from "../pipeline/types";
import { partsFolder } from "../results/mergeParts";
import { sourceId } from "../results/resumeKey";
import type { Logger } from "../util/logger";
import { redactUrlsIn } from "../util/redactUrl";
import { DoneIndex } from "./doneIndex";
import { scheduleMergeIfDrained, runQueue } from "./queueRun";
import { bullConnection, connectRedis } from "./redisConnection";
import { bullPrefix, queueNameOf, redisKeys } from "./runKeys";
import { countJob, readRunRecord, recordFatal } from "./runRecord";
import { mergeRun } from "./runMerge";
import { createSharedQuota, type SharedQuota } from "./sharedQuota";
import type { ItemJobData, JobCounts, MergeJobData, QueueItem, QueueRunMeta, RunFatal, RunJobData, RunMergeSummary } from "./types";

export interface QueueWorkerOptions {
	/** redis://HOST:PORT[/DB] */
	queueUrl: string;
	/** This worker's id: its part's folder name (letters, digits, . _ -). */
	id: string;
	/** Jobs of one run processed at once (default 4). */
	concurrency?: number;
	/** Conversion threads (default: cores - 1). */
	conversionWorkers?: number;
	/** dist/convertWorker.js (or the compiled one in tests). */
	workerScript: string;
	logger: Logger;
	/** This process's credentials for a run (from its own environment); throws a WorkerConfigError when they are missing. */
	credentials(meta: QueueRunMeta): Promise<{ tokens: TokenProvider; dicomweb?: RunOptions["dicomweb"] }>;
	/** A job whose worker stops renewing its lock for this long is taken over by another (default 30 s). */
	stallSeconds?: number;
	/** How often the list of active runs is read (default 2 s). */
	pollMs?: number;
	/** Only these runs (default: every active run). */
	runIds?: readonly string[];
	onEvent?: (e: QueueWorkerEvent) => void;
}

export type QueueWorkerEvent =
	| { type: "job"; runId: string; jobId: string; counts: JobCounts }
	| { type: "merged"; runId: string; summary: RunMergeSummary }
	| { type: "requeued"; runId: string; jobId: string; reason: string }
	| { type: "run-opened"; runId: string; outDir: string };

/** Credentials or settings this worker lacks for a run: the worker stops (exit 2), its jobs stay queued. */
export class WorkerConfigError extends Error {
	constructor(
		readonly code: string,
		message: string,
	) {
		super(message);
		this.name = "WorkerConfigError";
	}
}

/** A default worker id: host and process id (a restarted worker starts a new part). */
export function defaultWorkerId(): string {
	return `${os.hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

export function checkWorkerId(id: string): string {
	if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(id)) throw new WorkerConfigError("config", `A worker id may hold letters, digits, ".", "_" and "-" only (at most 100), starting with a letter or digit (got "${id}").`);
	return id;
}

/** Fatal codes of a run that say this worker cannot work at all (as opposed to an endpoint that refuses for too long). */
function stopsWorker(code: string): boolean {
	return code !== "paused-too-long" && code !== "dicomweb";
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

/** What the worker holds for one run. */
class RunSlot {
	private pipeline: Promise<EmbedPipeline> | undefined;
	private client: EndpointClient | undefined;
	private quota: SharedQuota | undefined;
	private done: DoneIndex | undefined;
	/** This worker's part of the run's output folder (known once the pipeline is open). */
	private part: string | undefined;
	readonly worker: Worker<RunJobData>;
	/** Aborted when the worker stops: jobs running are put back on the queue. */
	readonly stop = new AbortController();
	activeJobs = 0;
	idleSince = Date.now();

	constructor(
		readonly meta: QueueRunMeta,
		private readonly host: QueueWorker,
	) {
		const o = host.options;
		const stallMs = (o.stallSeconds ?? 30) * 1000;
		this.worker = new Worker<RunJobData>(queueNameOf(meta.runId), (job, token) => this.process(job, token), {
			connection: bullConnection(o.queueUrl),
			prefix: bullPrefix,
			concurrency: o.concurrency ?? 4,
			lockDuration: stallMs,
			stalledInterval: stallMs,
			// A job stalls once per dead worker or Redis restart; only a job that keeps killing its workers fails.
			maxStalledCount: 10,
			autorun: true,
		});
		this.worker.on("error", (e) => o.logger.warn(`Queue worker (run ${meta.runId}): ${message(e)}`));
		this.worker.on("completed", () => void host.afterJob(meta.runId).catch((e: unknown) => o.logger.warn(`Cannot check whether run ${meta.runId} is done: ${message(e)}`)));
		this.worker.on("failed", (job, e) => {
			if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) o.logger.error(`Job ${job.id ?? ""} of run ${meta.runId} failed for good: ${message(e)}`);
			void host.afterJob(meta.runId).catch(() => undefined);
		});
		this.worker.on("stalled", (jobId) => o.logger.warn(`Job ${jobId} of run ${meta.runId} stalled (its worker stopped answering); it runs again.`));
	}

	private async open(): Promise<EmbedPipeline> {
		this.pipeline ??= (async () => {
			const o = this.host.options;
			const { tokens, dicomweb } = await o.credentials(this.meta);
			// Calls per period, requests in flight and the endpoint-wide pause, counted in Redis across every worker.
			this.quota ??= await createSharedQuota({
				redisUrl: o.queueUrl,
				endpointUrl: this.meta.endpoint.url,
				rate: this.meta.endpoint.rateLimit,
				maxConcurrentRequests: this.meta.endpoint.maxConcurrentRequests,
				logger: o.logger,
			});
			this.client = new EndpointClient(this.meta.endpoint, tokens, o.logger, undefined, { quota: this.quota });
			this.client.onDidChangeStatus((s) => {
				// An endpoint-wide pause: no worker takes new jobs of this run until it is over (BullMQ's limiter is per queue).
				if (s.state === "paused") void this.worker.rateLimit(Math.max(1000, s.resumeAt - Date.now())).catch(() => undefined);
			});
			// Another run of this worker may write to the same output folder (other settings): each has its own part.
			this.part = this.host.claimPart(this.meta.outDir, this.meta.runId);
			this.done = new DoneIndex(this.meta.outDir, this.meta.config, this.part);
			const partDir = path.join(this.meta.outDir, partsFolder, this.part);
			const pipeline = await EmbedPipeline.open(
				{
					inputs: this.meta.inputs,
					outDir: partDir,
					convert: this.meta.convert,
					endpoint: this.meta.endpoint,
					simulated: this.meta.simulated,
					...(o.conversionWorkers ? { workers: o.conversionWorkers } : {}),
					...(dicomweb ? { dicomweb } : {}),
				},
				{ embedder: this.client, workerScript: o.workerScript, logger: o.logger },
			);
			o.onEvent?.({ type: "run-opened", runId: this.meta.runId, outDir: partDir });
			return pipeline;
		})();
		try {
			return await this.pipeline;
		} catch (e) {
			this.pipeline = undefined;
			throw e;
		}
	}

	private async process(job: Job<RunJobData>, token: string | undefined): Promise<JobCounts | RunMergeSummary> {
		this.activeJobs++;
		try {
			if ("merge" in job.data) return await this.merge(job.data);
			return await this.processItems(job as Job<ItemJobData>, token);
		} finally {
			this.activeJobs--;
			this.idleSince = Date.now();
		}
	}

	/** Puts the job back on the queue (not a failed attempt) and ends its processing. */
	private async requeue(job: Job, token: string | undefined, delayMs: number, reason: string): Promise<never> {
		this.host.options.onEvent?.({ type: "requeued", runId: this.meta.runId, jobId: job.id ?? "", reason });
		await job.moveToDelayed(Date.now() + delayMs, token);
		throw new DelayedError(reason);
	}

	private async processItems(job: Job<ItemJobData>, token: string | undefined): Promise<JobCounts> {
		const o = this.host.options;
		const items = job.data.items;
		if (this.stop.signal.aborted) return this.requeue(job, token, 0, "the worker is stopping");
		let pipeline: EmbedPipeline;
		try {
			pipeline = await this.open();
		} catch (e) {
			const code = e instanceof WorkerConfigError ? e.code : "config";
			await this.host.fatal(this.meta.runId, code, message(e));
			return this.requeue(job, token, 10_000, message(e));
		}
		// Items another worker (or an earlier run) has done already: not sent again.
		const done = this.done!;
		await done.refresh();
		const counts: JobCounts = { items: items.length, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 };
		const work: WorkItem[] = [];
		for (const item of items) {
			const status = doneElsewhere(done, item);
			if (status === "embedded") counts.alreadyDone++;
			else if (status === "skipped") counts.skipped++;
			else work.push(toWorkItem(item));
		}
		let result: ProcessResult | undefined;
		if (work.length > 0) {
			result = await pipeline.process(work, this.stop.signal);
			if (result.fatal) {
				const code = result.fatal.code;
				if (stopsWorker(code)) await this.host.fatal(this.meta.runId, code, result.fatal.message);
				return this.requeue(job, token, code === "paused-too-long" ? 60_000 : 10_000, result.fatal.message);
			}
			if (result.cancelled) return this.requeue(job, token, 0, "the worker is stopping");
			counts.embedded += result.counts.embedded;
			counts.alreadyDone += result.counts.alreadyDone;
			counts.failed += result.counts.failed;
			counts.skipped += result.counts.skipped;
		}
		await countJob(this.host.redis, this.meta.runId, job.data.generation, job.id ?? "", counts);
		o.onEvent?.({ type: "job", runId: this.meta.runId, jobId: job.id ?? "", counts });
		return counts;
	}

	private async merge(data: MergeJobData): Promise<RunMergeSummary> {
		const summary = await mergeRun(this.host.redis, this.meta, data.generation, this.host.options.logger);
		this.host.options.onEvent?.({ type: "merged", runId: this.meta.runId, summary });
		return summary;
	}

	/** Stops taking jobs; jobs running are put back on the queue; the pipeline and the quota are closed. */
	async close(): Promise<void> {
		const closing = this.worker.close();
		// Give running jobs a moment to finish on their own, then put them back.
		const t = setTimeout(() => this.stop.abort(), 2000);
		await closing.catch(() => undefined);
		clearTimeout(t);
		this.stop.abort();
		const p = await this.pipeline?.catch(() => undefined);
		await p?.close().catch(() => undefined);
		if (this.part) this.host.releasePart(this.meta.outDir, this.part);
		this.client?.dispose();
		await this.quota?.dispose().catch(() => undefined);
	}
}

function doneElsewhere(done: DoneIndex, item: QueueItem): "embedded" | "skipped" | undefined {
	if (item.kind === "file") return done.statusOf(item.path, item.size, item.mtimeMs, sourceId(item.absPath, item.ino));
	if (item.kind === "dicomweb") {
		const r = item.ref;
		return done.statusOf(item.path, 0, 0, sourceId(`${r.base}/studies/${r.studyUid}/series/${r.seriesUid}/instances/${r.sopInstanceUid}`, 0));
	}
	return undefined;
}

function toWorkItem(item: QueueItem): WorkItem {
	switch (item.kind) {
		case "file":
			return { kind: "file", path: item.path, absPath: item.absPath };
		case "dicomweb":
			return { kind: "dicomweb", path: item.path, ref: item.ref };
		case "skipped":
			return { kind: "skipped", path: item.path, absPath: item.absPath, reason: item.reason };
	}
}

export class QueueWorker {
	readonly redis: Redis;
	private readonly slots = new Map<string, RunSlot>();
	private readonly since = new Date().toISOString();
	private poller: NodeJS.Timeout | undefined;
	private heartbeat: NodeJS.Timeout | undefined;
	private stopping = false;
	private fatalError: RunFatal | undefined;
	private stoppedByFatal = false;
	private resolveStopped!: (v: { fatal?: RunFatal }) => void;
	/** Resolves when the worker has stopped (close(), or a fatal error of its own). */
	readonly stopped = new Promise<{ fatal?: RunFatal }>((r) => (this.resolveStopped = r));

	private constructor(readonly options: QueueWorkerOptions) {
		this.redis = connectRedis(options.queueUrl);
		this.redis.on("error", (e: Error) => options.logger.debug(`Redis: ${e.message}`));
	}

	/** Connects and starts taking jobs. */
	static async start(options: QueueWorkerOptions): Promise<QueueWorker> {
		checkWorkerId(options.id);
		const w = new QueueWorker(options);
		await w.redis.ping();
		await w.beat();
		await w.poll();
		w.heartbeat = setInterval(() => void w.beat().catch(() => undefined), 5000);
		w.poller = setInterval(() => void w.poll().catch((e: unknown) => options.logger.warn(`Cannot read the runs from Redis: ${message(e)}`)), options.pollMs ?? 2000);
		return w;
	}

	private async beat(): Promise<void> {
		const value = JSON.stringify({ host: os.hostname(), pid: process.pid, runs: this.options.runIds ? [...this.options.runIds] : ["*"], since: this.since });
		await this.redis.set(redisKeys.worker(this.options.id), value, "PX", 15_000);
	}

	/** Opens a slot for each active run, closes the slots of runs that are finished and idle. */
	private async poll(): Promise<void> {
		if (this.stopping) return;
		const active = new Set(await this.redis.smembers(redisKeys.activeRuns));
		for (const runId of active) {
			if (this.slots.has(runId) || this.refused.has(runId) || (this.options.runIds && !this.options.runIds.includes(runId))) continue;
			const run = await readRunRecord(this.redis, runId);
			if (!run || this.stopping) continue;
			this.options.logger.info(`Taking jobs of run ${runId} → ${run.meta.outDir}`);
			this.slots.set(runId, new RunSlot(run.meta, this));
		}
		for (const [runId, slot] of this.slots) {
			if (!active.has(runId) && slot.activeJobs === 0 && Date.now() - slot.idleSince > 10_000) {
				this.slots.delete(runId);
				await slot.close();
			}
		}
	}

	/** After every job: the run's merge, when this was its last job. */
	async afterJob(runId: string): Promise<void> {
		const queue = runQueue(this.options.queueUrl, runId);
		try {
			await scheduleMergeIfDrained(this.redis, queue, runId);
		} finally {
			await queue.close().catch(() => undefined);
		}
	}

	/** Part folder names in use by this worker's runs, per output folder. */
	private readonly parts = new Map<string, Set<string>>();

	/** A part name for a run writing to `outDir`: the worker id, or `<id>~<run id>` when another of its runs uses that. */
	claimPart(outDir: string, runId: string): string {
		const used = this.parts.get(outDir) ?? new Set<string>();
		this.parts.set(outDir, used);
		const name = used.has(this.options.id) ? `${this.options.id}~${runId}` : this.options.id;
		used.add(name);
		return name;
	}

	releasePart(outDir: string, name: string): void {
		this.parts.get(outDir)?.delete(name);
	}

	/** Runs this worker stopped taking (a fatal error of its own for them: a refused key, an unreachable endpoint). */
	private readonly refused = new Set<string>();

	/**
	 * Records a fatal error of this worker for a run (for `status` and `submit --wait`). One that says
	 * this worker cannot work on the run makes it leave the run (its jobs stay queued for others); a
	 * worker left with no run it can work on stops.
	 */
	async fatal(runId: string, code: string, why: string): Promise<void> {
		const fatal: RunFatal = { code, message: redactUrlsIn(why), worker: this.options.id, time: new Date().toISOString() };
		this.options.logger.error(`Run ${runId}: ${fatal.message}`);
		await recordFatal(this.redis, runId, fatal).catch(() => undefined);
		if (!stopsWorker(code) || this.refused.has(runId)) return;
		this.refused.add(runId);
		this.fatalError ??= fatal;
		const slot = this.slots.get(runId);
		this.slots.delete(runId);
		// Not awaited: the job that reports this is still running inside the slot.
		void slot?.close();
		const active = await this.redis.smembers(redisKeys.activeRuns).catch(() => [] as string[]);
		const workable = active.filter((id) => !this.refused.has(id) && (!this.options.runIds || this.options.runIds.includes(id)));
		if (this.slots.size === 0 && workable.length === 0) {
			this.stoppedByFatal = true;
			void this.close();
		}
	}

	/** Stops taking jobs, puts running ones back, closes every run's pipeline and the connections. */
	async close(): Promise<void> {
		if (this.stopping) return this.stopped.then(() => undefined);
		this.stopping = true;
		if (this.poller) clearInterval(this.poller);
		if (this.heartbeat) clearInterval(this.heartbeat);
		await Promise.all([...this.slots.values()].map((s) => s.close()));
		this.slots.clear();
		await this.redis.del(redisKeys.worker(this.options.id)).catch(() => undefined);
		this.redis.disconnect();
		// Exit 2 only when the worker stopped because it could work on no run.
		this.resolveStopped(this.fatalError && this.stoppedByFatal ? { fatal: this.fatalError } : {});
	}
}
