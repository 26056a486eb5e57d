/**
 * `medimageinsight cancel --queue URL --out DIR`: cancels the queued run writing to DIR (the CLI's
 * counterpart of Cancel in VS Code; Ctrl+C on `submit --wait` only stops following a run).
 */
import { cancelRun, QueueRunError, runStatus } from "../core/queue/queueRun";
import { redactRedisUrl } from "../core/queue/redisConnection";
import { parseCommand, stringOption } from "./args";
import type { CliContext } from "./context";
import { queueOption } from "./submitCommand";
import { UsageError } from "./usageError";

export const cancelHelp = `Usage: medimageinsight cancel --queue redis://HOST:PORT[/DB] --out DIR

Cancels the queued run writing to DIR: its waiting jobs are removed, so no worker takes them. Jobs
that workers are processing finish, and the final files are then written from what was done
("status" shows when). What was done is kept: submitting the same run again queues only what is
missing.

Options:
  --queue URL   Redis, e.g. redis://127.0.0.1:6379   [required]
  --out DIR     the run's output folder               [required]
Exit status: 0 cancelled (or the run had already ended), 2 on a usage error, when Redis cannot be
reached, or when no run on the queue writes to DIR.`;

export async function cancelCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("cancel", argv, { queue: { type: "string" }, out: { type: "string" }, verbose: { type: "boolean" } });
	if (p.values["help"]) {
		ctx.say(cancelHelp);
		return 0;
	}
	const queueUrl = queueOption("cancel", p);
	const out = stringOption(p, "out");
	if (!out) throw new UsageError("cancel: --out DIR (the run's output folder) is required");
	try {
		const { runs } = await runStatus(queueUrl, { outDir: out });
		if (runs.length === 0) throw new UsageError(`cancel: no run on ${redactRedisUrl(queueUrl)} writes to ${out}`);
		for (const r of runs) {
			if (r.merged || r.cancelled) {
				ctx.say(`Run ${r.runId} → ${r.outDir} has already ${r.cancelled ? "been cancelled" : "finished"}; nothing to cancel.`);
				continue;
			}
			const removed = await cancelRun(queueUrl, r.runId);
			ctx.say(
				`Cancelled run ${r.runId} → ${r.outDir}: ${removed} waiting job(s) removed; ${r.jobs.active} job(s) being processed finish, then the final files are written. Submit again to finish the rest.`,
			);
		}
	} catch (e) {
		if (e instanceof QueueRunError) throw new UsageError(`cancel: ${e.message}`);
		throw e;
	}
	return 0;
}
