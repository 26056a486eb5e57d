/**
 * The Convert stage: a work item's stamp (the file's stat, taken when the pipeline takes the item),
 * then its conversion in the worker pool — a local file read by the worker, a DICOMweb instance
 * retrieved here (WADO-RS, with the DICOMweb client's own concurrency limit) and converted from its
 * bytes. A file that vanished, is no longer a regular file, or changed size between its stat and its
 * read ends as a failure with the reason, never as a result.
 */
import * as fs from "node:fs";
import type { ConvertOptions } from "../dicom/types";
import { sourceId } from "../results/resumeKey";
import { DicomwebError } from "../sources/dicomweb/client";
import type { DicomwebSource, InstanceRef } from "../sources/dicomweb/types";
import { listedStat } from "../sources/folderSource";
import type { FileStamp } from "./recorder";
import type { FileConversion, WorkItem } from "./types";
import type { WorkerPool } from "./workerPool";

/** A work item's stamp, or why it cannot be taken (recorded as a failure of stage "read"). */
export type Stamped = { stamp: FileStamp; failure?: undefined } | { stamp: FileStamp; failure: { stage: string; error: string } };

/** What converting one item gave: a conversion, a failure with its stage and reason, or a fatal refusal of the DICOMweb source. */
export type ConvertResult =
	| { kind: "converted"; conv: FileConversion; stamp: FileStamp }
	/** `stamp`, when set, replaces the item's (a file that changed is recorded unstamped: the next run reads it again). */
	| { kind: "failed"; stage: string; error: string; stamp?: FileStamp }
	| { kind: "fatal"; code: string; message: string };

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

/** The URL of a DICOMweb instance (its identity: an instance has no size or time of its own). */
export function instanceUrl(ref: InstanceRef): string {
	return `${ref.base}/studies/${ref.studyUid}/series/${ref.seriesUid}/instances/${ref.sopInstanceUid}`;
}

/**
 * Takes the stamp of a work item: stat of a file (following links), lstat of a skipped link, the
 * URL of an instance. An item that the folder walk of this process just yielded carries the stat
 * the walk took: it is used as it is (one stat per file in a local run).
 */
export async function stampWorkItem(item: WorkItem): Promise<Stamped> {
	if (item.kind === "dicomweb") {
		const url = instanceUrl(item.ref);
		return { stamp: { path: item.path, absPath: url, size: 0, mtimeMs: 0, source: sourceId(url, 0), sourceUrl: item.ref.base } };
	}
	const listed = listedStat(item);
	if (listed) return { stamp: { path: item.path, absPath: item.absPath, size: listed.size, mtimeMs: listed.mtimeMs, source: sourceId(item.absPath, listed.ino) } };
	if (item.kind === "skipped") {
		const s = await fs.promises.lstat(item.absPath).catch(() => undefined);
		return { stamp: { path: item.path, absPath: item.absPath, size: s?.size ?? 0, mtimeMs: s?.mtimeMs ?? 0, source: sourceId(item.absPath, s?.ino ?? 0) } };
	}
	let s: fs.Stats;
	try {
		s = await fs.promises.stat(item.absPath);
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		if (code === "ENOENT" || code === "ENOTDIR") {
			return { stamp: { path: item.path, absPath: item.absPath }, failure: { stage: "read", error: "the file is gone: it was listed, then removed or renamed before it was read" } };
		}
		// Unreadable metadata: stamped as such (the worker's read gives the reason), so a re-run does not record it again.
		return { stamp: { path: item.path, absPath: item.absPath, size: 0, mtimeMs: 0, source: sourceId(item.absPath, 0) } };
	}
	if (!s.isFile()) {
		return { stamp: { path: item.path, absPath: item.absPath }, failure: { stage: "read", error: `no longer a regular file (now ${s.isDirectory() ? "a folder" : "something else"}): it changed after it was listed` } };
	}
	return { stamp: { path: item.path, absPath: item.absPath, size: s.size, mtimeMs: s.mtimeMs, source: sourceId(item.absPath, s.ino) } };
}

export class Converter {
	constructor(
		private readonly pool: WorkerPool,
		private readonly options: ConvertOptions,
		/** The DICOMweb client that retrieves instances (made on first use). */
		private readonly dicomweb: () => DicomwebSource,
	) {}

	/**
	 * Converts one item (never a skipped one). Rejects only with an AbortError when `signal` aborts
	 * (or the pool is disposed); every other problem is a result.
	 */
	async convert(item: Exclude<WorkItem, { kind: "skipped" }>, stamp: FileStamp, signal: AbortSignal): Promise<ConvertResult> {
		if (item.kind === "file") {
			let conv: FileConversion;
			try {
				conv = await this.pool.convertFile(item.absPath, this.options, signal);
			} catch (e) {
				if (signal.aborted) throw e;
				return { kind: "failed", stage: "decode", error: `conversion failed: ${message(e)}` };
			}
			// The worker read another size than the stat said: the file changed while it was processed.
			if (stamp.size !== undefined && stamp.size > 0 && conv.size !== stamp.size && conv.outcome.kind === "image") {
				return {
					kind: "failed",
					stage: "read",
					error: `the file changed while it was read (${stamp.size} bytes when listed, ${conv.size} when read): run again to embed it`,
					stamp: { path: stamp.path, absPath: stamp.absPath },
				};
			}
			return { kind: "converted", conv, stamp: conv.size !== stamp.size ? { path: stamp.path, absPath: stamp.absPath } : stamp };
		}
		try {
			const bytes = await this.dicomweb().retrieve(item.ref, signal);
			const conv = await this.pool.convertBytes(bytes, item.ref.path, this.options, signal);
			return { kind: "converted", conv, stamp };
		} catch (e) {
			if (signal.aborted) throw e;
			if (e instanceof DicomwebError && e.fatal) return { kind: "fatal", code: "dicomweb", message: e.message };
			if (e instanceof DicomwebError) return { kind: "failed", stage: "retrieve", error: e.message };
			return { kind: "failed", stage: "decode", error: `conversion failed: ${message(e)}` };
		}
	}
}
