/**
 * The append-only results store of one output folder (PRODUCT.md §4): embeddings.jsonl,
 * failures.jsonl and thumbnails/. Every record is appended and made durable (write + fdatasync)
 * before `append` resolves; appends that arrive while a sync is under way are written together by
 * the next one (group commit), so a crash loses at most what was in flight, without one fsync per
 * line. Opening streams the existing files to build the resume index (keys and file stamps only,
 * never embeddings) and cuts off a last line torn by a crash. One writer per folder: an atomically
 * created lock file names the process; a lock left by a dead process is taken over (outputLock.ts).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../util/logger";
import { nullLogger } from "../util/logger";
import { parseRecordHead, readLines, type LineScanInfo } from "./jsonLines";
import { acquireLock, LockBusyError, releaseLock } from "./outputLock";
import { resultFiles, type EmbeddingRecord, type FailureRecord } from "./types";

export interface ResultsStoreOptions {
	/** Config id of the current settings (ResumeKeys.config): only records made with it count as done. */
	config: string;
	logger?: Logger;
}

/** What opening found in the existing files. */
export interface StoreLoadInfo {
	embeddings: number;
	failures: number;
	/** Torn last lines cut off (0–2). */
	torn: number;
	/** Lines that were not records, ignored. */
	corrupt: number;
}

/** Earlier outcome of an unchanged file with the current settings. */
export type FileStatus = "embedded" | "skipped" | undefined;

/** In-memory form of a key: 128 bits of the hex sha256 are plenty and halve the index. */
function memo(key: string): string {
	return key.length > 32 ? key.slice(0, 32) : key;
}

/** The resume stamp of a file: settings, recorded path, size, mtime and identity, hashed (also used by the queue's index of what is done). */
export function stampOf(config: string, relPath: string, size: number, mtimeMs: number, source: string | undefined): string {
	return createHash("sha256").update(`${config}\0${relPath}\0${size}\0${mtimeMs}\0${source ?? ""}`).digest("base64").slice(0, 22);
}

/**
 * Formats float32 values with 9 significant digits, which round-trip every float32 exactly (parse,
 * then Math.fround) in ~14 characters instead of the ~21 of the shortest double. toPrecision's text
 * ("0.0123456789", "-1.23456789e-7") is valid JSON as it is.
 */
function formatEmbedding(values: ArrayLike<number>): string {
	let s = "[";
	for (let i = 0; i < values.length; i++) {
		const v = values[i]!;
		if (!Number.isFinite(v)) throw new Error(`embedding value ${i} is not a finite number`);
		if (i > 0) s += ",";
		s += v.toPrecision(9);
	}
	return s + "]";
}

/** One embeddings.jsonl line: the fields in order, the embedding last (loading reads only what is before it). */
export function serializeEmbeddingRecord(record: EmbeddingRecord): string {
	const { embedding, ...head } = record;
	const json = JSON.stringify(head);
	return `${json.slice(0, -1)}${json.length > 2 ? "," : ""}"embedding":${formatEmbedding(embedding)}}\n`;
}

/** The disk refused a write: the store is broken and the run must stop (its records so far are safe). */
export class ResultsStoreError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "ResultsStoreError";
	}
}

interface Waiter {
	resolve: () => void;
	reject: (e: Error) => void;
}

export class ResultsStore {
	readonly embeddingsFile: string;
	readonly failuresFile: string;
	private readonly keyOffsets = new Map<string, number>();
	private readonly stamps = new Map<string, "e" | "s">();
	private pendingEmbeddings: { line: string; record: EmbeddingRecord }[] = [];
	private pendingFailures: { line: string; record: FailureRecord }[] = [];
	private waiters: Waiter[] = [];
	private flushing: Promise<void> | undefined;
	private broken: Error | undefined;
	private closed = false;
	private thumbnailsReady = false;

	private constructor(
		readonly outDir: string,
		private readonly config: string,
		private readonly logger: Logger,
		private readonly embeddingsHandle: fs.promises.FileHandle,
		private readonly failuresHandle: fs.promises.FileHandle,
		private embeddingsSize: number,
		readonly loaded: StoreLoadInfo,
	) {
		this.embeddingsFile = path.join(outDir, resultFiles.embeddings);
		this.failuresFile = path.join(outDir, resultFiles.failures);
	}

	/** Opens (creating if needed) the store in `outDir`, takes its lock and loads the resume index. */
	static async open(outDir: string, options: ResultsStoreOptions): Promise<ResultsStore> {
		const logger = options.logger ?? nullLogger;
		const dir = path.resolve(outDir);
		await fs.promises.mkdir(dir, { recursive: true });
		await takeLock(dir);
		const handles: fs.promises.FileHandle[] = [];
		try {
			const loaded: StoreLoadInfo = { embeddings: 0, failures: 0, torn: 0, corrupt: 0 };
			const keyOffsets = new Map<string, number>();
			const stamps = new Map<string, "e" | "s">();
			const embFile = path.join(dir, resultFiles.embeddings);
			const failFile = path.join(dir, resultFiles.failures);

			const embInfo: LineScanInfo = { oversized: 0 };
			for await (const line of readLines(embFile, embInfo)) {
				const r = parseRecordHead(line.bytes);
				if (!r) {
					loaded.corrupt++;
					continue;
				}
				loaded.embeddings++;
				const h = r.head;
				if (h.config !== undefined && h.config !== options.config) continue;
				keyOffsets.set(memo(h.key), line.offset);
				if (h.config !== undefined && typeof h.size === "number" && typeof h.mtimeMs === "number") {
					stamps.set(stampOf(options.config, h.path, h.size, h.mtimeMs, h.source), "e");
				}
			}
			const failInfo: LineScanInfo = { oversized: 0 };
			for await (const line of readLines(failFile, failInfo)) {
				let f: Partial<FailureRecord>;
				try {
					f = JSON.parse(line.bytes.toString("utf8")) as Partial<FailureRecord>;
				} catch {
					loaded.corrupt++;
					continue;
				}
				if (typeof f !== "object" || f === null || typeof f.path !== "string" || typeof f.stage !== "string") {
					loaded.corrupt++;
					continue;
				}
				loaded.failures++;
				if (f.stage === "skipped" && f.config === options.config && typeof f.size === "number" && typeof f.mtimeMs === "number") {
					const stamp = stampOf(options.config, f.path, f.size, f.mtimeMs, f.source);
					if (!stamps.has(stamp)) stamps.set(stamp, "s");
				}
			}
			loaded.corrupt += embInfo.oversized + failInfo.oversized;
			for (const [file, info] of [
				[embFile, embInfo],
				[failFile, failInfo],
			] as const) {
				if (info.tornAt === undefined) continue;
				await fs.promises.truncate(file, info.tornAt);
				loaded.torn++;
				logger.warn(`Dropped an incomplete last line of ${path.basename(file)} (an earlier run was interrupted while writing it).`);
			}
			if (loaded.corrupt > 0) logger.warn(`Ignored ${loaded.corrupt} unreadable line(s) in the results files of ${dir}.`);

			const emb = await fs.promises.open(embFile, "a+");
			handles.push(emb);
			const fail = await fs.promises.open(failFile, "a");
			handles.push(fail);
			const size = (await emb.stat()).size;
			const store = new ResultsStore(dir, options.config, logger, emb, fail, size, loaded);
			for (const [k, v] of keyOffsets) store.keyOffsets.set(k, v);
			for (const [k, v] of stamps) store.stamps.set(k, v);
			logger.debug(`Results store ${dir}: ${loaded.embeddings} embedding(s), ${loaded.failures} failure record(s), ${keyOffsets.size} key(s) done with these settings.`);
			return store;
		} catch (e) {
			for (const h of handles) await h.close().catch(() => undefined);
			await releaseDirLock(dir);
			throw e;
		}
	}

	/** Outcome of an earlier run for this file if it is unchanged (same path, size, mtime, identity) and the settings are the same. */
	statusOf(relPath: string, size: number, mtimeMs: number, source?: string): FileStatus {
		const s = this.stamps.get(stampOf(this.config, relPath, size, mtimeMs, source));
		return s === "e" ? "embedded" : s === "s" ? "skipped" : undefined;
	}

	/** True when an image with this resume key is already in embeddings.jsonl (durably). */
	hasKey(key: string): boolean {
		return this.keyOffsets.has(memo(key));
	}

	/** Number of distinct keys done with the current settings. */
	get doneKeys(): number {
		return this.keyOffsets.size;
	}

	/** Reads back the record of a key that is done (one positioned read; nothing is cached). */
	async readByKey(key: string): Promise<EmbeddingRecord | undefined> {
		const offset = this.keyOffsets.get(memo(key));
		if (offset === undefined) return undefined;
		const parts: Buffer[] = [];
		let pos = offset;
		for (;;) {
			const buf = Buffer.allocUnsafe(64 * 1024);
			const { bytesRead } = await this.embeddingsHandle.read(buf, 0, buf.length, pos);
			if (bytesRead === 0) break;
			const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
			if (nl >= 0) {
				parts.push(buf.subarray(0, nl));
				break;
			}
			parts.push(buf.subarray(0, bytesRead));
			pos += bytesRead;
		}
		try {
			const r = JSON.parse(Buffer.concat(parts).toString("utf8")) as EmbeddingRecord;
			return r.key === key ? r : undefined;
		} catch {
			return undefined;
		}
	}

	/** Saves a thumbnail PNG as thumbnails/<sha256 prefix>.png; returns that path relative to the output folder. */
	async saveThumbnail(sha256: string, png: Uint8Array): Promise<string> {
		const rel = `${resultFiles.thumbnails}/${sha256.slice(0, 20)}.png`;
		if (!this.thumbnailsReady) {
			await fs.promises.mkdir(path.join(this.outDir, resultFiles.thumbnails), { recursive: true });
			this.thumbnailsReady = true;
		}
		await fs.promises.writeFile(path.join(this.outDir, rel), png);
		return rel;
	}

	/**
	 * Appends records; resolves once they are on disk (written and fdatasync'ed). Records passed in
	 * one call are written by one write per file. Rejects when the disk refuses (the store is then
	 * broken: every later append rejects too).
	 */
	append(records: { embeddings?: readonly EmbeddingRecord[]; failures?: readonly FailureRecord[] }): Promise<void> {
		if (this.broken) return Promise.reject(this.broken);
		if (this.closed) return Promise.reject(new Error("The results store is closed."));
		let embeddings: { line: string; record: EmbeddingRecord }[];
		try {
			embeddings = (records.embeddings ?? []).map((record) => ({ line: serializeEmbeddingRecord(record), record }));
		} catch (e) {
			return Promise.reject(e instanceof Error ? e : new Error(String(e)));
		}
		this.pendingEmbeddings.push(...embeddings);
		for (const record of records.failures ?? []) this.pendingFailures.push({ line: JSON.stringify(record) + "\n", record });
		return new Promise<void>((resolve, reject) => {
			this.waiters.push({ resolve, reject });
			if (!this.flushing) this.flushing = this.flushLoop();
		});
	}

	private async flushLoop(): Promise<void> {
		try {
			while (this.waiters.length > 0) {
				const waiters = this.waiters;
				const embeddings = this.pendingEmbeddings;
				const failures = this.pendingFailures;
				this.waiters = [];
				this.pendingEmbeddings = [];
				this.pendingFailures = [];
				try {
					if (this.broken) throw this.broken;
					if (embeddings.length > 0) {
						const buf = Buffer.from(embeddings.map((e) => e.line).join(""), "utf8");
						await writeAll(this.embeddingsHandle, buf);
						await this.embeddingsHandle.datasync();
						let offset = this.embeddingsSize;
						for (const { line, record } of embeddings) {
							if (record.config === undefined || record.config === this.config) {
								this.keyOffsets.set(memo(record.key), offset);
								if (typeof record.size === "number" && typeof record.mtimeMs === "number") {
									this.stamps.set(stampOf(this.config, record.path, record.size, record.mtimeMs, record.source), "e");
								}
							}
							offset += Buffer.byteLength(line, "utf8");
						}
						this.embeddingsSize += buf.length;
					}
					if (failures.length > 0) {
						await writeAll(this.failuresHandle, Buffer.from(failures.map((f) => f.line).join(""), "utf8"));
						await this.failuresHandle.datasync();
						for (const { record } of failures) {
							if (record.stage === "skipped" && record.config === this.config && typeof record.size === "number" && typeof record.mtimeMs === "number") {
								const stamp = stampOf(this.config, record.path, record.size, record.mtimeMs, record.source);
								if (!this.stamps.has(stamp)) this.stamps.set(stamp, "s");
							}
						}
					}
					for (const w of waiters) w.resolve();
				} catch (e) {
					const err = e instanceof Error ? e : new Error(String(e));
					if (!this.broken) {
						this.broken = new ResultsStoreError(`Cannot write the results in ${this.outDir}: ${err.message}`);
						this.logger.error(this.broken.message);
					}
					for (const w of waiters) w.reject(this.broken);
				}
			}
		} finally {
			this.flushing = undefined;
		}
	}

	/** Waits for pending appends, closes the files and releases the lock. Idempotent. */
	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		while (this.flushing) await this.flushing;
		await this.embeddingsHandle.close().catch(() => undefined);
		await this.failuresHandle.close().catch(() => undefined);
		await releaseDirLock(this.outDir);
	}
}

async function writeAll(handle: fs.promises.FileHandle, buf: Buffer): Promise<void> {
	let done = 0;
	while (done < buf.length) {
		const { bytesWritten } = await handle.write(buf, done, buf.length - done, null);
		done += bytesWritten;
	}
}

async function takeLock(dir: string): Promise<void> {
	try {
		await acquireLock(path.join(dir, resultFiles.lock));
	} catch (e) {
		if (e instanceof LockBusyError) throw new Error(`Another run is writing to ${dir} (${e.message}); wait for it to end or cancel it.`);
		throw new Error(`Cannot write to the output folder ${dir}: ${(e as Error).message}`);
	}
}

async function releaseDirLock(dir: string): Promise<void> {
	await releaseLock(path.join(dir, resultFiles.lock));
}
