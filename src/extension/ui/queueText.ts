/**
 * A queued run (PRODUCT.md §8) told in the words of a local run: the queue's counters become a
 * `RunProgress` for the same notification and status bar, and the end of the run a `RunSummary` for
 * the same final message. Plain functions with no `vscode` import, so unit tests run them under node.
 */
import type { RunProgress, RunSummary } from "../../core/pipeline/types";
import type { QueueRunStatus, QueueRunSummary, SubmitProgress } from "../../core/queue/queueRun";
import type { JobCounts } from "../../core/queue/types";
import { formatCount, progressMessage } from "./progressText";

/** The workers' counters of a run (cumulative over its submissions). */
export type DoneCounters = JobCounts & { jobs: number };

export const zeroCounters: DoneCounters = Object.freeze({ items: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, jobs: 0 });

/** What this submission found in the inputs (while it enumerates, and once it has). */
export interface SubmittedCounts {
	found: number;
	alreadyDone: number;
	ignored: number;
	/** The enumeration has ended. */
	done: boolean;
}

export function submittedCounts(p: SubmitProgress, done: boolean): SubmittedCounts {
	return { found: p.found, alreadyDone: p.alreadyDone, ignored: p.ignored, done };
}

/** What the workers did since `base` (the counters before this submission). */
export function sinceBase(now: DoneCounters, base: DoneCounters): DoneCounters {
	const d = (k: keyof DoneCounters) => Math.max(0, now[k] - base[k]);
	return { items: d("items"), embedded: d("embedded"), alreadyDone: d("alreadyDone"), failed: d("failed"), skipped: d("skipped"), jobs: d("jobs") };
}

/** Images per second over the last `windowMs` of samples (images done, time). */
export class RateMeter {
	private readonly samples: { t: number; done: number }[] = [];

	constructor(private readonly windowMs = 15_000) {}

	add(done: number, now = Date.now()): number {
		this.samples.push({ t: now, done });
		while (this.samples.length > 2 && now - this.samples[0]!.t > this.windowMs) this.samples.shift();
		const first = this.samples[0]!;
		const seconds = (now - first.t) / 1000;
		return seconds > 0 ? Math.max(0, (done - first.done) / seconds) : 0;
	}
}

/** The queue's progress as a local run's `RunProgress` (so the same texts and status bar apply). */
export function queueProgress(s: QueueRunStatus, base: DoneCounters, submitted: SubmittedCounts, rate: number, elapsedMs: number): RunProgress {
	const d = sinceBase(s.done, base);
	const done = d.embedded + d.alreadyDone + d.failed + d.skipped + submitted.alreadyDone;
	const left = Math.max(0, submitted.found - done);
	return {
		found: submitted.found,
		discoveryDone: submitted.done && s.enumerated,
		ignored: submitted.ignored,
		converted: d.items,
		embedded: d.embedded,
		alreadyDone: submitted.alreadyDone + d.alreadyDone,
		failed: d.failed,
		skipped: d.skipped,
		rate,
		...(rate > 0 ? { etaSeconds: left / rate } : {}),
		client: { state: "running", inFlight: s.jobs.active, concurrency: s.workers },
		elapsedMs,
	};
}

/** True when the run has work left and no live worker takes it. */
export function needsWorker(s: QueueRunStatus): boolean {
	return s.workers === 0 && !s.merged && (s.jobs.waiting + s.jobs.active + s.jobs.delayed > 0 || s.enumerated);
}

/** The command that starts a worker for this queue (no password in it: the worker's own environment or URL has it). */
export function workerCommand(queue: string): string {
	return `medimageinsight worker --queue ${queue}`;
}

/** The notification line while the submission enumerates its inputs. */
export function submittingMessage(p: SubmitProgress, queue: string): string {
	const already = p.alreadyDone ? ` · ${formatCount(p.alreadyDone)} already done` : "";
	return `Putting the run on the queue at ${queue} · ${formatCount(p.found)} found${already} · ${formatCount(p.queued)} queued in ${formatCount(p.jobs)} jobs`;
}

/**
 * The notification line while the workers run: the local run's message, then who is working —
 * "… · 2 workers, 3 jobs waiting", "waiting for a worker — start one with `…`", or "merging".
 */
export function queueProgressMessage(p: RunProgress, s: QueueRunStatus, queue: string, now = Date.now()): string {
	if (needsWorker(s)) {
		const done = p.embedded + p.alreadyDone + p.failed + p.skipped;
		return `Waiting for a worker — start one with \`${workerCommand(queue)}\` · ${formatCount(done)} / ${formatCount(p.found)} done · ${formatCount(s.jobs.waiting + s.jobs.delayed)} jobs waiting`;
	}
	if (s.enumerated && s.jobs.waiting + s.jobs.active + s.jobs.delayed === 0 && !s.merged) {
		return `Merging the workers' parts into the output folder · ${formatCount(p.embedded + p.alreadyDone)} embedded`;
	}
	const workers = `${formatCount(s.workers)} ${s.workers === 1 ? "worker" : "workers"}`;
	const jobs = s.jobs.waiting + s.jobs.delayed > 0 ? `, ${formatCount(s.jobs.waiting + s.jobs.delayed)} jobs waiting` : "";
	return `${progressMessage(p, now)} · ${workers}${jobs}`;
}

/** The run's end as a local run's summary (this submission's counts). */
export function queueSummary(outDir: string, submitted: SubmittedCounts, end: QueueRunSummary, base: DoneCounters, cancelled: boolean, elapsedMs: number): RunSummary {
	const d = sinceBase(end.status.done, base);
	const failureReasons = end.status.merge?.failureReasons ?? [];
	return {
		outDir,
		found: submitted.found,
		ignored: submitted.ignored,
		embedded: d.embedded,
		alreadyDone: submitted.alreadyDone + d.alreadyDone,
		failed: d.failed,
		skipped: d.skipped,
		cancelled: cancelled || end.status.cancelled,
		...(end.fatal ? { fatal: { code: "queue-worker", message: `worker ${end.fatal.worker}: ${end.fatal.message}` } } : {}),
		failureReasons,
		elapsedMs,
	};
}

/** What the final message adds about the queue (jobs removed, who did the work, the merge). */
export function queueNote(end: QueueRunSummary | undefined, removedJobs: number | undefined, queue: string): string {
	const parts: string[] = [];
	if (removedJobs !== undefined) parts.push(`${formatCount(removedJobs)} waiting ${removedJobs === 1 ? "job was" : "jobs were"} removed from the queue.`);
	const merge = end?.status.merge;
	if (end?.finished && merge) {
		parts.push(`Done by ${formatCount(merge.parts.length)} ${merge.parts.length === 1 ? "worker" : "workers"} on ${queue}; the output folder holds ${formatCount(merge.embedded)} ${merge.embedded === 1 ? "embedding" : "embeddings"}.`);
	} else if (end && !end.fatal) {
		parts.push(`The final files are written when a worker merges the parts (start one with \`${workerCommand(queue)}\`).`);
	}
	if ((end?.status.jobs.failed ?? 0) > 0) parts.push(`${formatCount(end!.status.jobs.failed)} jobs failed for good (see the workers' logs); run it again to retry them.`);
	return parts.join(" ");
}
