/**
 * One embedding run (PRODUCT.md §4): discover → resume check → conversion in worker threads →
 * batches → endpoint → results store, as one bounded pipeline.
 *
 * - Bounded everywhere: discovery is pulled only while fewer than 2 × workers files are converting
 *   and fewer than batchSize × (maxConcurrentRequests + 2) images (and 256 MB of PNG) wait for the
 *   endpoint, so memory stays flat whatever the folder size; nothing collects all files or results.
 * - Resume: a file whose (path, size, mtime, identity) matches a record made with the same settings and
 *   endpoint is not read at all; after conversion, an image whose key (content + settings +
 *   endpoint) is already done, or being sent right now, is not sent again — its record is copied.
 * - Every image ends exactly once as embedded or failed-with-reason (a file holding no image as
 *   "skipped"), recorded durably in the store before progress reports it.
 * - A FatalEndpointError (bad key, …) or a cancel stops taking work, aborts what is in flight,
 *   flushes the store and still writes the exports and run.json; images not recorded are simply
 *   sent by the next run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { FatalEndpointError, type ClientStatus, type EmbedItemResult } from "../endpoint/types";
import type { DicomMeta } from "../dicom/types";
import { exportArrays, type ExportResult } from "../results/exportArrays";
import { ResumeKeys, sourceId } from "../results/resumeKey";
import { readRetryPaths } from "../results/retryList";
import { recordedEndpoint, redactUrl, writeRunInfo } from "../results/runInfo";
import { ResultsStore, ResultsStoreError } from "../results/store";
import { storedEmbeddingDim } from "../results/embeddingDim";
import { redactUrlsIn } from "../util/redactUrl";
import type { EmbeddingRecord, FailureRecord } from "../results/types";
import { discover } from "./discover";
import { RateMeter } from "./rateMeter";
import { recordBase, recordedPath } from "./recordedPath";
import { DicomwebClient, DicomwebError, type DicomwebSource, type InstanceRef } from "../sources/dicomweb/client";
import { describeTarget, isDicomwebInput, parseDicomwebUrl, type DicomwebTarget } from "../sources/dicomweb/url";
import { UploadStats } from "./uploadStats";
import type { DiscoveredFile, FileConversion, RunDeps, RunOptions, RunProgress, RunSummary } from "./types";
import { WorkerPool } from "./workerPool";

/** Tunables of the pipeline (not user settings). */
export const runTuning = Object.freeze({
	/** A partial batch is sent after waiting this long for more images (when a request slot is free). */
	lingerMs: 300,
	/** PNG bytes held for the endpoint at most before discovery is paused. */
	maxHeldBytes: 256 * 1024 * 1024,
	/** Interval of progress reports while nothing else happens (elapsed time, rate, ETA). */
	tickMs: 1000,
});

/** An image converted and waiting for (or at) the endpoint. */
interface Pending {
	key: string;
	file: FileStamp;
	sha256: string;
	png: Uint8Array;
	thumbnail: Uint8Array | undefined;
	meta: DicomMeta;
	/** "min-max" when the percentile window collapsed (recorded in the embedding record). */
	window?: "min-max";
}

/** Where a record came from: its path as recorded and the stamp that lets the next run skip it unread. */
interface FileStamp {
	path: string;
	absPath: string;
	/** Absent when the file changed while it was read (the next run must read it again). */
	size?: number;
	mtimeMs?: number;
	/** Identity of the file (sourceId of its absolute path and inode), part of the stamp. */
	source?: string;
	/** The DICOMweb service an instance came from (no credentials). */
	sourceUrl?: string;
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

/** Throws a one-line error for options that cannot work, before anything is touched. */
async function validate(options: RunOptions): Promise<void> {
	if (!Array.isArray(options.inputs) || options.inputs.length === 0) throw new Error("Nothing to embed: no input folder or file was given.");
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
	const out = path.resolve(options.outDir);
	for (const input of options.inputs) {
		if (isDicomwebInput(input)) {
			parseDicomwebUrl(input); // throws a message that says what is wrong with it
			continue;
		}
		const abs = path.resolve(input);
		try {
			await fs.promises.stat(abs);
		} catch (err) {
			const code = (err as NodeJS.ErrnoException).code;
			throw new Error(code === "ENOENT" ? `Input not found: ${abs}` : `Cannot read input ${abs}: ${code ?? message(err)}`);
		}
		if (abs === out) throw new Error(`The output folder cannot be one of the inputs: ${abs}`);
	}
}

export async function runEmbedding(options: RunOptions, deps: RunDeps, signal: AbortSignal): Promise<RunSummary> {
	await validate(options);
	const logger = deps.logger;
	const startedAt = new Date();
	const t0 = performance.now();
	const outDir = path.resolve(options.outDir);
	const workers = options.workers ?? Math.max(1, os.availableParallelism() - 1);
	const batchSize = options.endpoint.batchSize;
	const keys = new ResumeKeys(options.convert, options.endpoint, options.simulated);
	// Folders and files on disk, and DICOMweb resources (PRODUCT.md §9).
	const localInputs = options.inputs.filter((i) => !isDicomwebInput(i));
	const remoteTargets: DicomwebTarget[] = options.inputs.filter(isDicomwebInput).map((i) => parseDicomwebUrl(i));
	// Recorded paths are relative to the inputs' common folder: different files never share one.
	const base = await recordBase(localInputs);

	const store = await ResultsStore.open(outDir, { config: keys.config, logger });
	// Every answer must have the vector length of the embeddings already here (set by the first accepted one otherwise).
	let expectedDim = await storedEmbeddingDim(outDir).catch(() => undefined);
	/** Failed images (not skipped ones) by reason, for the summary and the log. */
	const failureReasons = new Map<string, number>();
	const noteReason = (reason: string) => failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
	const ctrl = new AbortController();
	const onUserAbort = () => ctrl.abort(signal.reason);
	if (signal.aborted) ctrl.abort(signal.reason);
	else signal.addEventListener("abort", onUserAbort, { once: true });

	const counts = { found: 0, ignored: 0, converted: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 };
	const upload = new UploadStats();
	let discoveryDone = false;
	/** DICOMweb listings that broke off (not fatal: what was listed is processed, the run says it is incomplete). */
	const listingErrors: string[] = [];
	let fatal: { code: string; message: string } | undefined;
	let client: ClientStatus = { state: "running", inFlight: 0, concurrency: options.endpoint.maxConcurrentRequests };
	const meter = new RateMeter();
	meter.add(t0, 0);

	const processed = () => counts.embedded + counts.failed + counts.skipped;
	const report = () => {
		if (!deps.onProgress) return;
		const now = performance.now();
		meter.add(now, processed());
		const rate = meter.rate(now, processed());
		const remaining = counts.found - processed() - counts.alreadyDone;
		const progress: RunProgress = {
			...counts,
			discoveryDone,
			rate,
			client,
			elapsedMs: Math.round(now - t0),
			...(discoveryDone && rate > 0 ? { etaSeconds: Math.max(0, remaining) / rate } : {}),
		};
		try {
			deps.onProgress(progress);
		} catch (e) {
			logger.warn(`progress listener failed: ${message(e)}`);
		}
	};
	const stop = (code: string, why: string) => {
		if (!fatal) {
			fatal = { code, message: redactUrlsIn(why) };
			logger.error(`The run stops: ${fatal.message}`);
		}
		ctrl.abort();
	};

	const statusListener = deps.embedder.onDidChangeStatus((s) => {
		client = s;
		if (s.state === "paused") logger.warn(`Endpoint paused: ${s.reason}`);
		report();
	});
	const ticker = setInterval(report, runTuning.tickMs);
	ticker.unref();

	// Work in progress: every promise here settles without rejecting.
	const tasks = new Set<Promise<void>>();
	const track = (body: () => Promise<void>) => {
		const p = body().catch((e: unknown) => {
			if (e instanceof ResultsStoreError) stop("store", message(e));
			else if (!isAbort(e) || !ctrl.signal.aborted) stop("internal", `internal error: ${message(e)}`);
		});
		tasks.add(p);
		void p.then(() => tasks.delete(p)); // never rejects (caught above)
	};

	// Capacity: wakes the discovery loop when a slot frees.
	let converting = 0;
	let held = 0;
	let heldBytes = 0;
	const retrievals = remoteTargets.length > 0 ? Math.max(1, options.dicomweb?.retrievalConcurrency ?? 4) : 0;
	// Conversions, and DICOMweb retrievals waiting to be converted.
	const maxConverting = workers * 2 + retrievals;
	const maxHeld = batchSize * (options.endpoint.maxConcurrentRequests + 2);
	const wakers = new Set<() => void>();
	const wake = () => {
		for (const w of [...wakers]) w();
	};
	const hasRoom = () => converting < maxConverting && held < maxHeld && heldBytes < runTuning.maxHeldBytes;
	const waitForRoom = async () => {
		while (!hasRoom()) {
			ctrl.signal.throwIfAborted();
			await new Promise<void>((resolve) => {
				const w = () => {
					wakers.delete(w);
					ctrl.signal.removeEventListener("abort", w);
					resolve();
				};
				wakers.add(w);
				ctrl.signal.addEventListener("abort", w, { once: true });
			});
		}
	};

	// Images being sent, by key: an identical image converted meanwhile waits for it instead of being sent too.
	const sending = new Map<string, { done: Promise<void>; resolve: () => void }>();

	// The batcher.
	let batch: Pending[] = [];
	let lingerTimer: NodeJS.Timeout | undefined;
	let batchesInFlight = 0;
	const dispatch = () => {
		if (lingerTimer) clearTimeout(lingerTimer);
		lingerTimer = undefined;
		const items = batch;
		batch = [];
		if (items.length === 0) return;
		if (ctrl.signal.aborted) {
			release(items);
			return;
		}
		track(() => send(items));
	};
	const onLinger = () => {
		lingerTimer = undefined;
		// A partial batch costs a whole request of the rate limit: send it only when the client has room.
		if (batchesInFlight < options.endpoint.maxConcurrentRequests || ctrl.signal.aborted) dispatch();
		else lingerTimer = setTimeout(onLinger, runTuning.lingerMs);
	};
	const enqueue = (p: Pending) => {
		held++;
		heldBytes += p.png.byteLength;
		if (!sending.has(p.key)) {
			let resolve!: () => void;
			const done = new Promise<void>((r) => (resolve = r));
			sending.set(p.key, { done, resolve });
		}
		batch.push(p);
		if (batch.length >= batchSize) dispatch();
		else lingerTimer ??= setTimeout(onLinger, runTuning.lingerMs);
	};
	/** Sends the last partial batch as soon as nothing else can fill it. */
	const flushIfIdle = () => {
		if (discoveryDone && converting === 0 && batch.length > 0) dispatch();
	};
	function release(items: Pending[]): void {
		for (const p of items) {
			held--;
			heldBytes -= p.png.byteLength;
			const s = sending.get(p.key);
			if (s) {
				sending.delete(p.key);
				s.resolve();
			}
		}
		wake();
	}

	const stampFields = (f: FileStamp) => ({
		...(f.size !== undefined && f.mtimeMs !== undefined ? { size: f.size, mtimeMs: f.mtimeMs, ...(f.source ? { source: f.source } : {}) } : {}),
		...(f.sourceUrl ? { sourceUrl: f.sourceUrl } : {}),
		config: keys.config,
	});

	const recordFailure = async (file: FileStamp, stage: string, error: string, sha256?: string) => {
		const record: FailureRecord = {
			path: file.path,
			stage,
			error,
			...(sha256 ? { sha256, key: keys.key(sha256) } : {}),
			time: new Date().toISOString(),
			...stampFields(file),
		};
		await store.append({ failures: [record] });
		if (stage === "skipped") counts.skipped++;
		else {
			counts.failed++;
			noteReason(error);
		}
		report();
	};

	const embeddingRecord = (p: Pending, embedding: number[], extra: { scalingFactor?: number; thumbnail?: string }): EmbeddingRecord => ({
		path: p.file.path,
		sha256: p.sha256,
		sopInstanceUid: p.meta.sopInstanceUid,
		seriesInstanceUid: p.meta.seriesInstanceUid,
		studyInstanceUid: p.meta.studyInstanceUid,
		modality: p.meta.modality,
		key: p.key,
		...(extra.scalingFactor !== undefined ? { scalingFactor: extra.scalingFactor } : {}),
		...(p.meta.seriesDescription ? { seriesDescription: p.meta.seriesDescription } : {}),
		...(p.meta.studyDescription ? { studyDescription: p.meta.studyDescription } : {}),
		rows: p.meta.rows,
		columns: p.meta.columns,
		...(extra.thumbnail ? { thumbnail: extra.thumbnail } : {}),
		...(p.window ? { window: p.window } : {}),
		time: new Date().toISOString(),
		...stampFields(p.file),
		embedding,
	});

	const saveThumbnail = async (p: Pending): Promise<string | undefined> => {
		if (!p.thumbnail) return undefined;
		try {
			return await store.saveThumbnail(p.sha256, p.thumbnail);
		} catch (e) {
			logger.warn(`Cannot save the thumbnail of ${p.file.path}: ${message(e)}`);
			return undefined;
		}
	};

	/** Records an image whose key is already done (identical content, or the same file touched) without sending it. */
	const copyDone = async (p: Pending): Promise<boolean> => {
		const earlier = await store.readByKey(p.key);
		if (!earlier || !Array.isArray(earlier.embedding)) return false;
		const thumbnail = earlier.thumbnail ?? (await saveThumbnail(p));
		const record = embeddingRecord(p, earlier.embedding, { ...(earlier.scalingFactor !== undefined ? { scalingFactor: earlier.scalingFactor } : {}), ...(thumbnail ? { thumbnail } : {}) });
		await store.append({ embeddings: [record] });
		counts.alreadyDone++;
		report();
		return true;
	};

	const afterConversion = async (p: Pending) => {
		if (store.hasKey(p.key) && (await copyDone(p))) return;
		const other = sending.get(p.key);
		if (other) {
			await other.done;
			if (store.hasKey(p.key) && (await copyDone(p))) return;
		}
		if (ctrl.signal.aborted) return;
		enqueue(p);
	};

	const send = async (items: Pending[]) => {
		batchesInFlight++;
		upload.add(items.map((p) => p.png.byteLength));
		try {
			let results: EmbedItemResult[] | undefined;
			try {
				results = await deps.embedder.embedImages(
					items.map((p, i) => ({ id: String(i), png: p.png })),
					ctrl.signal,
					expectedDim !== undefined ? { expectedDim } : {},
				);
			} catch (e) {
				if (e instanceof FatalEndpointError) stop(e.code, e.message);
				else if (!(ctrl.signal.aborted || isAbort(e))) {
					results = items.map((_, i) => ({ id: String(i), ok: false, error: `request failed: ${message(e)}` }));
				}
			}
			if (!results) return; // stopped: these images are not recorded, the next run sends them
			const byId = new Map(results.map((r) => [r.id, r]));
			const embeddings: EmbeddingRecord[] = [];
			const failures: FailureRecord[] = [];
			for (let i = 0; i < items.length; i++) {
				const p = items[i]!;
				const r = byId.get(String(i));
				if (r?.ok && expectedDim !== undefined && r.embedding.length !== expectedDim) {
					failures.push({ path: p.file.path, stage: "embed", error: `the endpoint returned a vector of ${r.embedding.length} numbers, expected ${expectedDim} like the embeddings already in this folder`, sha256: p.sha256, key: p.key, time: new Date().toISOString(), ...stampFields(p.file) });
				} else if (r?.ok && !r.embedding.every(Number.isFinite)) {
					failures.push({ path: p.file.path, stage: "embed", error: "the endpoint returned an embedding with values that are not finite numbers", sha256: p.sha256, key: p.key, time: new Date().toISOString(), ...stampFields(p.file) });
				} else if (r?.ok) {
					expectedDim ??= r.embedding.length;
					const thumbnail = await saveThumbnail(p);
					embeddings.push(embeddingRecord(p, Array.from(r.embedding), { ...(r.scalingFactor !== undefined ? { scalingFactor: r.scalingFactor } : {}), ...(thumbnail ? { thumbnail } : {}) }));
				} else {
					failures.push({
						path: p.file.path,
						stage: "embed",
						error: r ? r.error : "the endpoint returned no result for this image",
						sha256: p.sha256,
						key: p.key,
						time: new Date().toISOString(),
						...stampFields(p.file),
					});
				}
			}
			try {
				await store.append({ embeddings, failures });
			} catch (e) {
				stop("store", message(e));
				return;
			}
			counts.embedded += embeddings.length;
			counts.failed += failures.length;
			for (const f of failures) noteReason(f.error);
			report();
		} finally {
			batchesInFlight--;
			release(items);
			flushIfIdle();
		}
	};

	const convert = async (pool: WorkerPool, file: DiscoveredFile, stamp: FileStamp) => {
		let conv: FileConversion;
		try {
			conv = await pool.convertFile(file.absPath, options.convert, ctrl.signal);
		} catch (e) {
			converting--;
			wake();
			flushIfIdle();
			if (ctrl.signal.aborted) return;
			await recordFailure(stamp, "decode", `conversion failed: ${message(e)}`);
			return;
		}
		converting--;
		await converted(conv, conv.size !== file.size ? { path: stamp.path, absPath: stamp.absPath } : stamp);
	};

	/** A DICOMweb instance: retrieved here (WADO-RS, its own concurrency limit), converted in a worker from the bytes. */
	const convertRemote = async (pool: WorkerPool, client: DicomwebSource, ref: InstanceRef, stamp: FileStamp) => {
		let conv: FileConversion;
		try {
			const bytes = await client.retrieve(ref, ctrl.signal);
			conv = await pool.convertBytes(bytes, ref.path, options.convert, ctrl.signal);
		} catch (e) {
			converting--;
			wake();
			flushIfIdle();
			if (ctrl.signal.aborted) return;
			if (e instanceof DicomwebError && e.fatal) stop("dicomweb", e.message);
			else if (e instanceof DicomwebError) await recordFailure(stamp, "retrieve", e.message);
			else await recordFailure(stamp, "decode", `conversion failed: ${message(e)}`);
			return;
		}
		converting--;
		await converted(conv, stamp);
	};

	/** What follows a conversion, whatever its source: queue the image, or record why there is none. */
	const converted = async (conv: FileConversion, at: FileStamp) => {
		const out = conv.outcome;
		if (out.kind === "image" && conv.sha256) {
			counts.converted++;
			const p: Pending = { key: keys.key(conv.sha256), file: at, sha256: conv.sha256, png: out.png, thumbnail: out.thumbnail, meta: out.meta, ...(out.window ? { window: out.window } : {}) };
			if (!store.hasKey(p.key) && !sending.has(p.key) && !ctrl.signal.aborted) {
				enqueue(p); // synchronously, before flushIfIdle can see an empty pipeline
				wake();
				flushIfIdle();
				return;
			}
			wake();
			flushIfIdle();
			await afterConversion(p);
			return;
		}
		wake();
		flushIfIdle();
		if (out.kind === "skipped") await recordFailure(at, "skipped", out.reason, conv.sha256);
		else if (out.kind === "failed") await recordFailure(at, out.stage, out.error, conv.sha256);
		else await recordFailure(at, "read", "the file could not be hashed while it was read");
	};

	let pool: WorkerPool | undefined;
	let exported: ExportResult | undefined;
	let exportError: string | undefined;
	try {
		const thePool = new WorkerPool({ script: deps.workerScript, size: workers, maxQueue: maxConverting, logger });
		pool = thePool;
		logger.info(
			`Embedding run: ${options.inputs.length} input(s) → ${outDir}; endpoint ${redactUrl(options.endpoint.url)}${options.simulated ? " (simulated)" : ""}; ` +
				`batch ${batchSize}, ${workers} worker(s); ${store.doneKeys} image(s) already done with these settings.`,
		);
		const retry = options.retryFailedOnly ? await readRetryPaths(outDir) : undefined;
		if (retry) logger.info(`Retrying ${retry.size} failed file(s).`);
		const retrySeen = new Set<string>();
		report();
		try {
			if (retry?.size !== 0 && localInputs.length > 0) {
				for await (const item of discover(localInputs, { signal: ctrl.signal, exclude: [outDir] })) {
					if (item.kind === "ignored") {
						counts.ignored++;
						continue;
					}
					const stamp: FileStamp = { path: recordedPath(item.absPath, base), absPath: item.absPath, size: item.size, mtimeMs: item.mtimeMs, source: sourceId(item.absPath, item.ino) };
					if (retry) {
						if (!retry.has(stamp.path) || retrySeen.has(stamp.path)) continue;
						retrySeen.add(stamp.path);
					}
					counts.found++;
					const earlier = store.statusOf(stamp.path, item.size, item.mtimeMs, stamp.source);
					if (earlier) {
						if (earlier === "embedded") counts.alreadyDone++;
						else counts.skipped++;
						report();
						continue;
					}
					if (item.kind === "skipped") {
						await recordFailure(stamp, "skipped", item.reason);
						continue;
					}
					await waitForRoom();
					converting++;
					track(() => convert(thePool, item, stamp));
					report();
					if (retry && retrySeen.size === retry.size) break;
				}
			}
		} catch (e) {
			if (!ctrl.signal.aborted) stop("discovery", `discovery failed: ${message(e)}`);
		}
		if (remoteTargets.length > 0 && retry?.size !== 0 && !(retry && retrySeen.size === retry.size)) {
			const client =
				deps.dicomwebClient ??
				new DicomwebClient({
					...(options.dicomweb?.auth ? { auth: options.dicomweb.auth } : {}),
					retrievalConcurrency: retrievals,
					maxInstanceBytes: (options.convert.maxFileSizeMB || 1024 * 1024) * 1024 * 1024,
					logger,
				});
			for (const target of remoteTargets) {
				if (ctrl.signal.aborted) break;
				try {
					for await (const ref of client.instances(target, ctrl.signal)) {
						const url = `${ref.base}/studies/${ref.studyUid}/series/${ref.seriesUid}/instances/${ref.sopInstanceUid}`;
						// An instance has no size or time of its own: its identity is its URL (the SOP Instance UID on that service).
						const stamp: FileStamp = { path: ref.path, absPath: url, size: 0, mtimeMs: 0, source: sourceId(url, 0), sourceUrl: ref.base };
						if (retry) {
							if (!retry.has(stamp.path) || retrySeen.has(stamp.path)) continue;
							retrySeen.add(stamp.path);
						}
						counts.found++;
						const earlier = store.statusOf(stamp.path, 0, 0, stamp.source);
						if (earlier) {
							if (earlier === "embedded") counts.alreadyDone++;
							else counts.skipped++;
							report();
							continue;
						}
						await waitForRoom();
						converting++;
						track(() => convertRemote(thePool, client, ref, stamp));
						report();
						if (retry && retrySeen.size === retry.size) break;
					}
				} catch (e) {
					if (ctrl.signal.aborted) break;
					const why = e instanceof DicomwebError ? e.message : message(e);
					if (e instanceof DicomwebError && e.fatal) {
						stop("dicomweb", why);
						break;
					}
					// The instances listed so far go on; the run says it is incomplete, and a re-run completes it.
					listingErrors.push(`Could not list ${describeTarget(target)}: ${why} The instances listed before this were processed; run again to complete.`);
					logger.error(listingErrors.at(-1)!);
				}
			}
		}
		discoveryDone = true;
		flushIfIdle();
		report();
		// Drain: conversions, batches and their records (a batch may still be forming).
		while (tasks.size > 0 || batch.length > 0) {
			if (tasks.size === 0) dispatch();
			await Promise.all([...tasks]);
		}
	} finally {
		clearInterval(ticker);
		if (lingerTimer) clearTimeout(lingerTimer);
		statusListener.dispose();
		signal.removeEventListener("abort", onUserAbort);
		await pool?.dispose().catch(() => undefined);
		await store.close();
	}

	try {
		exported = await exportArrays(outDir, { logger, onlyIfStale: true });
	} catch (e) {
		exportError = message(e);
		logger.error(`Cannot write embeddings.npy / index.csv: ${exportError}`);
	}
	if (listingErrors.length > 0 && !fatal) fatal = { code: "dicomweb", message: listingErrors[0]! };
	const cancelled = signal.aborted && !fatal;
	const elapsedMs = Math.round(performance.now() - t0);
	const reasons = [...failureReasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
	for (const r of reasons) logger.error(`${r.count} image(s) failed: ${redactUrlsIn(r.reason)}`);
	const summary: RunSummary = {
		outDir,
		found: counts.found,
		ignored: counts.ignored,
		embedded: counts.embedded,
		alreadyDone: counts.alreadyDone,
		failed: counts.failed,
		skipped: counts.skipped,
		cancelled,
		...(fatal ? { fatal } : {}),
		failureReasons: reasons,
		elapsedMs,
	};
	try {
		await writeRunInfo(outDir, {
			startedAt: startedAt.toISOString(),
			endedAt: new Date().toISOString(),
			durationMs: elapsedMs,
			imagesPerSecond: elapsedMs > 0 ? Math.round((counts.embedded * 1000 * 100) / elapsedMs) / 100 : 0,
			inputs: options.inputs.map((i) => (isDicomwebInput(i) ? describeTarget(parseDicomwebUrl(i)) : path.resolve(i))),
			outDir,
			retryFailedOnly: options.retryFailedOnly === true,
			workers,
			endpoint: recordedEndpoint(options.endpoint, options.simulated),
			convert: { pngCompressionLevel: options.convert.pngCompressionLevel, thumbnailSize: options.convert.thumbnailSize, maxPixels: options.convert.maxPixels, grayscalePng: options.convert.grayscalePng !== false },
			upload: upload.info(),
			config: keys.config,
			counts: { found: counts.found, ignored: counts.ignored, embedded: counts.embedded, alreadyDone: counts.alreadyDone, failed: counts.failed, skipped: counts.skipped },
			cancelled,
			...(fatal ? { fatal } : {}),
			exports: exported ? { rows: exported.rows, dim: exported.dim } : { rows: 0, dim: 0, error: exportError ?? "not written" },
		});
	} catch (e) {
		logger.error(`Cannot write run.json: ${message(e)}`);
	}
	logger.info(
		`Run ${cancelled ? "cancelled" : fatal ? "stopped" : "finished"} in ${(elapsedMs / 1000).toFixed(1)} s: ${counts.embedded} embedded, ${counts.alreadyDone} already done, ` +
			`${counts.failed} failed, ${counts.skipped} skipped, ${counts.ignored} ignored. Results in ${outDir}`,
	);
	report();
	return summary;
}
