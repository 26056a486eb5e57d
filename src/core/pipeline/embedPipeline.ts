/**
 * The embedding pipeline, open across any number of `process` calls (PRODUCT.md §4, §8): one
 * results store (its lock held), one worker pool, one embedder, one batcher. A local run calls
 * `process` once with the folder and DICOMweb sources; a queue worker calls it once per job,
 * possibly several jobs at once, and every call resolves with what happened to its own items.
 *
 *   Source ─▶ stamp + resume check ─▶ Convert (worker pool) ─▶ Batch ─▶ Send (embedder) ─▶ Record (store)
 *
 * - Bounded: a source is pulled only while fewer than 2 × workers items (+ DICOMweb retrievals) are
 *   converting and fewer than batchSize × (maxConcurrentRequests + 2) images (and 256 MB of PNG)
 *   wait for the endpoint, summed over every `process` call: memory stays flat whatever the input.
 * - Resume: a file whose (path, size, mtime, identity) matches a record made with the same settings
 *   and endpoint is not read at all; after conversion, an image whose key is already done, or being
 *   sent right now (by any call), is not sent again — its record is copied. An item whose path is
 *   being processed by another call waits for it, then is checked again.
 * - Every item ends exactly once as embedded or failed-with-reason (a file holding no image as
 *   "skipped"), recorded durably in the store before progress reports it.
 * - Cancel (a call's signal) stops that call's source and conversions, takes its images out of the
 *   forming batch and aborts a request only when every image in it belongs to cancelled calls.
 *   A FatalEndpointError or a store error stops every call running; a source's own failure (folder
 *   walk, DICOMweb refusal) stops only its call. Images not recorded are simply sent the next time.
 */
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { FatalEndpointError, type ClientStatus } from "../endpoint/types";
import { ResumeKeys } from "../results/resumeKey";
import { storedEmbeddingDim } from "../results/embeddingDim";
import { ResultsStore, ResultsStoreError } from "../results/store";
import { DicomwebClient, DicomwebError } from "../sources/dicomweb/client";
import type { DicomwebSource } from "../sources/dicomweb/types";
import { IncompleteSourceError } from "../sources/dicomwebSource";
import { isDicomwebInput } from "../sources/dicomweb/url";
import type { Disposable } from "../util/events";
import { redactUrlsIn } from "../util/redactUrl";
import { Batcher } from "./batcher";
import { Converter, stampWorkItem, type ConvertResult } from "./converter";
import { RateMeter } from "./rateMeter";
import { Recorder, type ConvertedImage, type FileStamp } from "./recorder";
import { Sender } from "./sender";
import type { RunDeps, RunOptions, RunProgress, SourceItem, WorkItem } from "./types";
import type { UploadInfo } from "./uploadStats";
import { WorkerPool } from "./workerPool";

/** Tunables of the pipeline (not user settings). */
export const runTuning = Object.freeze({
	/** A partial batch is sent after waiting this long for more images (when a request slot is free). */
	lingerMs: 300,
	/** PNG bytes held for the endpoint at most before the sources are paused. */
	maxHeldBytes: 256 * 1024 * 1024,
	/** Interval of progress reports while nothing else happens (elapsed time, rate, ETA). */
	tickMs: 1000,
});

export interface ProcessCounts {
	/** Work items taken (ignored files not included). */
	found: number;
	embedded: number;
	/** Already done (an earlier record of the same file, or of the same image content): not sent. */
	alreadyDone: number;
	failed: number;
	skipped: number;
	/** Files the source ignored (not DICOM). */
	ignored: number;
}

/** What happened to the items of one `process` call. */
export interface ProcessResult {
	counts: ProcessCounts;
	/** Why images failed (skipped ones not included): one entry per distinct reason, commonest first. */
	failureReasons: { reason: string; count: number }[];
	/** Set when the call stopped early (fatal endpoint or store error, source failure) or its source was incomplete. */
	fatal?: { code: string; message: string };
	/** True when the call's signal aborted it (and nothing fatal happened). */
	cancelled: boolean;
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

interface Deferred {
	promise: Promise<void>;
	resolve: () => void;
}

function deferred(): Deferred {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => (resolve = r));
	return { promise, resolve };
}

/** An image on its way to the endpoint, and the call it belongs to. */
interface Pending extends ConvertedImage {
	job: Job;
	/** Resolved when its batch's request and records are over (or it was dropped by a cancel). */
	done: Deferred;
}

type Counter = keyof ProcessCounts | "converted";

/** Throws a one-line error for options the pipeline cannot work with, before anything is touched. */
export function validatePipelineOptions(options: RunOptions): void {
	if (typeof options.outDir !== "string" || options.outDir.trim() === "") throw new Error("No output folder was given.");
	const e = options.endpoint;
	if (!e || typeof e.url !== "string" || e.url.trim() === "") throw new Error("No endpoint URL was given.");
	if (!Number.isInteger(e.batchSize) || e.batchSize < 1) throw new Error(`The batch size must be a whole number of at least 1 (got ${String(e.batchSize)}).`);
	if (!Number.isInteger(e.maxConcurrentRequests) || e.maxConcurrentRequests < 1) {
		throw new Error(`The number of concurrent requests must be a whole number of at least 1 (got ${String(e.maxConcurrentRequests)}).`);
	}
	if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
		throw new Error(`The number of conversion workers must be a whole number of at least 1 (got ${String(options.workers)}).`);
	}
}

export class EmbedPipeline {
	readonly outDir: string;
	readonly workers: number;
	readonly keys: ResumeKeys;
	/** Pipeline-wide counts (every call since open), for progress. */
	private readonly totals: Record<Counter, number> = { found: 0, ignored: 0, converted: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 };
	private readonly t0 = performance.now();
	private readonly meter = new RateMeter();
	private client: ClientStatus;
	private readonly statusListener: Disposable;
	private readonly ticker: NodeJS.Timeout;
	private readonly converter: Converter;
	private readonly sender: Sender;
	private readonly batcher: Batcher<Pending>;
	private dicomwebClient: DicomwebSource | undefined;
	/** Conversions (and DICOMweb retrievals) under way, over all calls, and their bound. */
	private converting = 0;
	private readonly maxConverting: number;
	private readonly wakers = new Set<() => void>();
	/** Batches handed to send() and not yet recorded. */
	private batchesInFlight = 0;
	/** Images being sent, by key: an identical image converted meanwhile waits for it instead of being sent too. */
	private readonly sending = new Map<string, Deferred>();
	/** Recorded paths being processed, by any call: another item with the same path waits for it. */
	private readonly pathsInFlight = new Map<string, Promise<void>>();
	/** Sends under way (they settle without rejecting). */
	private readonly sends = new Set<Promise<void>>();
	private readonly jobs = new Set<Job>();
	/** Calls whose source is still being read. */
	private sourcesActive = 0;
	private calls = 0;
	private closed = false;

	private constructor(
		readonly options: RunOptions,
		private readonly deps: RunDeps,
		private readonly store: ResultsStore,
		readonly recorder: Recorder,
		private readonly pool: WorkerPool,
		expectedDim: number | undefined,
	) {
		this.outDir = path.resolve(options.outDir);
		this.keys = new ResumeKeys(options.convert, options.endpoint, options.simulated);
		this.workers = pool.size;
		this.maxConverting = pool.maxQueue;
		this.client = { state: "running", inFlight: 0, concurrency: options.endpoint.maxConcurrentRequests };
		this.meter.add(this.t0, 0);
		this.converter = new Converter(pool, options.convert, () => this.dicomweb());
		this.sender = new Sender(deps.embedder, expectedDim);
		const batchSize = options.endpoint.batchSize;
		this.batcher = new Batcher<Pending>({
			size: batchSize,
			lingerMs: runTuning.lingerMs,
			maxHeld: batchSize * (options.endpoint.maxConcurrentRequests + 2),
			maxHeldBytes: runTuning.maxHeldBytes,
			bytesOf: (p) => p.png.byteLength,
			canSendPartial: () => this.batchesInFlight < options.endpoint.maxConcurrentRequests,
			send: (items) => this.dispatch(items),
		});
		this.statusListener = deps.embedder.onDidChangeStatus((s) => {
			this.client = s;
			if (s.state === "paused") deps.logger.warn(`Endpoint paused: ${s.reason}`);
			this.report();
		});
		this.ticker = setInterval(() => this.report(), runTuning.tickMs);
		this.ticker.unref();
	}

	/** Opens the store in options.outDir (taking its lock), starts the worker pool. */
	static async open(options: RunOptions, deps: RunDeps): Promise<EmbedPipeline> {
		validatePipelineOptions(options);
		const outDir = path.resolve(options.outDir);
		const keys = new ResumeKeys(options.convert, options.endpoint, options.simulated);
		const workers = options.workers ?? Math.max(1, os.availableParallelism() - 1);
		const hasRemote = options.inputs.some(isDicomwebInput);
		const retrievals = hasRemote ? Math.max(1, options.dicomweb?.retrievalConcurrency ?? 4) : 0;
		const store = await ResultsStore.open(outDir, { config: keys.config, logger: deps.logger });
		try {
			// Every answer must have the vector length of the embeddings already here (set by the first accepted one otherwise).
			const expectedDim = await storedEmbeddingDim(outDir).catch(() => undefined);
			const pool = new WorkerPool({ script: deps.workerScript, size: workers, maxQueue: workers * 2 + retrievals, logger: deps.logger });
			return new EmbedPipeline(options, deps, store, new Recorder(store, keys, deps.logger), pool, expectedDim);
		} catch (e) {
			await store.close().catch(() => undefined);
			throw e;
		}
	}

	/** Distinct images already done with these settings in the output folder. */
	get doneKeys(): number {
		return this.recorder.doneKeys;
	}

	/** What was handed to the endpoint so far (run.json `upload`). */
	get upload(): UploadInfo {
		return this.sender.upload.info();
	}

	/** The DICOMweb client that lists and retrieves (deps.dicomwebClient, or one made from options.dicomweb on first use). */
	dicomweb(): DicomwebSource {
		this.dicomwebClient ??=
			this.deps.dicomwebClient ??
			new DicomwebClient({
				...(this.options.dicomweb?.auth ? { auth: this.options.dicomweb.auth } : {}),
				retrievalConcurrency: Math.max(1, this.options.dicomweb?.retrievalConcurrency ?? 4),
				maxInstanceBytes: (this.options.convert.maxFileSizeMB || 1024 * 1024) * 1024 * 1024,
				logger: this.deps.logger,
			});
		return this.dicomwebClient;
	}

	/**
	 * Runs these items to their end — each recorded durably as embedded / failed / skipped, or
	 * already done — and resolves with what happened to them. Can be called many times, also
	 * concurrently, on the same open pipeline. Never rejects for a problem of an item or a source:
	 * that is in the result.
	 */
	async process(items: AsyncIterable<SourceItem> | Iterable<SourceItem>, signal: AbortSignal): Promise<ProcessResult> {
		if (this.closed) throw new Error("The embedding pipeline is closed");
		const job = new Job(this, signal);
		this.jobs.add(job);
		this.calls++;
		try {
			return await job.run(items);
		} finally {
			this.jobs.delete(job);
			this.report();
		}
	}

	/** Stops every call running, waits for them, stops the pool and closes the store (its lock released). */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		for (const job of this.jobs) job.stop("closed", "the embedding pipeline was closed");
		while (this.jobs.size > 0 || this.sends.size > 0) await Promise.all([...[...this.jobs].map((j) => j.finished), ...this.sends]);
		clearInterval(this.ticker);
		this.batcher.dispose();
		this.statusListener.dispose();
		await this.pool.dispose().catch(() => undefined);
		await this.store.close();
	}

	/** A snapshot of the pipeline-wide progress (every call since open). */
	progress(): RunProgress {
		const now = performance.now();
		const processed = this.totals.embedded + this.totals.failed + this.totals.skipped;
		this.meter.add(now, processed);
		const rate = this.meter.rate(now, processed);
		const discoveryDone = this.calls > 0 && this.sourcesActive === 0;
		const remaining = this.totals.found - processed - this.totals.alreadyDone;
		return {
			...this.totals,
			discoveryDone,
			rate,
			client: this.client,
			elapsedMs: Math.round(now - this.t0),
			...(discoveryDone && rate > 0 ? { etaSeconds: Math.max(0, remaining) / rate } : {}),
		};
	}

	/** Gives deps.onProgress a snapshot. */
	report(): void {
		if (!this.deps.onProgress) return;
		const p = this.progress();
		try {
			this.deps.onProgress(p);
		} catch (e) {
			this.deps.logger.warn(`progress listener failed: ${message(e)}`);
		}
	}

	// ---- shared machinery used by the calls (Job) ----

	/** @internal */ count(job: Job, what: Counter, n = 1): void {
		this.totals[what] += n;
		if (what !== "converted") job.counts[what] += n;
	}

	/** @internal */ get logger() {
		return this.deps.logger;
	}

	/** @internal */ sourceStarted(): void {
		this.sourcesActive++;
	}

	/** @internal */ sourceEnded(): void {
		this.sourcesActive--;
		this.flushIfIdle();
	}

	/** @internal Waits until another item may start converting (bounded conversions and held images). */
	async waitForRoom(signal: AbortSignal): Promise<void> {
		while (!(this.converting < this.maxConverting && this.batcher.hasRoom())) {
			signal.throwIfAborted();
			await new Promise<void>((resolve) => {
				const w = () => {
					this.wakers.delete(w);
					signal.removeEventListener("abort", w);
					resolve();
				};
				this.wakers.add(w);
				signal.addEventListener("abort", w, { once: true });
			});
		}
		signal.throwIfAborted();
	}

	/** @internal Another item with this recorded path being processed now, if any. */
	inFlight(p: string): Promise<void> | undefined {
		return this.pathsInFlight.get(p);
	}

	/** @internal Runs an item's conversion and what follows; the path is "in flight" until it ends. */
	startItem(job: Job, item: Exclude<WorkItem, { kind: "skipped" }>, stamp: FileStamp): Promise<void> {
		this.converting++;
		const life = this.convertAndQueue(job, item, stamp);
		const settled = life.then(
			() => undefined,
			() => undefined,
		);
		this.pathsInFlight.set(item.path, settled);
		void settled.then(() => {
			if (this.pathsInFlight.get(item.path) === settled) this.pathsInFlight.delete(item.path);
		});
		return life;
	}

	private wake(): void {
		for (const w of [...this.wakers]) w();
	}

	/** Sends the last partial batch as soon as nothing else can fill it. */
	private flushIfIdle(): void {
		if (this.sourcesActive === 0 && this.converting === 0 && this.batcher.size > 0) this.batcher.flush();
	}

	private conversionEnded(): void {
		this.converting--;
		this.wake();
		this.flushIfIdle();
	}

	private async convertAndQueue(job: Job, item: Exclude<WorkItem, { kind: "skipped" }>, stamp: FileStamp): Promise<void> {
		let result: ConvertResult;
		try {
			result = await this.converter.convert(item, stamp, job.signal);
		} catch (e) {
			this.conversionEnded();
			if (job.signal.aborted) return;
			throw e;
		}
		if (result.kind !== "converted") {
			this.conversionEnded();
			if (job.signal.aborted) return;
			if (result.kind === "fatal") job.stop(result.code, result.message);
			else await job.recordFailure(result.stamp ?? stamp, result.stage, result.error);
			return;
		}
		this.converting--;
		const { conv, stamp: at } = result;
		const out = conv.outcome;
		if (out.kind === "image" && conv.sha256) {
			this.count(job, "converted");
			const p: Pending = {
				key: this.recorder.key(conv.sha256),
				file: at,
				sha256: conv.sha256,
				png: out.png,
				thumbnail: out.thumbnail,
				meta: out.meta,
				...(out.window ? { window: out.window } : {}),
				job,
				done: deferred(),
			};
			if (!this.recorder.hasKey(p.key) && !this.sending.has(p.key) && !job.signal.aborted) {
				this.enqueue(p); // synchronously, before flushIfIdle can see an empty pipeline
				this.wake();
				this.flushIfIdle();
				await p.done.promise;
				return;
			}
			this.wake();
			this.flushIfIdle();
			await this.afterConversion(p);
			return;
		}
		this.wake();
		this.flushIfIdle();
		if (out.kind === "skipped") await job.recordFailure(at, "skipped", out.reason, conv.sha256);
		else if (out.kind === "failed") await job.recordFailure(at, out.stage, out.error, conv.sha256);
		else await job.recordFailure(at, "read", "the file could not be hashed while it was read");
	}

	/** An image whose key is done or being sent: copy the record, or (when that one failed) send it after all. */
	private async afterConversion(p: Pending): Promise<void> {
		if (this.recorder.hasKey(p.key) && (await this.copyDone(p))) return;
		const other = this.sending.get(p.key);
		if (other) {
			await other.promise;
			if (this.recorder.hasKey(p.key) && (await this.copyDone(p))) return;
		}
		if (p.job.signal.aborted) return;
		this.enqueue(p);
		this.flushIfIdle();
		await p.done.promise;
	}

	private async copyDone(p: Pending): Promise<boolean> {
		if (!(await this.recorder.copyDone(p))) return false;
		this.count(p.job, "alreadyDone");
		this.report();
		return true;
	}

	private enqueue(p: Pending): void {
		if (!this.sending.has(p.key)) this.sending.set(p.key, deferred());
		this.batcher.add(p);
	}

	/** Images whose batch is over (or that were dropped): no longer held, no longer "being sent". */
	private release(items: readonly Pending[]): void {
		this.batcher.release(items);
		for (const p of items) {
			const s = this.sending.get(p.key);
			if (s) {
				this.sending.delete(p.key);
				s.resolve();
			}
			p.done.resolve();
		}
		this.wake();
	}

	/** @internal A call was cancelled or stopped: its images leave the forming batch. */
	dropJob(job: Job): void {
		const dropped = this.batcher.remove((p) => p.job === job);
		if (dropped.length > 0) this.release(dropped);
		this.wake();
	}

	/** @internal Stops every call running (an endpoint-wide or store failure). */
	stopAll(code: string, why: string): void {
		for (const job of this.jobs) job.stop(code, why);
	}

	private dispatch(items: Pending[]): void {
		// Images of calls stopped meanwhile are not sent (they are not recorded; the next run sends them).
		const dropped = items.filter((p) => p.job.signal.aborted);
		if (dropped.length > 0) this.release(dropped);
		const live = dropped.length > 0 ? items.filter((p) => !p.job.signal.aborted) : items;
		if (live.length === 0) return;
		const send = this.send(live).catch((e: unknown) => {
			if (e instanceof ResultsStoreError) this.stopAll("store", message(e));
			else if (!isAbort(e)) this.stopAll("internal", `internal error: ${message(e)}`);
		});
		this.sends.add(send);
		void send.then(() => this.sends.delete(send)); // never rejects (caught above)
	}

	private async send(items: Pending[]): Promise<void> {
		this.batchesInFlight++;
		// The request is aborted only when every call with an image in it is stopped.
		const jobs = [...new Set(items.map((p) => p.job))];
		const ctrl = new AbortController();
		const onAbort = () => {
			if (jobs.every((j) => j.signal.aborted)) ctrl.abort();
		};
		for (const j of jobs) j.signal.addEventListener("abort", onAbort);
		onAbort();
		try {
			let outcomes;
			try {
				outcomes = await this.sender.send(
					items.map((p) => p.png),
					ctrl.signal,
				);
			} catch (e) {
				if (e instanceof FatalEndpointError) {
					this.stopAll(e.code, e.message);
					return;
				}
				throw e;
			}
			if (!outcomes) return; // stopped: these images are not recorded, the next run sends them
			try {
				await this.recorder.batch(items, outcomes);
			} catch (e) {
				this.stopAll("store", message(e));
				return;
			}
			for (let i = 0; i < items.length; i++) {
				const p = items[i]!;
				const o = outcomes[i]!;
				if (o.ok) this.count(p.job, "embedded");
				else p.job.failedImage(o.error);
			}
			this.report();
		} finally {
			for (const j of jobs) j.signal.removeEventListener("abort", onAbort);
			this.batchesInFlight--;
			this.release(items);
			this.flushIfIdle();
		}
	}
}

/** One `process` call: its source loop, its items' tasks, its counts and its stop. */
class Job {
	readonly counts: ProcessCounts = { found: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, ignored: 0 };
	private readonly reasons = new Map<string, number>();
	private readonly ctrl = new AbortController();
	private readonly tasks = new Set<Promise<void>>();
	private fatal: { code: string; message: string } | undefined;
	/** A source that yielded what it could and broke off (not a stop: what was yielded goes on). */
	private incomplete: { code: string; message: string } | undefined;
	private readonly done = deferred();
	/** Resolves when the call is over. */
	readonly finished = this.done.promise;

	constructor(
		private readonly pipeline: EmbedPipeline,
		private readonly userSignal: AbortSignal,
	) {
		const onUserAbort = () => this.ctrl.abort(userSignal.reason);
		if (userSignal.aborted) this.ctrl.abort(userSignal.reason);
		else userSignal.addEventListener("abort", onUserAbort, { once: true });
		void this.finished.then(() => userSignal.removeEventListener("abort", onUserAbort));
		this.ctrl.signal.addEventListener("abort", () => pipeline.dropJob(this), { once: true });
	}

	/** Aborts on cancel or stop. */
	get signal(): AbortSignal {
		return this.ctrl.signal;
	}

	stop(code: string, why: string): void {
		if (!this.fatal) {
			this.fatal = { code, message: redactUrlsIn(why) };
			this.pipeline.logger.error(`The run stops: ${this.fatal.message}`);
		}
		this.ctrl.abort();
	}

	async recordFailure(stamp: FileStamp, stage: string, error: string, sha256?: string): Promise<void> {
		await this.pipeline.recorder.failure(stamp, stage, error, sha256);
		if (stage === "skipped") this.pipeline.count(this, "skipped");
		else this.failedImage(error);
		this.pipeline.report();
	}

	/** Counts one failed image (recorded) with its reason. */
	failedImage(reason: string): void {
		this.pipeline.count(this, "failed");
		this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
	}

	private track(body: Promise<void>): void {
		const p = body.catch((e: unknown) => {
			if (e instanceof ResultsStoreError) this.pipeline.stopAll("store", message(e));
			else if (!isAbort(e) || !this.signal.aborted) this.stop("internal", `internal error: ${message(e)}`);
		});
		this.tasks.add(p);
		void p.then(() => this.tasks.delete(p)); // never rejects (caught above)
	}

	async run(items: AsyncIterable<SourceItem> | Iterable<SourceItem>): Promise<ProcessResult> {
		const pipeline = this.pipeline;
		const signal = this.signal;
		pipeline.sourceStarted();
		pipeline.report();
		try {
			try {
				for await (const item of items) {
					if (signal.aborted) break;
					if (item.kind === "ignored") {
						pipeline.count(this, "ignored");
						continue;
					}
					await this.take(item);
				}
			} catch (e) {
				if (!signal.aborted) this.sourceFailed(e);
			} finally {
				pipeline.sourceEnded();
			}
			pipeline.report();
			// Drain: conversions, batches and their records.
			while (this.tasks.size > 0) await Promise.all([...this.tasks]);
		} finally {
			this.done.resolve();
		}
		const fatal = this.fatal ?? this.incomplete;
		const failureReasons = [...this.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
		return { counts: { ...this.counts }, failureReasons, ...(fatal ? { fatal } : {}), cancelled: this.userSignal.aborted && !fatal };
	}

	/** One item from the source: stamp, resume check, then conversion (bounded) or its record. */
	private async take(item: WorkItem): Promise<void> {
		const pipeline = this.pipeline;
		const signal = this.signal;
		this.pipeline.count(this, "found");
		const earlierRun = pipeline.inFlight(item.path);
		if (earlierRun) await Promise.race([earlierRun, new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }))]);
		if (signal.aborted) return;
		const { stamp, failure } = await stampWorkItem(item);
		if (failure) {
			await this.recordFailure(stamp, failure.stage, failure.error);
			return;
		}
		const earlier = pipeline.recorder.statusOf(stamp);
		if (earlier) {
			pipeline.count(this, earlier === "embedded" ? "alreadyDone" : "skipped");
			pipeline.report();
			return;
		}
		if (item.kind === "skipped") {
			await this.recordFailure(stamp, "skipped", item.reason);
			return;
		}
		try {
			await pipeline.waitForRoom(signal);
		} catch (e) {
			if (signal.aborted) return;
			throw e;
		}
		this.track(pipeline.startItem(this, item, stamp));
		pipeline.report();
	}

	private sourceFailed(e: unknown): void {
		if (e instanceof IncompleteSourceError) {
			for (const p of e.problems) this.pipeline.logger.error(p);
			this.incomplete ??= { code: e.code, message: e.message };
		} else if (e instanceof ResultsStoreError) {
			this.pipeline.stopAll("store", message(e));
		} else if (e instanceof DicomwebError && e.fatal) {
			this.stop("dicomweb", e.message);
		} else {
			this.stop("discovery", `discovery failed: ${message(e)}`);
		}
	}
}
