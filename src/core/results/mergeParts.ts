/**
 * The final files of a distributed run (PRODUCT.md §8): every queue worker appends to its own part,
 * `<out>/parts/<worker-id>/` (a normal results folder: embeddings.jsonl, failures.jsonl,
 * thumbnails/); this merge writes the output folder's own embeddings.jsonl, failures.jsonl,
 * embeddings.npy, index.csv and thumbnails/ from the parts and from what the folder already held (an
 * earlier local run, an earlier merge), so that the folder has exactly the files and guarantees of a
 * local run (§4) and opens in the results view like any other.
 *
 * - Exactly one embedding record per path: BullMQ delivers at least once, so an image may have been
 *   embedded twice (two workers, a stalled job run again); the latest record of a path wins (by its
 *   `time`, then by source order: the folder's own file first, then the parts by name).
 * - One failure record per path (its latest), and none for a path embedded with the same settings
 *   (`config`) or embedded after the failure: a failure superseded by an embedding is dropped. A
 *   failure recorded after an embedding made with other settings is kept, as the results view shows it.
 * - One vector length per folder (the folder's own, else the commonest): an image whose vector has
 *   another length (workers each accept the first length their endpoint answers) becomes a failure
 *   with that reason, so that every image is either in embeddings.npy or failed, never in between.
 * - Streaming: two passes over every file; only paths, times and line numbers are held, never
 *   embeddings. The new files are written beside their final names, synced and renamed into place, so a
 *   crash mid-merge leaves the previous ones; running the merge again gives the same files (idempotent).
 * - The output folder's lock is held while merging (a local run writing there meanwhile is refused).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../util/logger";
import { nullLogger } from "../util/logger";
import { exportArrays, type ExportResult } from "./exportArrays";
import { embeddingLength, parseRecordHead, readLines } from "./jsonLines";
import { acquireLock, LockBusyError, releaseLock } from "./outputLock";
import { writeRunInfo, type RunInfo } from "./runInfo";
import { serializeEmbeddingRecord } from "./store";
import { resultFiles, type EmbeddingRecord, type FailureRecord } from "./types";

/** The folder under the output folder that holds one part per queue worker. */
export const partsFolder = "parts";

/** What each worker's part contributed to the merged files. */
export interface PartContribution {
	/** The part's folder name (the worker id). */
	id: string;
	embedded: number;
	failed: number;
	skipped: number;
}

export interface MergeResult {
	/** Records in the merged files: one per path. */
	embedded: number;
	failed: number;
	skipped: number;
	/** Embedding records left out because the same path had a later (or earlier-listed identical) record. */
	duplicates: number;
	/** Failure records left out: superseded by an embedding of the path, or by a later failure of it. */
	supersededFailures: number;
	/** Per part (sorted by id); the folder's own earlier records are not listed. */
	parts: PartContribution[];
	exports: ExportResult;
}

/** Run information the merge writes to run.json with its counts (settings, inputs, timings: never a key). */
export type MergedRunInfo = Omit<RunInfo, "format" | "product" | "node" | "platform" | "counts" | "exports" | "queue"> & {
	counts: Pick<RunInfo["counts"], "found" | "ignored" | "alreadyDone">;
	queue: Omit<NonNullable<RunInfo["queue"]>, "parts">;
};

export interface MergeOptions {
	logger?: Logger;
	signal?: AbortSignal;
	/** When given, run.json is written with these fields and the merged counts. */
	run?: MergedRunInfo;
}

interface Source {
	/** Folder holding the files (the output folder itself, or a part). */
	dir: string;
	/** Part id, or undefined for the output folder's own files. */
	part?: string;
}

interface Winner {
	source: number;
	line: number;
	time: string;
	config: string | undefined;
	/** Embedding length (embeddings only). */
	dim?: number;
}

/** The parts of an output folder (sorted by name): folders under parts/ that hold a results file. */
export async function listParts(outDir: string): Promise<string[]> {
	let names: string[];
	try {
		names = await fs.promises.readdir(path.join(outDir, partsFolder));
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
		throw e;
	}
	const parts: string[] = [];
	for (const name of names.sort()) {
		const dir = path.join(outDir, partsFolder, name);
		const has = await Promise.all([resultFiles.embeddings, resultFiles.failures].map((f) => fs.promises.access(path.join(dir, f)).then(() => true, () => false)));
		if (has.some(Boolean)) parts.push(name);
	}
	return parts;
}

function later(time: string, than: string): boolean {
	return time > than;
}

/** The vector length of a folder: its own file's first record's, else the commonest among the winners (0 when none). */
function expectedDim(winners: Map<string, Winner>): number {
	const counts = new Map<number, number>();
	let own: { line: number; dim: number } | undefined;
	for (const w of winners.values()) {
		const d = w.dim ?? 0;
		if (d === 0) continue;
		if (w.source === 0 && (!own || w.line < own.line)) own = { line: w.line, dim: d };
		counts.set(d, (counts.get(d) ?? 0) + 1);
	}
	if (own) return own.dim;
	let best = 0;
	let most = 0;
	for (const [d, n] of counts) {
		if (n > most) {
			best = d;
			most = n;
		}
	}
	return best;
}

/** Copies a part's thumbnail into the output folder's thumbnails/ (a hard link when possible); false when it is missing. */
async function adoptThumbnail(outDir: string, partDir: string, rel: string, done: Set<string>): Promise<boolean> {
	if (done.has(rel)) return true;
	// Only plain thumbnails/<name>.png paths inside the part are taken (records are data, not trusted paths).
	if (!/^thumbnails\/[A-Za-z0-9._-]+\.png$/.test(rel)) return false;
	const from = path.join(partDir, rel);
	const to = path.join(outDir, rel);
	try {
		await fs.promises.link(from, to);
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		if (code === "ENOENT") return false;
		if (code !== "EEXIST") {
			try {
				await fs.promises.copyFile(from, to);
			} catch {
				return false;
			}
		}
	}
	done.add(rel);
	return true;
}

async function writeAndSync(file: string, chunks: AsyncIterable<Buffer>): Promise<void> {
	const handle = await fs.promises.open(file, "w");
	try {
		let pending: Buffer[] = [];
		let size = 0;
		const flush = async () => {
			const buf = Buffer.concat(pending);
			pending = [];
			size = 0;
			let done = 0;
			while (done < buf.length) done += (await handle.write(buf, done, buf.length - done)).bytesWritten;
		};
		for await (const c of chunks) {
			pending.push(c);
			size += c.length;
			if (size >= 1024 * 1024) await flush();
		}
		if (size > 0) await flush();
		await handle.datasync();
	} finally {
		await handle.close();
	}
}

/**
 * Merges the parts of `outDir` into its final files (see the file comment). Resolves with what the
 * merged files hold. Throws when another process holds the output folder's lock.
 */
export async function mergeParts(outDir: string, options: MergeOptions = {}): Promise<MergeResult> {
	const logger = options.logger ?? nullLogger;
	const dir = path.resolve(outDir);
	const lockFile = path.join(dir, resultFiles.lock);
	try {
		await acquireLock(lockFile);
	} catch (e) {
		if (e instanceof LockBusyError) throw new Error(`Cannot merge the results in ${dir}: another run is writing there (${e.message}).`);
		throw e;
	}
	try {
		return await mergeLocked(dir, options, logger);
	} finally {
		await releaseLock(lockFile);
	}
}

async function mergeLocked(dir: string, options: MergeOptions, logger: Logger): Promise<MergeResult> {
	const signal = options.signal;
	const parts = await listParts(dir);
	const sources: Source[] = [{ dir }, ...parts.map((p) => ({ dir: path.join(dir, partsFolder, p), part: p }))];
	// Each source is read up to the size it had when the merge began (a worker may still append).
	const ends = await Promise.all(
		sources.map(async (s) => ({
			embeddings: (await fs.promises.stat(path.join(s.dir, resultFiles.embeddings)).catch(() => undefined))?.size ?? 0,
			failures: (await fs.promises.stat(path.join(s.dir, resultFiles.failures)).catch(() => undefined))?.size ?? 0,
		})),
	);

	// Pass 1: the winning record of each path.
	const embedded = new Map<string, Winner>();
	let embeddingLines = 0;
	for (let s = 0; s < sources.length; s++) {
		for await (const line of readLines(path.join(sources[s]!.dir, resultFiles.embeddings), { oversized: 0 }, ends[s]!.embeddings)) {
			signal?.throwIfAborted();
			const r = parseRecordHead(line.bytes);
			if (!r) continue;
			embeddingLines++;
			const time = typeof r.head.time === "string" ? r.head.time : "";
			const had = embedded.get(r.head.path);
			if (!had || later(time, had.time)) embedded.set(r.head.path, { source: s, line: line.index, time, config: r.head.config, dim: embeddingLength(r) });
		}
	}
	// One vector length per folder: the folder's own first one, else the commonest among the parts'.
	// Workers accept the first length their endpoint answers, so a hostile endpoint could give parts
	// different lengths: an image whose vector has another length is a failure with that reason.
	const dim = expectedDim(embedded);
	const misfits = new Set<string>();
	for (const [p, w] of embedded) {
		if (w.dim !== dim) {
			misfits.add(p);
			embedded.delete(p);
		}
	}
	const failedAt = new Map<string, Winner & { stage: string }>();
	let failureLines = 0;
	/** The well-formed failure records of source `s` (path and stage present), with their line index and bytes. */
	async function* failureLinesOf(s: number): AsyncGenerator<{ f: FailureRecord; index: number; bytes: Uint8Array }> {
		for await (const line of readLines(path.join(sources[s]!.dir, resultFiles.failures), { oversized: 0 }, ends[s]!.failures)) {
			signal?.throwIfAborted();
			let f: Partial<FailureRecord>;
			try {
				f = JSON.parse(line.bytes.toString("utf8")) as Partial<FailureRecord>;
			} catch {
				continue;
			}
			if (typeof f !== "object" || f === null || typeof f.path !== "string" || typeof f.stage !== "string") continue;
			yield { f: f as FailureRecord, index: line.index, bytes: line.bytes };
		}
	}
	for (let s = 0; s < sources.length; s++) {
		for await (const { f, index } of failureLinesOf(s)) {
			failureLines++;
			const time = typeof f.time === "string" ? f.time : "";
			const had = failedAt.get(f.path);
			if (!had || !later(had.time, time)) failedAt.set(f.path, { source: s, line: index, time, config: f.config, stage: f.stage });
		}
	}
	for (const p of misfits) failedAt.delete(p);
	for (const [p, f] of failedAt) {
		const e = embedded.get(p);
		if (e && ((e.config !== undefined && e.config === f.config) || !later(f.time, e.time))) failedAt.delete(p);
	}

	// Pass 2: the winning lines, source by source, in file order.
	const contributions = sources.map((s) => ({ id: s.part ?? "", embedded: 0, failed: 0, skipped: 0 }));
	const misfitFailures: string[] = [];
	const thumbnails = new Set<string>();
	let thumbnailsReady = false;
	let missingThumbnails = 0;
	async function* embeddingChunks(): AsyncGenerator<Buffer> {
		for (let s = 0; s < sources.length; s++) {
			const src = sources[s]!;
			for await (const line of readLines(path.join(src.dir, resultFiles.embeddings), { oversized: 0 }, ends[s]!.embeddings)) {
				signal?.throwIfAborted();
				const r = parseRecordHead(line.bytes);
				if (!r) continue;
				if (misfits.has(r.head.path)) {
					misfits.delete(r.head.path); // the first line seen stands for the path (one failure per path)
					const h = r.head;
					const failure: FailureRecord = {
						path: h.path,
						stage: "embed",
						error: `the endpoint returned a vector of ${embeddingLength(r)} numbers, expected ${dim} like the other images of this folder`,
						sha256: h.sha256,
						key: h.key,
						time: h.time,
						...(typeof h.size === "number" && typeof h.mtimeMs === "number" ? { size: h.size, mtimeMs: h.mtimeMs } : {}),
						...(h.source ? { source: h.source } : {}),
						...(h.sourceUrl ? { sourceUrl: h.sourceUrl } : {}),
						...(h.config ? { config: h.config } : {}),
					};
					misfitFailures.push(JSON.stringify(failure) + "\n");
					contributions[s]!.failed++;
					continue;
				}
				const w = embedded.get(r.head.path);
				if (!w || w.source !== s || w.line !== line.index) continue;
				contributions[s]!.embedded++;
				let bytes = Buffer.from(line.bytes);
				if (src.part !== undefined && typeof r.head.thumbnail === "string") {
					if (!thumbnailsReady) {
						await fs.promises.mkdir(path.join(dir, resultFiles.thumbnails), { recursive: true });
						thumbnailsReady = true;
					}
					if (!(await adoptThumbnail(dir, src.dir, r.head.thumbnail, thumbnails))) {
						// The record must not point at a file the folder does not have.
						missingThumbnails++;
						const record = JSON.parse(bytes.toString("utf8")) as EmbeddingRecord;
						delete record.thumbnail;
						bytes = Buffer.from(serializeEmbeddingRecord(record).slice(0, -1), "utf8");
					}
				}
				yield bytes;
				yield Buffer.from("\n");
			}
		}
	}
	async function* failureChunks(): AsyncGenerator<Buffer> {
		for (let s = 0; s < sources.length; s++) {
			for await (const { f, index, bytes } of failureLinesOf(s)) {
				const w = failedAt.get(f.path);
				if (!w || w.source !== s || w.line !== index) continue;
				if (w.stage === "skipped") contributions[s]!.skipped++;
				else contributions[s]!.failed++;
				yield Buffer.from(bytes);
				yield Buffer.from("\n");
			}
		}
		if (misfitFailures.length > 0) yield Buffer.from(misfitFailures.join(""), "utf8");
	}
	const embFile = path.join(dir, resultFiles.embeddings);
	const failFile = path.join(dir, resultFiles.failures);
	try {
		await writeAndSync(`${embFile}.merge.tmp`, embeddingChunks());
		await writeAndSync(`${failFile}.merge.tmp`, failureChunks());
	} catch (e) {
		await fs.promises.rm(`${embFile}.merge.tmp`, { force: true });
		await fs.promises.rm(`${failFile}.merge.tmp`, { force: true });
		throw e;
	}
	await fs.promises.rename(`${embFile}.merge.tmp`, embFile);
	await fs.promises.rename(`${failFile}.merge.tmp`, failFile);
	if (misfitFailures.length > 0) logger.warn(`${misfitFailures.length} image(s) have a vector of another length than ${dim}: recorded as failed.`);
	if (missingThumbnails > 0) logger.warn(`${missingThumbnails} thumbnail(s) named by the parts were missing; those images have no thumbnail.`);

	const exported = await exportArrays(dir, { logger, ...(signal ? { signal } : {}) });
	const total = contributions.reduce((a, c) => ({ embedded: a.embedded + c.embedded, failed: a.failed + c.failed, skipped: a.skipped + c.skipped }), { embedded: 0, failed: 0, skipped: 0 });
	const result: MergeResult = {
		...total,
		duplicates: embeddingLines - total.embedded - misfitFailures.length,
		supersededFailures: failureLines - total.failed - total.skipped,
		parts: contributions.slice(1),
		exports: exported,
	};
	logger.info(
		`Merged ${parts.length} part(s) into ${dir}: ${result.embedded} embedded, ${result.failed} failed, ${result.skipped} skipped; ` +
			`${result.duplicates} duplicate embedding record(s) and ${result.supersededFailures} superseded failure record(s) left out.`,
	);
	if (options.run) {
		const run = options.run;
		await writeRunInfo(dir, {
			...run,
			workers: run.workers || result.parts.length,
			counts: { ...run.counts, embedded: result.embedded, failed: result.failed, skipped: result.skipped },
			exports: { rows: exported.rows, dim: exported.dim },
			queue: { ...run.queue, parts: result.parts },
		});
	}
	return result;
}
