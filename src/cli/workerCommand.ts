/**
 * `medimageinsight worker --queue URL [options]`: takes jobs of the runs on the queue until it is
 * stopped (Ctrl+C / SIGTERM: the jobs it holds go back on the queue). The endpoint key comes only
 * from this process's MEDIMAGEINSIGHT_API_KEY.
 */
import { entraTokenProvider, keyTokenProvider } from "../core/endpoint/auth";
import type { TokenProvider } from "../core/endpoint/types";
import { checkWorkerId, defaultWorkerId, QueueWorker, WorkerConfigError } from "../core/queue/queueWorker";
import { redactRedisUrl, RedisUnreachableError } from "../core/queue/redisConnection";
import type { QueueRunMeta } from "../core/queue/types";
import type { RunOptions } from "../core/pipeline/types";
import { intOption, parseCommand, stringOption, type Parsed } from "./args";
import type { CliContext } from "./context";
import { dicomwebOptions } from "./dicomwebOptions";
import { apiKeyVariable } from "./embedCommand";
import { queueOption, refuseKeyFlag } from "./submitCommand";
import { UsageError } from "./usageError";

export const workerHelp = `Usage: medimageinsight worker --queue redis://HOST:PORT[/DB] [options]

Takes the jobs of the runs on the queue ("medimageinsight submit") and embeds their images into
its own part of each run's output folder, DIR/parts/<id>/. Start any number, on any machines that
see the inputs (files at the same paths; DICOMweb instances are retrieved directly) and the output
folder (a shared folder, at the same path). All workers share one endpoint quota through Redis
(the run's --rate and --concurrency), and an endpoint-wide refusal pauses them all. A worker that
dies loses nothing: its jobs are taken over by the others after --stall-seconds.
Runs until Ctrl+C or SIGTERM; the jobs it holds then go back on the queue.

The endpoint key is read from ${apiKeyVariable} (runs submitted with --auth entra use Microsoft
Entra ID), DICOMweb credentials from the variables "embed --help" lists. Nothing secret goes to Redis;
but a worker sends its key to the endpoint of the runs it takes: keep Redis private, or use --endpoint.

Options:
  --queue URL          Redis, e.g. redis://127.0.0.1:6379                          [required]
  --id NAME            this worker's name and part folder (default: host-pid)
  --jobs N             jobs of a run processed at once (default 4)
  --workers N          conversion threads (default: cores - 1, at least 1)
  --stall-seconds S    a job whose worker stops answering for S seconds goes to another (default 30)
  --run ID             only this run (several: ID1,ID2; default: every run on the queue)
  --endpoint URL       only runs sent to this endpoint (several: URL1,URL2). Whoever can write to
                       Redis can queue a run: this keeps your key and images from going elsewhere
  --verbose            log details to stderr
Exit status: 0 stopped, 2 usage or configuration error (such as no key, or a key the endpoint
refuses: the jobs stay queued for other workers).`;

/** The credentials of this process for a run (never from Redis). */
export function workerCredentials(env: NodeJS.ProcessEnv = process.env): (meta: QueueRunMeta) => Promise<{ tokens: TokenProvider; dicomweb?: RunOptions["dicomweb"] }> {
	return async (meta) => {
		let tokens: TokenProvider;
		if (meta.auth === "entra") {
			const { DefaultAzureCredential } = await import("@azure/identity");
			tokens = entraTokenProvider(new DefaultAzureCredential());
		} else {
			if (!env[apiKeyVariable]?.trim()) throw new WorkerConfigError("no-key", `no endpoint key: set ${apiKeyVariable} in this worker's environment`);
			tokens = keyTokenProvider(async () => env[apiKeyVariable] ?? "");
		}
		if (!meta.dicomweb) return { tokens };
		const parsed: Parsed = { values: { "dicomweb-auth": meta.dicomweb.auth, "dicomweb-concurrency": String(meta.dicomweb.retrievalConcurrency) }, positionals: [] };
		try {
			return { tokens, dicomweb: await dicomwebOptions("worker", parsed, env) };
		} catch (e) {
			throw new WorkerConfigError("dicomweb-credentials", e instanceof Error ? e.message : String(e));
		}
	};
}

export async function workerCommand(argv: string[], ctx: CliContext): Promise<number> {
	refuseKeyFlag("worker", argv);
	const p = parseCommand("worker", argv, {
		queue: { type: "string" },
		id: { type: "string" },
		jobs: { type: "string" },
		workers: { type: "string" },
		"stall-seconds": { type: "string" },
		run: { type: "string" },
		endpoint: { type: "string" },
		verbose: { type: "boolean" },
	});
	if (p.values["help"]) {
		ctx.say(workerHelp);
		return 0;
	}
	if (p.positionals.length > 0) throw new UsageError(`worker: unexpected argument "${p.positionals[0]}" (the inputs are given to "submit")`);
	const queueUrl = queueOption("worker", p);
	let id: string;
	try {
		id = checkWorkerId(stringOption(p, "id") ?? defaultWorkerId());
	} catch (e) {
		throw new UsageError(`worker: ${(e as Error).message}`);
	}
	const runIds = stringOption(p, "run")
		?.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	const endpoints = stringOption(p, "endpoint")
		?.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	for (const e of endpoints ?? []) if (!/^https?:\/\/[^\s/]+/i.test(e)) throw new UsageError(`worker: --endpoint must be http(s) URLs (got "${e}")`);
	const conversionWorkers = intOption(p, "workers", 1, 64);
	const totals = { jobs: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0 };
	let worker: QueueWorker;
	try {
		worker = await QueueWorker.start({
			queueUrl,
			id,
			concurrency: intOption(p, "jobs", 1, 64, 4),
			...(conversionWorkers ? { conversionWorkers } : {}),
			workerScript: ctx.workerScript,
			logger: ctx.logger,
			credentials: workerCredentials(),
			stallSeconds: intOption(p, "stall-seconds", 2, 3600, 30),
			...(runIds?.length ? { runIds } : {}),
			...(endpoints?.length ? { endpoints } : {}),
			onEvent: (e) => {
				switch (e.type) {
					case "run-opened":
						ctx.say(`Run ${e.runId}: writing to ${e.outDir}`);
						break;
					case "job":
						totals.jobs++;
						totals.embedded += e.counts.embedded;
						totals.alreadyDone += e.counts.alreadyDone;
						totals.failed += e.counts.failed;
						totals.skipped += e.counts.skipped;
						ctx.progress.update(`${totals.jobs} job(s) done · embedded ${totals.embedded} · already done ${totals.alreadyDone} · failed ${totals.failed} · skipped ${totals.skipped}`);
						break;
					case "requeued":
						ctx.say(`Job ${e.jobId} of run ${e.runId} goes back on the queue: ${e.reason}`);
						break;
					case "merged":
						ctx.say(`Run ${e.runId}: merged the parts: ${e.summary.embedded} embedded, ${e.summary.failed} failed, ${e.summary.skipped} skipped (embeddings.npy ${e.summary.rows}×${e.summary.dim}).`);
						break;
				}
			},
		});
	} catch (e) {
		if (e instanceof RedisUnreachableError || e instanceof WorkerConfigError) throw new UsageError(`worker: ${e.message}`);
		throw e;
	}
	ctx.say(`Worker ${id} taking jobs from ${redactRedisUrl(queueUrl)}${runIds?.length ? ` (runs ${runIds.join(", ")})` : ""}. Ctrl+C to stop.`);
	const onAbort = () => void worker.close();
	if (ctx.signal.aborted) onAbort();
	else ctx.signal.addEventListener("abort", onAbort, { once: true });
	const end = await worker.stopped;
	ctx.signal.removeEventListener("abort", onAbort);
	ctx.progress.clear();
	if (end.fatal) {
		ctx.say(`Worker ${id} stopped: ${end.fatal.message}`);
		return 2;
	}
	ctx.say(`Worker ${id} stopped after ${totals.jobs} job(s): embedded ${totals.embedded}, failed ${totals.failed}.`);
	return 0;
}
