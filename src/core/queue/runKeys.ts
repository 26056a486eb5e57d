/**
 * Names of a distributed run: its id, its BullMQ queue, its job ids and its Redis keys.
 *
 * - The run id derives from the output folder and the settings id (ResumeKeys.config: the conversion
 *   settings that change pixels, the endpoint URL and deployment), so submitting the same run again
 *   resumes it, and another output folder or other settings make another run.
 * - A job's id is a hash of the run id and its items (recorded paths and file stamps), so a re-submit
 *   adds no job twice (BullMQ keeps one job per id).
 * - Every key lives under the prefix `mii:`: BullMQ's queues as `mii:run-<id>:…`, the run's own
 *   record as `mii:run:<id>`, the list of runs as `mii:runs`. No key and no value holds a credential.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import type { QueueItem } from "./types";

/** BullMQ's key prefix for the queues of every run. */
export const bullPrefix = "mii";

export function runIdOf(outDir: string, config: string): string {
	return createHash("sha256").update(JSON.stringify({ outDir: path.resolve(outDir), config })).digest("hex").slice(0, 16);
}

/** The BullMQ queue of a run. */
export function queueNameOf(runId: string): string {
	return `run-${runId}`;
}

/** A deterministic job id: the same items of the same run give the same id (never a bare number, no ':'). */
export function jobIdOf(runId: string, items: readonly QueueItem[]): string {
	const h = createHash("sha256").update(runId);
	for (const item of items) {
		h.update("\0");
		h.update(JSON.stringify(item.kind === "dicomweb" ? [item.kind, item.path, item.ref.base] : [item.kind, item.path, item.absPath, item.kind === "file" ? [item.size, item.mtimeMs, item.ino] : item.reason]));
	}
	return `j${h.digest("hex").slice(0, 32)}`;
}

/** The id of the merge job of one submission of a run. */
export function mergeJobIdOf(generation: number): string {
	return `merge-${generation}`;
}

export const redisKeys = Object.freeze({
	/** Sorted set: run id → time of its latest submission (ms). */
	runs: `${bullPrefix}:runs`,
	/** Set: runs whose work is not finished (workers take jobs of these). */
	activeRuns: `${bullPrefix}:runs:active`,
	/** Hash: a run's settings (JSON, never a key) and its counters. */
	run: (runId: string) => `${bullPrefix}:run:${runId}`,
	/** Hash: "<generation>:<job id>" of every job counted in the run's counters (each once, however often it ran). */
	runJobsCounted: (runId: string) => `${bullPrefix}:run:${runId}:counted`,
	/** String with a TTL: held by the `submit` that is enumerating the run. */
	runSubmitLock: (runId: string) => `${bullPrefix}:run:${runId}:submitting`,
	/** String with a TTL: a live worker (JSON: host, pid, runs, started). */
	worker: (workerId: string) => `${bullPrefix}:worker:${workerId}`,
	workerPattern: `${bullPrefix}:worker:*`,
});
