/**
 * The embedding pipeline, open across any number of `process` calls (PRODUCT.md §4, §8): one
 * results store (its lock held), one worker pool, one embedder, one batcher. A local run calls
 * `process` once with the folder and DICOMweb sources; a queue worker calls it once per job,
 * possibly several jobs at once, and every call resolves with what happened to its own items.
 *
 *   Source ─▶ ProcessCall (path claim, stamp, resume check) ─▶ ImageFlow: Convert ─▶ Batch ─▶ Send ─▶ Record
 *
 * - Bounded: a source is pulled only while fewer than 2 × workers items (+ DICOMweb retrievals) are
 *   converting and fewer than batchSize × (maxConcurrentRequests + 2) images (and 256 MB of PNG)
 *   wait for the endpoint, summed over every call: memory stays flat whatever the input.
 * - Resume: a file whose (path, size, mtime, identity) matches a record made with the same settings
 *   and endpoint is not read at all; after conversion, an image whose key is already done, or being
 *   sent right now (by any call), is not sent again — its record is copied.
 * - Every item ends exactly once as embedded or failed-with-reason (a file holding no image as
 *   "skipped"), recorded durably in the store before progress reports it.
 * - Cancel (a call's signal) stops that call's source and conversions, takes its images out of the
 *   forming batch and aborts a request only when every image in it belongs to stopped calls.
 *   A FatalEndpointError or a store error stops every call running; a source's own failure (folder
 *   walk, DICOMweb refusal) stops only its call. Images not recorded are simply sent the next time.
 */
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { ClientStatus } from "../endpoint/types";
import { storedEmbeddingDim } from "../results/embeddingDim";
import { ResumeKeys } from "../results/resumeKey";
import { ResultsStore } from "../results/store";
import { DicomwebClient } from "../sources/dicomweb/client";
import type { DicomwebSource } from "../sources/dicomweb/types";
import { isDicomwebInput } from "../sources/dicomweb/url";
import type { Disposable } from "../util/events";
import type { Logger } from "../util/logger";
import { Converter } from "./converter";
import { ImageFlow } from "./imageFlow";
import { ProcessCall, type CallHost, type ProcessCounts, type ProcessResult } from "./processCall";
import { RateMeter } from "./rateMeter";
import { Recorder } from "./recorder";
import { Sender } from "./sender";
import type { RunDeps, RunOptions, RunProgress, SourceItem } from "./types";
import type { UploadInfo } from "./uploadStats";
import { WorkerPool } from "./workerPool";

export type { ProcessCounts, ProcessResult } from "./processCall";

/** Tunables of the pipeline (not user settings). */
export const runTuning = Object.freeze({
	/** A partial batch is sent after waiting this long for more images (when a request slot is free). */
	lingerMs: 300,
	/** PNG bytes held for the endpoint at most before the sources are paused. */
	maxHeldBytes: 256 * 1024 * 1024,
	/** Interval of progress reports while nothing else happens (elapsed time, rate, ETA). */
	tickMs: 1000,
});

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

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

export class EmbedPipeline implements CallHost {
	readonly outDir: string;
	/** Conversion worker threads. */
	readonly workers: number;
	readonly keys: ResumeKeys;
	readonly flow: ImageFlow;
	/** Pipeline-wide counts (every call since open), for progress. */
	private readonly totals: Omit<RunProgress, "discoveryDone" | "rate" | "etaSeconds" | "client" | "elapsedMs"> = { found: 0, ignored: 0, converted: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 };
	private readonly t0 = performance.now();
	private readonly meter = new RateMeter();
	private client: ClientStatus;
	private readonly sender: Sender;
	private readonly statusListener: Disposable;
	private readonly ticker: NodeJS.Timeout;
	private dicomwebClient: DicomwebSource | undefined;
	/** Calls running, each with its end (settles without rejecting). */
	private readonly calls = new Map<ProcessCall, Promise<unknown>>();
	private started = false;
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
		this.client = { state: "running", inFlight: 0, concurrency: options.endpoint.maxConcurrentRequests };
		this.meter.add(this.t0, 0);
		this.sender = new Sender(deps.embedder, expectedDim);
		this.flow = new ImageFlow({
			converter: new Converter(pool, options.convert, () => this.dicomweb()),
			sender: this.sender,
			recorder,
			batchSize: options.endpoint.batchSize,
			maxConcurrentRequests: options.endpoint.maxConcurrentRequests,
			maxConverting: pool.maxQueue,
			lingerMs: runTuning.lingerMs,
			maxHeldBytes: runTuning.maxHeldBytes,
			onConverted: () => this.totals.converted++,
			report: () => this.report(),
			stopAll: (code, why) => this.stopAll(code, why),
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
		// DICOMweb retrievals wait for a worker too: room for them in the pool's queue.
		const retrievals = options.inputs.some(isDicomwebInput) ? Math.max(1, options.dicomweb?.retrievalConcurrency ?? 4) : 0;
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

	get logger(): Logger {
		return this.deps.logger;
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
	 * concurrently, on the same open pipeline. A problem of an item or a source is in the result;
	 * rejects only when the pipeline is closed.
	 */
	async process(items: AsyncIterable<SourceItem> | Iterable<SourceItem>, signal: AbortSignal): Promise<ProcessResult> {
		if (this.closed) throw new Error("The embedding pipeline is closed");
		const call = new ProcessCall(this, signal);
		const run = call.run(items);
		this.calls.set(
			call,
			run.catch(() => undefined),
		);
		this.started = true;
		try {
			return await run;
		} finally {
			this.calls.delete(call);
			this.report();
		}
	}

	/** Stops the calls still running and waits for them, stops the pool, closes the store (its lock released). */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.stopAll("closed", "the embedding pipeline was closed");
		await Promise.all(this.calls.values());
		await this.flow.close();
		clearInterval(this.ticker);
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
		const discoveryDone = this.started && !this.flow.reading;
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

	/** @internal (CallHost) */
	counted(what: keyof ProcessCounts): void {
		this.totals[what]++;
	}

	/** @internal (CallHost) An endpoint-wide or store failure: every call running stops with it. */
	stopAll(code: string, why: string): void {
		for (const call of this.calls.keys()) call.stop(code, why);
	}
}
