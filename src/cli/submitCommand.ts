/**
 * `medimageinsight submit <inputs…> --queue redis://HOST:PORT[/DB] --endpoint URL --out DIR [options] [--wait]`:
 * puts a run on the queue (PRODUCT.md §8) for `medimageinsight worker` processes to take; with
 * --wait, follows it to its end and exits like `embed`. No key is needed here, and none is ever put
 * in Redis: each worker reads its own MEDIMAGEINSIGHT_API_KEY.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultConvertOptions } from "../core/dicom/types";
import { defaultJobSize, QueueRunError, submitRun, watchRun, type QueueRunStatus, type QueueRunSummary, type SubmitRunOptions } from "../core/queue/queueRun";
import { redactRedisUrl, redisOptions, RedisUrlError } from "../core/queue/redisConnection";
import type { DicomwebAuthMode } from "../core/queue/types";
import { DicomwebError } from "../core/sources/dicomweb/client";
import { DicomwebUrlError } from "../core/sources/dicomweb/url";
import { intOption, parseCommand, stringOption, type Parsed } from "./args";
import { endpointFromOptions } from "./endpointOptions";
import type { CliContext } from "./context";
import { checkDicomwebInputs, dicomwebOptions, dicomwebParserOptions } from "./dicomwebOptions";
import { apiKeyVariable } from "./embedCommand";
import { defaultEndpointSettings } from "../core/endpoint/types";
import { formatDuration } from "./progressLine";
import { UsageError } from "./usageError";

export const submitHelp = `Usage: medimageinsight submit <paths or DICOMweb URLs…> --queue redis://HOST:PORT[/DB] --endpoint URL --out DIR [options] [--wait]

Puts an embedding run on a queue in Redis, in jobs of a few images, for any number of
"medimageinsight worker" processes on any machines to take. Workers need the inputs (for files:
at the same paths; DICOMweb instances travel as references) and the output folder (a shared
folder) at the same paths. Each worker writes its own part, DIR/parts/<worker>/; when the last job
is done, one worker merges the parts into DIR/embeddings.jsonl, failures.jsonl, embeddings.npy,
index.csv and run.json, exactly one record per image, as a local run writes them.

Submitting the same run again (same output folder, endpoint and settings) resumes it: images
already embedded are left out, jobs still queued are not added twice, failed jobs are retried.
No key is needed to submit and none is stored in Redis: each worker reads ${apiKeyVariable}.

Options:
  --queue URL           Redis, e.g. redis://127.0.0.1:6379 or redis://HOST:PORT/2        [required]
  --endpoint URL        scoring URI of the online endpoint (no credential in it)         [required]
  --out DIR             output folder, shared with the workers                           [required]
  --wait                follow the run to its end, print the summary, exit like "embed"
  --job-size N          images per job (default ${defaultJobSize()})
  --batch-size N        images per request (default ${defaultEndpointSettings.batchSize})
  --concurrency N       requests in flight at most, across ALL workers (default ${defaultEndpointSettings.maxConcurrentRequests})
  --rate CALLS/SECONDS  calls per period, across ALL workers (default ${defaultEndpointSettings.rateLimit.calls}/${defaultEndpointSettings.rateLimit.periodSeconds})
  --retries N           attempts per request, first included (default ${defaultEndpointSettings.retries})
  --timeout S           per-request timeout in seconds (default ${defaultEndpointSettings.requestTimeoutMs / 1000})
  --max-pause MIN       a worker gives up a job when the endpoint refuses for longer (default ${defaultEndpointSettings.maxPauseMs / 60000}); it is queued again
  --auth key|entra      how workers authenticate (default key: their ${apiKeyVariable})
  --deployment NAME     send azureml-model-deployment: NAME
  --rgb                 send gray images as RGB PNGs (see "embed --help")
  --max-file-mb N       refuse files larger than N MB (default ${defaultConvertOptions.maxFileSizeMB}; 0 = no limit)
  --dicomweb-auth none|basic|bearer|entra   how submit lists DICOMweb inputs and workers retrieve them
                        (credentials from each process's environment, see "embed --help")
  --dicomweb-concurrency N                  retrievals in flight per worker (default 4)
  --verbose             log details to stderr
Exit status without --wait: 0 queued, 1 a DICOMweb listing broke off (what was listed is queued),
2 usage or configuration error (bad option, Redis unreachable). With --wait: 0 all embedded,
1 some failed, 2 configuration error (also one a worker reports, such as a refused key, when no
worker is left), 130 Ctrl+C (the run goes on: "medimageinsight status"; "medimageinsight cancel" stops it).`;


/** `--queue URL`, checked. */
export function queueOption(command: string, p: Parsed): string {
	const queue = stringOption(p, "queue");
	if (!queue) throw new UsageError(`${command}: --queue redis://HOST:PORT[/DB] is required`);
	try {
		redisOptions(queue);
	} catch (e) {
		if (e instanceof RedisUrlError) throw new UsageError(`${command}: ${e.message}`);
		throw e;
	}
	return queue;
}

/** Refuses a key on the command line (argv is visible to every user of the machine). */
export function refuseKeyFlag(command: string, argv: string[]): void {
	const keyFlag = argv.find((a) => /^--?(api-?key|key|token)(=|$)/i.test(a));
	if (keyFlag) {
		throw new UsageError(
			`${command}: ${keyFlag.split("=")[0]} is refused: a key on the command line is visible to other users (ps) and kept in shell history. ` +
				`Each worker reads the environment variable ${apiKeyVariable}.`,
		);
	}
}

export function queueProgressText(s: QueueRunStatus): string {
	const d = s.done;
	const total = s.enumerated ? `${s.queued}` : `${s.queued}+`;
	const parts = [`${d.items}/${total} images done`, `embedded ${d.embedded}`];
	if (d.alreadyDone + s.alreadyDoneAtSubmit > 0) parts.push(`already done ${d.alreadyDone + s.alreadyDoneAtSubmit}`);
	parts.push(`failed ${d.failed}`, `skipped ${d.skipped}`);
	parts.push(`jobs: ${s.jobs.waiting} waiting, ${s.jobs.active} active${s.jobs.delayed ? `, ${s.jobs.delayed} delayed` : ""}${s.jobs.failed ? `, ${s.jobs.failed} failed` : ""}`);
	parts.push(`${s.workers} worker(s)`);
	if (s.enumerated && s.jobs.waiting + s.jobs.active + s.jobs.delayed === 0 && !s.merged) parts.push("merging");
	return parts.join(" · ");
}

/** 0 all embedded, 1 some failed (or jobs failed, or the run was cancelled with work left), 2 a fatal configuration error, 130 detached. */
export function queueExitCode(r: QueueRunSummary): number {
	if (r.fatal) return 2;
	if (r.detached) return 130;
	const m = r.status.merge;
	if (!m) return 1;
	return m.failed > 0 || r.status.jobs.failed > 0 || r.status.cancelled ? 1 : 0;
}

/** The final lines of a followed run. */
export function sayQueueSummary(r: QueueRunSummary, ctx: CliContext, startedAt: number): void {
	const s = r.status;
	if (r.detached) {
		ctx.say(`Stopped following run ${s.runId}; it goes on with the workers. See: medimageinsight status --queue … --out ${s.outDir}; to stop it: medimageinsight cancel --queue … --out ${s.outDir}`);
		return;
	}
	if (r.fatal) {
		ctx.say(`Stopped: worker ${r.fatal.worker}: ${r.fatal.message}`);
		ctx.say(`No worker is left for run ${s.runId}; its jobs stay queued. Fix the worker's configuration and start workers again.`);
		return;
	}
	const m = s.merge;
	const seconds = (Date.now() - startedAt) / 1000;
	const already = s.done.alreadyDone + s.alreadyDoneAtSubmit;
	if (m) {
		ctx.say(
			`${s.cancelled ? "Cancelled (what was done is kept). " : ""}Embedded ${s.done.embedded}${already ? ` (+${already} already done earlier)` : ""}, failed ${s.done.failed}, skipped ${s.done.skipped} (no image), ` +
				`ignored ${s.ignored} non-DICOM, in ${formatDuration(seconds)} (${(s.done.embedded / Math.max(seconds, 1e-3)).toFixed(1)} img/s) by ${m.parts.length} worker(s).`,
		);
		ctx.say(`The output folder holds ${m.embedded} embedding(s) (one per image), ${m.failed} failure(s) and ${m.skipped} skipped file(s)${m.duplicates ? `; ${m.duplicates} duplicate record(s) of jobs run twice were left out` : ""}.`);
		for (const f of m.failureReasons.slice(0, 5)) ctx.say(`  ${f.count} failed: ${f.reason}`);
	}
	if (s.jobs.failed > 0) ctx.say(`${s.jobs.failed} job(s) failed for good (see the workers' logs); submit the run again to retry them.`);
	ctx.say(`Results in ${s.outDir}: embeddings.jsonl, embeddings.npy, index.csv, failures.jsonl, run.json`);
}

export async function submitCommand(argv: string[], ctx: CliContext): Promise<number> {
	refuseKeyFlag("submit", argv);
	const p = parseCommand("submit", argv, {
		...dicomwebParserOptions,
		queue: { type: "string" },
		endpoint: { type: "string" },
		out: { type: "string" },
		wait: { type: "boolean" },
		"job-size": { type: "string" },
		"batch-size": { type: "string" },
		concurrency: { type: "string" },
		rate: { type: "string" },
		retries: { type: "string" },
		timeout: { type: "string" },
		"max-pause": { type: "string" },
		auth: { type: "string" },
		deployment: { type: "string" },
		rgb: { type: "boolean" },
		"max-file-mb": { type: "string" },
		verbose: { type: "boolean" },
	});
	if (p.values["help"]) {
		ctx.say(submitHelp);
		return 0;
	}
	if (p.positionals.length === 0) throw new UsageError("submit: give at least one folder, DICOM file or DICOMweb URL");
	for (const input of p.positionals) {
		if (!/^https?:\/\//i.test(input) && !fs.existsSync(input)) throw new UsageError(`submit: input not found: ${input}`);
	}
	const remote = checkDicomwebInputs("submit", p.positionals);
	const queueUrl = queueOption("submit", p);
	const endpoint = endpointFromOptions("submit", p);
	const out = stringOption(p, "out");
	if (!out) throw new UsageError("submit: --out DIR is required (the shared output folder)");
	const auth = stringOption(p, "auth") ?? "key";
	if (auth !== "key" && auth !== "entra") throw new UsageError(`submit: --auth must be "key" or "entra" (got "${auth}")`);
	const maxFileSizeMB = intOption(p, "max-file-mb", 0, 1024 * 1024);
	let dicomweb: SubmitRunOptions["dicomweb"];
	if (remote > 0) {
		const d = await dicomwebOptions("submit", p);
		dicomweb = { mode: (stringOption(p, "dicomweb-auth") as DicomwebAuthMode | undefined) ?? d.auth.kind, auth: d.auth, retrievalConcurrency: d.retrievalConcurrency };
	}
	const options: SubmitRunOptions = {
		queueUrl,
		inputs: p.positionals.map((i) => (/^https?:\/\//i.test(i) ? i : path.resolve(i))),
		outDir: path.resolve(out),
		endpoint,
		simulated: false,
		auth,
		convert: { ...defaultConvertOptions, thumbnailSize: 128, grayscalePng: p.values["rgb"] !== true, ...(maxFileSizeMB !== undefined ? { maxFileSizeMB } : {}) },
		...(dicomweb ? { dicomweb } : {}),
		jobSize: intOption(p, "job-size", 1, 10_000, defaultJobSize()),
		logger: ctx.logger,
		onProgress: (s) => ctx.progress.update(`Enumerating: ${s.found} image file(s) found, ${s.alreadyDone} already done, ${s.queued} queued in ${s.jobs} job(s)`),
	};
	const startedAt = Date.now();
	let result;
	try {
		result = await submitRun(options, ctx.signal);
	} catch (e) {
		if (e instanceof QueueRunError || e instanceof DicomwebUrlError || (e instanceof DicomwebError && e.fatal)) throw new UsageError(`submit: ${e.message}`);
		throw e;
	} finally {
		ctx.progress.clear();
	}
	ctx.say(
		`Run ${result.runId} on ${redactRedisUrl(queueUrl)}: ${result.found} image file(s) found, ${result.alreadyDone} already done, ` +
			`${result.queued} queued in ${result.jobs} new job(s)${result.existingJobs ? ` (${result.existingJobs} job(s) of an earlier submission still queued)` : ""}; ${result.ignored} non-DICOM file(s) ignored.`,
	);
	if (result.incomplete && result.incomplete !== "cancelled") ctx.say(`Incomplete: ${result.incomplete}`);
	if (ctx.signal.aborted) return 130;
	if (p.values["wait"] !== true) {
		ctx.say(`Start workers with: ${apiKeyVariable}=… medimageinsight worker --queue ${redactRedisUrl(queueUrl)}`);
		ctx.say(`Follow with: medimageinsight status --queue ${redactRedisUrl(queueUrl)} --out ${options.outDir}`);
		return result.incomplete && result.incomplete !== "cancelled" ? 1 : 0;
	}
	const summary = await watchRun(queueUrl, result.runId, (s) => ctx.progress.update(queueProgressText(s)), ctx.signal);
	ctx.progress.clear();
	sayQueueSummary(summary, ctx, startedAt);
	const code = queueExitCode(summary);
	return code === 0 && result.incomplete && result.incomplete !== "cancelled" ? 1 : code;
}
