/**
 * A distributed run on a BullMQ queue in Redis (PRODUCT.md §8), the side that submits and follows
 * it — used by `medimageinsight submit` / `status` and by the VS Code shell:
 *
 * - `submitRun` enumerates the inputs with the same recorded paths as a local run (folder walk,
 *   DICOMweb listing), leaves out what the output folder (its own files or the workers' parts) has
 *   already done, and streams the rest into jobs of a few items on the run's queue. Job ids are
 *   deterministic, so submitting the same run again adds nothing twice and resumes it; a failed job
 *   of an earlier submission is retried. Millions of files are never held at once: items go out in
 *   jobs as they are found.
 * - `watchRun` follows the counters the workers keep, until the last job is done and a worker has
 *   merged the parts into the final files.
 * - `cancelRun` removes the run's waiting and delayed jobs (jobs being processed finish; the merge
 *   still writes the final files of what was done).
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings } from "../endpoint/types";
import { ResumeKeys, sourceId } from "../results/resumeKey";
import { endpointLimits } from "../results/runInfo";
import { DicomwebClient } from "../sources/dicomweb/client";
import { dicomwebSource, IncompleteSourceError } from "../sources/dicomwebSource";
import { folderSource } from "../sources/folderSource";
import type { DicomwebAuth, DicomwebSource } from "../sources/dicomweb/types";
import { isDicomwebInput, parseDicomwebUrl } from "../sources/dicomweb/url";
import type { Logger } from "../util/logger";
import { redactUrl } from "../util/redactUrl";
import { DoneIndex } from "./doneIndex";
import { bullConnection, connectRedis, ensureRedisReachable, redactRedisUrl, RedisUnreachableError } from "./redisConnection";
import { bullPrefix, jobIdOf, mergeJobIdOf, queueNameOf, redisKeys, runIdOf } from "./runKeys";
import { mergeRun } from "./runMerge";
import { liveWorkers, raiseGeneration, readRunRecord, type RunRecord } from "./runRecord";
import type { DicomwebAuthMode, ItemJobData, QueueItem, QueueRunMeta, RunFatal, RunJobData, RunMergeSummary } from "./types";

/** Job options of every item job: retried with backoff when a worker throws; done jobs leave Redis. */
export const itemJobOptions = Object.freeze({
	attempts: 5,
	backoff: { type: "exponential", delay: 5000 },
	removeOnComplete: true,
	removeOnFail: false,
});

/** Pending job states: a run is drained when none of its jobs is in one of these. */
const pendingStates = ["waiting", "active", "delayed", "prioritized", "waiting-children"] as const;

export interface SubmitRunOptions {
	/** redis://HOST:PORT[/DB] */
	queueUrl: string;
	/** Absolute paths and DICOMweb URLs. */
	inputs: string[];
	outDir: string;
	endpoint: EndpointSettings;
	simulated: boolean;
	auth: "key" | "entra";
	convert: ConvertOptions;
	/** For DICOMweb inputs: how workers authenticate (from their own environment), and this process's credentials to list them. */
	dicomweb?: { mode: DicomwebAuthMode; auth: DicomwebAuth; retrievalConcurrency: number; client?: DicomwebSource };
	/** Items per job (default 16). */
	jobSize?: number;
	logger: Logger;
	onProgress?: (p: SubmitProgress) => void;
}

export interface SubmitProgress {
	found: number;
	queued: number;
	jobs: number;
	alreadyDone: number;
	ignored: number;
}

export interface SubmitResult extends SubmitProgress {
	runId: string;
	generation: number;
	/** Jobs of earlier submissions still waiting or retried now (not added again). */
	existingJobs: number;
	/** Set when the enumeration stopped early (a cancel, a DICOMweb listing that broke off). */
	incomplete?: string;
}

/** A mistake in the options of a run (said in one line). */
export class QueueRunError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "QueueRunError";
	}
}

/** Redis must answer before a run is touched (a wrong address is said at once, as a QueueRunError). */
async function reachable(queueUrl: string): Promise<void> {
	try {
		await ensureRedisReachable(queueUrl);
	} catch (e) {
		if (e instanceof RedisUnreachableError) throw new QueueRunError(e.message);
		throw e;
	}
}

/** True when the URL as written carries a credential (user info, a key-like query value) that Redis must not hold. */
function carriesCredential(url: string): boolean {
	try {
		return new URL(url).href !== redactUrl(url);
	} catch {
		return false;
	}
}

export function defaultJobSize(): number {
	return 16;
}

/** Holds the per-run submit lock while `body` runs (one enumeration of a run at a time). */
async function withSubmitLock<T>(redis: Redis, runId: string, body: () => Promise<T>): Promise<T> {
	const key = redisKeys.runSubmitLock(runId);
	const nonce = randomUUID();
	if ((await redis.set(key, nonce, "PX", 60_000, "NX")) !== "OK") {
		throw new QueueRunError("Another submit of this run is enumerating its inputs right now; wait for it to end (medimageinsight status).");
	}
	const renew = setInterval(() => {
		void redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], 60000) end return 0", 1, key, nonce).catch(() => undefined);
	}, 20_000);
	try {
		return await body();
	} finally {
		clearInterval(renew);
		await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, nonce).catch(() => undefined);
	}
}

/** The run's queue (BullMQ), for adding and inspecting jobs. Close it after use. */
export function runQueue(queueUrl: string, runId: string): Queue<RunJobData> {
	return new Queue<RunJobData>(queueNameOf(runId), { connection: bullConnection(queueUrl), prefix: bullPrefix });
}

/** The current submission when its enumeration has ended, it is not merged yet and none of its jobs is pending. */
async function drainedRun(redis: Redis, queue: Queue<RunJobData>, runId: string): Promise<RunRecord | undefined> {
	const run = await readRunRecord(redis, runId);
	if (!run || run.enumeratedGeneration < run.generation || run.mergedGeneration >= run.generation) return undefined;
	const counts = await queue.getJobCounts(...pendingStates);
	return pendingStates.some((s) => (counts[s] ?? 0) > 0) ? undefined : run;
}

/**
 * Adds the merge job of the current submission when it is drained (see drainedRun). Any process may
 * call it any number of times: the job id makes it one job.
 */
export async function scheduleMergeIfDrained(redis: Redis, queue: Queue<RunJobData>, runId: string): Promise<boolean> {
	const run = await drainedRun(redis, queue, runId);
	if (!run) return false;
	const data: RunJobData = { runId, generation: run.generation, merge: true };
	await queue.add("merge", data, { jobId: mergeJobIdOf(run.generation), attempts: 8, backoff: { type: "exponential", delay: 5000 }, removeOnComplete: false, removeOnFail: false });
	return true;
}

/** What submit finds in the inputs: an item to queue, or a file it ignores (not DICOM). */
type Found = { item: QueueItem; stamp: { size: number; mtimeMs: number; source: string } } | { ignored: true };

async function* enumerate(options: SubmitRunOptions, outDir: string, signal: AbortSignal, onListingError: (why: string) => void): AsyncGenerator<Found> {
	// The same Source stages as a local run, so the workers record the same paths.
	const local = options.inputs.filter((i) => !isDicomwebInput(i));
	for await (const item of folderSource(local, { signal, exclude: [outDir] })) {
		if (item.kind === "ignored") {
			yield { ignored: true };
			continue;
		}
		if (item.kind !== "file" && item.kind !== "skipped") continue;
		// The stamp a worker's resume check compares (a link not followed: its own stat).
		let st: fs.Stats;
		try {
			st = item.kind === "file" ? await fs.promises.stat(item.absPath) : await fs.promises.lstat(item.absPath);
		} catch {
			continue; // gone since it was listed
		}
		const stamp = { size: st.size, mtimeMs: st.mtimeMs, source: sourceId(item.absPath, st.ino) };
		yield item.kind === "skipped"
			? { item: { kind: "skipped", path: item.path, absPath: item.absPath, reason: item.reason }, stamp }
			: { item: { kind: "file", path: item.path, absPath: item.absPath, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }, stamp };
	}
	const remote = options.inputs.filter(isDicomwebInput);
	if (remote.length === 0) return;
	const client =
		options.dicomweb?.client ??
		new DicomwebClient({ ...(options.dicomweb?.auth ? { auth: options.dicomweb.auth } : {}), retrievalConcurrency: options.dicomweb?.retrievalConcurrency ?? 4, logger: options.logger });
	try {
		for await (const item of dicomwebSource(remote.map((i) => parseDicomwebUrl(i)), client, signal)) {
			if (item.kind !== "dicomweb") continue;
			const ref = item.ref;
			// As a local run: an instance's identity is its URL on that service (no size or time of its own).
			const url = `${ref.base}/studies/${ref.studyUid}/series/${ref.seriesUid}/instances/${ref.sopInstanceUid}`;
			yield { item: { kind: "dicomweb", path: item.path, ref }, stamp: { size: 0, mtimeMs: 0, source: sourceId(url, 0) } };
		}
	} catch (e) {
		if (signal.aborted || !(e instanceof IncompleteSourceError)) throw e;
		for (const why of e.problems) onListingError(why);
	}
}

/** Checks the options and builds the run's settings record (no credential in it). */
export function runMetaOf(options: SubmitRunOptions): QueueRunMeta {
	if (options.inputs.length === 0) throw new QueueRunError("Nothing to submit: no input folder, file or DICOMweb URL was given.");
	const outDir = path.resolve(options.outDir);
	if (carriesCredential(options.endpoint.url)) {
		throw new QueueRunError("The endpoint URL carries a credential (user info or a key in its query); the queue would store it. Give the key to each worker in MEDIMAGEINSIGHT_API_KEY instead.");
	}
	for (const input of options.inputs) {
		if (isDicomwebInput(input)) {
			parseDicomwebUrl(input);
			if (carriesCredential(input)) throw new QueueRunError(`The DICOMweb URL ${redactUrl(input)} carries a credential; give it to each worker in the environment instead.`);
		} else if (path.resolve(input) === outDir) {
			throw new QueueRunError(`The output folder cannot be one of the inputs: ${outDir}`);
		}
	}
	const keys = new ResumeKeys(options.convert, options.endpoint, options.simulated);
	const runId = runIdOf(outDir, keys.config);
	const jobSize = options.jobSize ?? defaultJobSize();
	if (!Number.isInteger(jobSize) || jobSize < 1 || jobSize > 10_000) throw new QueueRunError(`The job size must be a whole number from 1 to 10000 (got ${jobSize}).`);
	const e = options.endpoint;
	return {
		runId,
		queue: redactRedisUrl(options.queueUrl),
		createdAt: new Date().toISOString(),
		outDir,
		inputs: options.inputs.map((i) => (isDicomwebInput(i) ? i : path.resolve(i))),
		// Field by field: a credential added to the settings later would not reach Redis.
		endpoint: { url: e.url, ...(e.deployment ? { deployment: e.deployment } : {}), ...endpointLimits(e) },
		simulated: options.simulated,
		auth: options.auth,
		convert: { ...options.convert },
		...(options.inputs.some(isDicomwebInput) ? { dicomweb: { auth: options.dicomweb?.mode ?? "none", retrievalConcurrency: options.dicomweb?.retrievalConcurrency ?? 4 } } : {}),
		jobSize,
		config: keys.config,
	};
}

/** Submits (or resumes) a run: see the file comment. */
export async function submitRun(options: SubmitRunOptions, signal: AbortSignal): Promise<SubmitResult> {
	const meta = runMetaOf(options);
	const { runId, outDir } = meta;
	await fs.promises.mkdir(outDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
		throw new QueueRunError(`Cannot create the output folder ${outDir}: ${e.code ?? e.message}`);
	});
	await reachable(options.queueUrl);
	const redis = connectRedis(options.queueUrl);
	const queue = runQueue(options.queueUrl, runId);
	try {
		return await withSubmitLock(redis, runId, async () => {
			const key = redisKeys.run(runId);
			const previous = await readRunRecord(redis, runId);
			const generation = (previous?.generation ?? 0) + 1;
			await redis
				.multi()
				.hset(key, { meta: JSON.stringify(previous ? { ...meta, createdAt: previous.meta.createdAt } : meta), generation, submittedAt: Date.now(), ignored: 0, alreadyDoneAtSubmit: 0 })
				.hdel(key, "fatal", "mergeError")
				.zadd(redisKeys.runs, Date.now(), runId)
				.sadd(redisKeys.activeRuns, runId)
				.exec();
			options.logger.info(`Run ${runId} (submission ${generation}) → ${outDir} on ${meta.queue}`);

			const done = new DoneIndex(outDir, meta.config);
			await done.refresh();
			const progress: SubmitProgress = { found: 0, queued: 0, jobs: 0, alreadyDone: 0, ignored: 0 };
			let existingJobs = 0;
			let incomplete: string | undefined;
			let chunk: QueueItem[] = [];
			let pendingJobs: { id: string; items: QueueItem[] }[] = [];
			const addPending = async () => {
				const jobs = pendingJobs;
				pendingJobs = [];
				if (jobs.length === 0) return;
				const states = await Promise.all(jobs.map((j) => queue.getJobState(j.id)));
				const fresh: typeof jobs = [];
				for (let i = 0; i < jobs.length; i++) {
					const state = states[i];
					if (state === "unknown") fresh.push(jobs[i]!);
					else {
						existingJobs++;
						if (state === "failed") await (await queue.getJob(jobs[i]!.id))?.retry("failed");
					}
				}
				if (fresh.length > 0) {
					await queue.addBulk(fresh.map((j) => ({ name: "items", data: { runId, generation, items: j.items } satisfies ItemJobData, opts: { ...itemJobOptions, jobId: j.id } })));
				}
				for (const j of fresh) {
					progress.queued += j.items.length;
					progress.jobs++;
				}
				await redis.hincrby(key, "queued", fresh.reduce((n, j) => n + j.items.length, 0));
				await redis.hincrby(key, "jobs", fresh.length);
				options.onProgress?.({ ...progress });
			};
			const flushChunk = async () => {
				if (chunk.length === 0) return;
				pendingJobs.push({ id: jobIdOf(runId, chunk), items: chunk });
				chunk = [];
				if (pendingJobs.length >= 32) await addPending();
			};
			let checked = 0;
			try {
				for await (const f of enumerate(options, outDir, signal, (why) => {
					incomplete ??= why;
					options.logger.error(why);
				})) {
					if ("ignored" in f) {
						progress.ignored++;
						continue;
					}
					progress.found++;
					if (done.statusOf(f.item.path, f.stamp.size, f.stamp.mtimeMs, f.stamp.source)) {
						progress.alreadyDone++;
						continue;
					}
					chunk.push(f.item);
					if (chunk.length >= meta.jobSize) await flushChunk();
					// A cancel of the run (cancelRun) stops the enumeration too.
					if (++checked % 1000 === 0 && (await readRunRecord(redis, runId))?.cancelledGeneration === generation) {
						incomplete = "cancelled";
						break;
					}
				}
				await flushChunk();
				await addPending();
			} catch (e) {
				if (!signal.aborted) throw e;
				incomplete = "cancelled";
				await addPending().catch(() => undefined);
			}
			await redis.hincrby(key, "found", progress.found);
			await redis.hset(key, { ignored: progress.ignored, alreadyDoneAtSubmit: progress.alreadyDone });
			await raiseGeneration(redis, runId, "enumeratedGeneration", generation);
			// Nothing left for the workers (everything was done already): submit writes the final files itself.
			const drained = await drainedRun(redis, queue, runId);
			if (drained) await mergeRun(redis, drained.meta, drained.generation, options.logger);
			options.logger.info(`Run ${runId}: ${progress.found} image file(s) found, ${progress.alreadyDone} already done, ${progress.queued} queued in ${progress.jobs} job(s) (${existingJobs} job(s) of earlier submissions still queued).`);
			return { runId, generation, ...progress, existingJobs, ...(incomplete ? { incomplete } : {}) };
		});
	} finally {
		await queue.close().catch(() => undefined);
		redis.disconnect();
	}
}

/** A snapshot of a run for progress displays and `status`. */
export interface QueueRunStatus {
	runId: string;
	outDir: string;
	endpoint: string;
	generation: number;
	enumerated: boolean;
	merged: boolean;
	cancelled: boolean;
	/** Items found by the submissions / queued in jobs; items and jobs the workers finished (cumulative). */
	found: number;
	queued: number;
	alreadyDoneAtSubmit: number;
	ignored: number;
	done: RunRecord["done"];
	jobs: { waiting: number; active: number; delayed: number; failed: number; completed: number };
	workers: number;
	fatal?: RunFatal;
	merge?: RunMergeSummary;
	mergeError?: string;
	submittedAt: number;
}

async function snapshot(queue: Queue<RunJobData>, run: RunRecord, workers: number): Promise<QueueRunStatus> {
	const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "failed");
	// The jobs are the run's images: the merge job of the current submission is not counted (while it
	// waits or runs, the run is "merging", not "1 job waiting").
	const mergeState = await queue.getJobState(mergeJobIdOf(run.generation)).catch(() => "unknown");
	for (const state of ["waiting", "active", "delayed", "prioritized", "failed"] as const) {
		if (mergeState === state && (c[state] ?? 0) > 0) c[state] = (c[state] ?? 0) - 1;
	}
	return {
		runId: run.meta.runId,
		outDir: run.meta.outDir,
		endpoint: redactUrl(run.meta.endpoint.url),
		generation: run.generation,
		enumerated: run.enumeratedGeneration >= run.generation,
		merged: run.mergedGeneration >= run.generation,
		cancelled: run.cancelledGeneration >= run.generation,
		found: run.found,
		queued: run.queued,
		alreadyDoneAtSubmit: run.alreadyDoneAtSubmit,
		ignored: run.ignored,
		done: run.done,
		jobs: { waiting: (c["waiting"] ?? 0) + (c["prioritized"] ?? 0), active: c["active"] ?? 0, delayed: c["delayed"] ?? 0, failed: c["failed"] ?? 0, completed: run.done.jobs },
		workers,
		...(run.fatal ? { fatal: run.fatal } : {}),
		...(run.merge ? { merge: run.merge } : {}),
		...(run.mergeError ? { mergeError: run.mergeError } : {}),
		submittedAt: run.submittedAt,
	};
}

/** Every run on the queue (latest first), or only the run(s) writing to `outDir`. */
export async function runStatus(queueUrl: string, options: { outDir?: string } = {}): Promise<{ runs: QueueRunStatus[]; workers: Awaited<ReturnType<typeof liveWorkers>> }> {
	await reachable(queueUrl);
	const redis = connectRedis(queueUrl);
	try {
		const ids = await redis.zrevrange(redisKeys.runs, 0, -1);
		const workers = await liveWorkers(redis);
		const runs: QueueRunStatus[] = [];
		const wanted = options.outDir ? path.resolve(options.outDir) : undefined;
		for (const id of ids) {
			const run = await readRunRecord(redis, id);
			if (!run || (wanted && run.meta.outDir !== wanted)) continue;
			const queue = runQueue(queueUrl, id);
			try {
				runs.push(await snapshot(queue, run, workers.filter((w) => w.runs.includes(id) || w.runs.includes("*")).length));
			} finally {
				await queue.close().catch(() => undefined);
			}
		}
		return { runs, workers };
	} finally {
		redis.disconnect();
	}
}

/** How a watched run ended. */
export interface QueueRunSummary {
	status: QueueRunStatus;
	/** The final files are written (the merge of the current submission is done). */
	finished: boolean;
	/** Stopped because a worker hit a fatal error (bad key, …) and no worker is left. */
	fatal?: RunFatal;
	/** The watch was stopped (its signal) before the run ended; the run goes on. */
	detached: boolean;
}

/**
 * Follows a run until its current submission is finished (merged), a fatal error leaves no worker
 * running, or `signal` stops the watch. Calls `onProgress` about twice a second.
 */
export async function watchRun(queueUrl: string, runId: string, onProgress: (s: QueueRunStatus) => void, signal: AbortSignal, pollMs = 500): Promise<QueueRunSummary> {
	await reachable(queueUrl);
	const redis = connectRedis(queueUrl);
	const queue = runQueue(queueUrl, runId);
	try {
		for (;;) {
			const run = await readRunRecord(redis, runId);
			if (!run) throw new QueueRunError(`No run ${runId} on ${redactRedisUrl(queueUrl)}.`);
			const workers = (await liveWorkers(redis)).filter((w) => w.runs.includes(runId) || w.runs.includes("*")).length;
			const s = await snapshot(queue, run, workers);
			onProgress(s);
			if (s.merged) return { status: s, finished: true, detached: false };
			if (run.fatal && Date.parse(run.fatal.time) >= run.submittedAt && workers === 0) return { status: s, finished: false, fatal: run.fatal, detached: false };
			if (signal.aborted) return { status: s, finished: false, detached: true };
			await new Promise<void>((resolve) => {
				const t = setTimeout(done, pollMs);
				function done() {
					clearTimeout(t);
					signal.removeEventListener("abort", done);
					resolve();
				}
				signal.addEventListener("abort", done, { once: true });
			});
		}
	} finally {
		await queue.close().catch(() => undefined);
		redis.disconnect();
	}
}

/** Removes the run's waiting and delayed jobs; returns how many were removed. Jobs being processed finish. */
export async function cancelRun(queueUrl: string, runId: string): Promise<number> {
	await reachable(queueUrl);
	const redis = connectRedis(queueUrl);
	const queue = runQueue(queueUrl, runId);
	try {
		const run = await readRunRecord(redis, runId);
		if (!run) throw new QueueRunError(`No run ${runId} on ${redactRedisUrl(queueUrl)}.`);
		await raiseGeneration(redis, runId, "cancelledGeneration", run.generation);
		const before = await queue.getJobCounts("waiting", "delayed", "prioritized");
		await queue.drain(true);
		const removed = Object.values(before).reduce((a, b) => a + b, 0);
		await scheduleMergeIfDrained(redis, queue, runId);
		return removed;
	} finally {
		await queue.close().catch(() => undefined);
		redis.disconnect();
	}
}
