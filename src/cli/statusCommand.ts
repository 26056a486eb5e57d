/**
 * `medimageinsight status --queue URL [--out DIR]`: the runs on a queue, their jobs and images, and
 * the workers that are alive.
 */
import { QueueRunError, runStatus, type QueueRunStatus } from "../core/queue/queueRun";
import { redactRedisUrl } from "../core/queue/redisConnection";
import { parseCommand, stringOption } from "./args";
import type { CliContext } from "./context";
import { queueOption } from "./submitCommand";
import { UsageError } from "./usageError";

export const statusHelp = `Usage: medimageinsight status --queue redis://HOST:PORT[/DB] [--out DIR]

Prints the runs on the queue (latest first; with --out, the run(s) writing to that folder): the
jobs waiting, active, delayed and failed, the images found, queued and done, the last merge, an
error a worker reported; and the workers that are alive.

Options:
  --queue URL   Redis, e.g. redis://127.0.0.1:6379   [required]
  --out DIR     only the run(s) writing to this output folder
Exit status: 0, or 2 on a usage error or when Redis cannot be reached.`;

function state(r: QueueRunStatus): string {
	if (r.merged) return r.cancelled ? "cancelled; final files written" : "finished; final files written";
	if (r.cancelled) return "cancelled; the jobs being processed finish";
	if (!r.enumerated) return "being submitted";
	if (r.jobs.waiting + r.jobs.active + r.jobs.delayed === 0) return "merging";
	return "running";
}

export function describeRun(r: QueueRunStatus): string[] {
	const d = r.done;
	const lines = [
		`Run ${r.runId} → ${r.outDir}`,
		`  endpoint ${r.endpoint}; submission ${r.generation} at ${new Date(r.submittedAt).toISOString()}: ${state(r)}`,
		`  images: ${r.found} found, ${r.alreadyDoneAtSubmit} already done when submitted, ${r.queued} queued; done ${d.items} (embedded ${d.embedded}, already done ${d.alreadyDone}, failed ${d.failed}, skipped ${d.skipped}); ${r.ignored} non-DICOM ignored`,
		`  jobs: ${r.jobs.waiting} waiting, ${r.jobs.active} active, ${r.jobs.delayed} delayed, ${r.jobs.failed} failed, ${r.jobs.completed} done; ${r.workers} worker(s) on it`,
	];
	if (r.merge) {
		lines.push(`  last merge (${r.merge.time}): ${r.merge.embedded} embedded, ${r.merge.failed} failed, ${r.merge.skipped} skipped from ${r.merge.parts.length} part(s); embeddings.npy ${r.merge.rows}×${r.merge.dim}`);
	}
	if (r.mergeError) lines.push(`  merge error: ${r.mergeError}`);
	if (r.fatal) lines.push(`  worker ${r.fatal.worker} stopped (${r.fatal.time}): ${r.fatal.message}`);
	return lines;
}

export async function statusCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("status", argv, { queue: { type: "string" }, out: { type: "string" }, verbose: { type: "boolean" } });
	if (p.values["help"]) {
		ctx.say(statusHelp);
		return 0;
	}
	const queueUrl = queueOption("status", p);
	const out = stringOption(p, "out");
	let found;
	try {
		found = await runStatus(queueUrl, out ? { outDir: out } : {});
	} catch (e) {
		if (e instanceof QueueRunError) throw new UsageError(`status: ${e.message}`);
		throw e;
	}
	const { runs, workers } = found;
	if (runs.length === 0) ctx.say(out ? `No run on ${redactRedisUrl(queueUrl)} writes to ${out}.` : `No runs on ${redactRedisUrl(queueUrl)}.`);
	for (const r of runs) for (const line of describeRun(r)) ctx.say(line);
	ctx.say(workers.length === 0 ? "No worker is alive." : `${workers.length} worker(s) alive:`);
	for (const w of workers) ctx.say(`  ${w.id} (host ${w.host}, pid ${w.pid}, since ${w.since})`);
	return 0;
}
