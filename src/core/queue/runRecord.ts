/**
 * A distributed run's record in Redis (hash `mii:run:<id>`): its settings (JSON, never a key), the
 * current submission (generation), and counters that every process updates atomically:
 *   meta, generation, enumeratedGeneration, mergedGeneration, cancelledGeneration,
 *   found, queued, jobs, alreadyDoneAtSubmit, ignored            (written by submit)
 *   items, embedded, alreadyDone, failed, skipped, jobsDone      (added once per job by the workers)
 *   fatal, merge, mergeError                                     (JSON)
 */
import type { Redis } from "ioredis";
import { redisKeys } from "./runKeys";
import type { JobCounts, QueueRunMeta, RunFatal, RunMergeSummary } from "./types";

export interface RunRecord {
	meta: QueueRunMeta;
	generation: number;
	enumeratedGeneration: number;
	mergedGeneration: number;
	cancelledGeneration: number;
	/** Items found by the submissions (done or not), queued in jobs, and jobs added (cumulative). */
	found: number;
	queued: number;
	jobs: number;
	alreadyDoneAtSubmit: number;
	ignored: number;
	/** Added by the workers, once per job. */
	done: JobCounts & { jobs: number };
	fatal?: RunFatal;
	merge?: RunMergeSummary;
	mergeError?: string;
	/** When the current submission began (ms since epoch). */
	submittedAt: number;
}

function int(v: string | undefined): number {
	const n = Number(v);
	return Number.isFinite(n) ? n : 0;
}

function json<T>(v: string | undefined): T | undefined {
	if (v === undefined) return undefined;
	try {
		return JSON.parse(v) as T;
	} catch {
		return undefined;
	}
}

export async function readRunRecord(redis: Redis, runId: string): Promise<RunRecord | undefined> {
	const h = await redis.hgetall(redisKeys.run(runId));
	const meta = json<QueueRunMeta>(h["meta"]);
	if (!meta) return undefined;
	const fatal = json<RunFatal>(h["fatal"]);
	const merge = json<RunMergeSummary>(h["merge"]);
	return {
		meta,
		generation: int(h["generation"]),
		enumeratedGeneration: int(h["enumeratedGeneration"]),
		mergedGeneration: int(h["mergedGeneration"]),
		cancelledGeneration: int(h["cancelledGeneration"]),
		found: int(h["found"]),
		queued: int(h["queued"]),
		jobs: int(h["jobs"]),
		alreadyDoneAtSubmit: int(h["alreadyDoneAtSubmit"]),
		ignored: int(h["ignored"]),
		done: { items: int(h["items"]), embedded: int(h["embedded"]), alreadyDone: int(h["alreadyDone"]), failed: int(h["failed"]), skipped: int(h["skipped"]), jobs: int(h["jobsDone"]) },
		...(fatal ? { fatal } : {}),
		...(merge ? { merge } : {}),
		...(h["mergeError"] ? { mergeError: h["mergeError"] } : {}),
		submittedAt: int(h["submittedAt"]),
	};
}

/** Counts a finished job's outcome in the run's counters, once per (generation, job id): true when it was counted now. */
const countOnce = `
if redis.call('HSETNX', KEYS[2], ARGV[1], '1') == 1 then
  for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
  return 1
end
return 0`;

export async function countJob(redis: Redis, runId: string, generation: number, jobId: string, c: JobCounts): Promise<boolean> {
	const r = await redis.eval(
		countOnce,
		2,
		redisKeys.run(runId),
		redisKeys.runJobsCounted(runId),
		`${generation}:${jobId}`,
		"items",
		c.items,
		"embedded",
		c.embedded,
		"alreadyDone",
		c.alreadyDone,
		"failed",
		c.failed,
		"skipped",
		c.skipped,
		"jobsDone",
		1,
	);
	return r === 1;
}

export async function recordFatal(redis: Redis, runId: string, fatal: RunFatal): Promise<void> {
	await redis.hset(redisKeys.run(runId), "fatal", JSON.stringify(fatal));
}

/** Sets `field` to `value` only when it is below it (generations only grow). */
const raise = `
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if v < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0`;

export async function raiseGeneration(redis: Redis, runId: string, field: "enumeratedGeneration" | "mergedGeneration" | "cancelledGeneration", generation: number): Promise<void> {
	await redis.eval(raise, 1, redisKeys.run(runId), field, generation);
}

/** Live workers (their heartbeat keys), with what they said of themselves. */
export async function liveWorkers(redis: Redis): Promise<{ id: string; host: string; pid: number; runs: string[]; since: string }[]> {
	const out: { id: string; host: string; pid: number; runs: string[]; since: string }[] = [];
	let cursor = "0";
	do {
		const [next, keys] = await redis.scan(cursor, "MATCH", redisKeys.workerPattern, "COUNT", 200);
		cursor = next;
		if (keys.length === 0) continue;
		const values = await redis.mget(...keys);
		keys.forEach((k, i) => {
			const v = json<{ host: string; pid: number; runs: string[]; since: string }>(values[i] ?? undefined);
			if (v) out.push({ id: k.slice(redisKeys.worker("").length), ...v });
		});
	} while (cursor !== "0");
	return out.sort((a, b) => a.id.localeCompare(b.id));
}
