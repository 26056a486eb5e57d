/**
 * The end of a submission of a distributed run: the merge of the workers' parts into the output
 * folder's final files (results/mergeParts.ts) with the run's settings and counters in run.json, and
 * the run's summary in Redis. Run by the worker that takes the merge job, or by `submit` itself when
 * it queued nothing (everything was done already). Idempotent, like mergeParts.
 */
import * as path from "node:path";
import type { Redis } from "ioredis";
import { readLines } from "../results/jsonLines";
import { mergeParts } from "../results/mergeParts";
import { recordedEndpoint } from "../results/runInfo";
import { resultFiles, type FailureRecord } from "../results/types";
import type { Logger } from "../util/logger";
import { redactUrlsIn } from "../util/redactUrl";
import { redisKeys } from "./runKeys";
import { raiseGeneration, readRunRecord } from "./runRecord";
import type { QueueRunMeta, RunMergeSummary } from "./types";

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

export async function mergeRun(redis: Redis, meta: QueueRunMeta, generation: number, logger: Logger): Promise<RunMergeSummary> {
	const run = await readRunRecord(redis, meta.runId);
	if (!run) throw new Error(`run ${meta.runId} has no record in Redis`);
	const started = run.submittedAt || Date.parse(meta.createdAt);
	try {
		const merged = await mergeParts(meta.outDir, {
			logger: logger,
			run: {
				startedAt: new Date(started).toISOString(),
				endedAt: new Date().toISOString(),
				durationMs: Date.now() - started,
				imagesPerSecond: Math.round((run.done.embedded * 1000 * 100) / Math.max(1, Date.now() - started)) / 100,
				inputs: meta.inputs.map(redactUrlsIn),
				outDir: meta.outDir,
				retryFailedOnly: false,
				workers: 0,
				endpoint: recordedEndpoint(meta.endpoint, meta.simulated),
				convert: {
					pngCompressionLevel: meta.convert.pngCompressionLevel,
					thumbnailSize: meta.convert.thumbnailSize,
					maxPixels: meta.convert.maxPixels,
					grayscalePng: meta.convert.grayscalePng !== false,
				},
				config: meta.config,
				counts: { found: run.found, ignored: run.ignored, alreadyDone: run.done.alreadyDone + run.alreadyDoneAtSubmit },
				cancelled: run.cancelledGeneration >= generation,
				queue: { runId: meta.runId, queue: meta.queue, jobs: run.jobs },
			},
		});
		const summary: RunMergeSummary = {
			generation: generation,
			embedded: merged.embedded,
			failed: merged.failed,
			skipped: merged.skipped,
			duplicates: merged.duplicates,
			parts: merged.parts,
			rows: merged.exports.rows,
			dim: merged.exports.dim,
			time: new Date().toISOString(),
			failureReasons: await failureReasons(meta.outDir),
		};
		await redis.hset(redisKeys.run(meta.runId), "merge", JSON.stringify(summary));
		await redis.hdel(redisKeys.run(meta.runId), "mergeError");
		await raiseGeneration(redis, meta.runId, "mergedGeneration", generation);
		// Finished unless a newer submission began meanwhile.
		await redis.eval(
			"if redis.call('HGET', KEYS[1], 'generation') == ARGV[1] then redis.call('SREM', KEYS[2], ARGV[2]) end return 0",
			2,
			redisKeys.run(meta.runId),
			redisKeys.activeRuns,
			String(generation),
			meta.runId,
		);
		return summary;
	} catch (e) {
		await redis.hset(redisKeys.run(meta.runId), "mergeError", message(e)).catch(() => undefined);
		throw e;
	}
}

/** Failed images of the merged folder by reason, commonest first (at most 10). */
async function failureReasons(outDir: string): Promise<{ reason: string; count: number }[]> {
	const counts = new Map<string, number>();
	for await (const line of readLines(path.join(outDir, resultFiles.failures))) {
		try {
			const f = JSON.parse(line.bytes.toString("utf8")) as Partial<FailureRecord>;
			if (f.stage !== "skipped" && typeof f.error === "string") counts.set(f.error, (counts.get(f.error) ?? 0) + 1);
		} catch {
			// not a record
		}
	}
	return [...counts]
		.map(([reason, count]) => ({ reason: redactUrlsIn(reason), count }))
		.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
		.slice(0, 10);
}
