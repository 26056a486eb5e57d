/**
 * `medimageinsight embed <paths…> --endpoint URL --out DIR [options]`: the whole run (discover →
 * convert → embed → results on disk) on the shared core. The key comes ONLY from the environment
 * variable MEDIMAGEINSIGHT_API_KEY; a --key flag is refused (argv is visible to every user of the machine).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultConvertOptions } from "../core/dicom/types";
import { entraTokenProvider, keyTokenProvider } from "../core/endpoint/auth";
import { EndpointClient } from "../core/endpoint/client";
import { defaultEndpointSettings, FatalEndpointError, type EndpointSettings, type TokenProvider } from "../core/endpoint/types";
import { runEmbedding } from "../core/pipeline/run";
import type { RunProgress, RunSummary } from "../core/pipeline/types";
import { intOption, parseCommand, stringOption } from "./args";
import { endpointFromOptions } from "./endpointOptions";
import type { CliContext } from "./context";
import { formatDuration } from "./progressLine";
import { UsageError } from "./usageError";
import { checkDicomwebInputs, dicomwebHelp, dicomwebOptions, dicomwebParserOptions } from "./dicomwebOptions";
import type { RunOptions } from "../core/pipeline/types";

export const apiKeyVariable = "MEDIMAGEINSIGHT_API_KEY";

export const embedHelp = `Usage: medimageinsight embed <paths or DICOMweb URLs…> --endpoint URL --out DIR [options]

Finds every DICOM image under the given folders and files, converts it like the reference
pipeline and sends it to a MedImageInsight endpoint (Azure ML online endpoint scoring URI).
Results are written as they arrive: DIR/embeddings.jsonl, failures.jsonl, and at the end
embeddings.npy, index.csv and run.json. A re-run sends only what is missing.

The endpoint key is read from the environment variable ${apiKeyVariable}, never from the
command line. With --auth entra a Microsoft Entra ID token is used instead (az login,
managed identity, environment credentials: DefaultAzureCredential).

Options:
  --endpoint URL        scoring URI, e.g. https://NAME.REGION.inference.ml.azure.com/score  [required]
  --out DIR             output folder (created if missing)                                  [required]
  --batch-size N        images per request (default ${defaultEndpointSettings.batchSize})
  --concurrency N       requests in flight at most (default ${defaultEndpointSettings.maxConcurrentRequests})
  --rate CALLS/SECONDS  client-side rate limit (default ${defaultEndpointSettings.rateLimit.calls}/${defaultEndpointSettings.rateLimit.periodSeconds})
  --retries N           attempts per request, first included (default ${defaultEndpointSettings.retries})
  --timeout S           per-request timeout in seconds (default ${defaultEndpointSettings.requestTimeoutMs / 1000})
  --max-pause MIN       give up when the endpoint refuses for longer than this (default ${defaultEndpointSettings.maxPauseMs / 60000})
  --auth key|entra      authentication (default key)
  --deployment NAME     send azureml-model-deployment: NAME
  --workers N           conversion threads (default: cores - 1, at least 1)
  --rgb                 send gray images as RGB PNGs with three equal channels, as the reference
                        (default: 8-bit grayscale PNGs, the same pixels for the model, ~1/3 fewer bytes)
  --max-file-mb N       refuse files larger than N MB before reading them (default ${defaultConvertOptions.maxFileSizeMB}; 0 = no limit)
  --retry-failed        only retry the files listed as failed in DIR/failures.jsonl
  --verbose             log details to stderr
Exit status: 0 all embedded (skipped files are fine), 1 some failed, 2 usage or configuration
error (bad option, missing key, 401/403/404 or a redirect from the endpoint, an endpoint that
cannot be reached, a DICOMweb server that refuses the credentials), 130 cancelled (Ctrl+C).

${dicomwebHelp}`;

/** A fully parsed embed run, shared by `embed` and `demo`. */
export interface EmbedConfig {
	inputs: string[];
	outDir: string;
	endpoint: EndpointSettings;
	tokens: TokenProvider;
	simulated: boolean;
	workers?: number;
	retryFailedOnly: boolean;
	/** Authentication and limits for DICOMweb inputs. */
	dicomweb?: RunOptions["dicomweb"];
	/** Gray images as RGB PNGs (--rgb) instead of 8-bit grayscale. */
	rgb?: boolean;
	/** Files above this many MB are refused before they are read (default 2048). */
	maxFileSizeMB?: number;
}

export async function embedCommand(argv: string[], ctx: CliContext): Promise<number> {
	const keyFlag = argv.find((a) => /^--?(api-?key|key|token)(=|$)/i.test(a));
	if (keyFlag) {
		throw new UsageError(
			`embed: ${keyFlag.split("=")[0]} is refused: a key on the command line is visible to other users (ps) and kept in shell history. ` +
				`Set the environment variable ${apiKeyVariable} instead.`,
		);
	}
	const p = parseCommand("embed", argv, {
		...dicomwebParserOptions,
		endpoint: { type: "string" },
		out: { type: "string" },
		"batch-size": { type: "string" },
		concurrency: { type: "string" },
		rate: { type: "string" },
		retries: { type: "string" },
		timeout: { type: "string" },
		"max-pause": { type: "string" },
		auth: { type: "string" },
		deployment: { type: "string" },
		workers: { type: "string" },
		rgb: { type: "boolean" },
		"max-file-mb": { type: "string" },
		"retry-failed": { type: "boolean" },
		verbose: { type: "boolean" },
	});
	if (p.values["help"]) {
		ctx.say(embedHelp);
		return 0;
	}
	if (p.positionals.length === 0) throw new UsageError("embed: give at least one folder or DICOM file");
	for (const input of p.positionals) {
		if (!/^https?:\/\//i.test(input) && !fs.existsSync(input)) throw new UsageError(`embed: input not found: ${input}`);
	}
	const remoteInputs = checkDicomwebInputs("embed", p.positionals);
	const endpoint = endpointFromOptions("embed", p);
	const out = stringOption(p, "out");
	if (!out) throw new UsageError("embed: --out DIR is required (where the results go)");
	const auth = stringOption(p, "auth") ?? "key";
	if (auth !== "key" && auth !== "entra") throw new UsageError(`embed: --auth must be "key" or "entra" (got "${auth}")`);

	let tokens: TokenProvider;
	if (auth === "key") {
		if (!process.env[apiKeyVariable]?.trim()) {
			throw new UsageError(`embed: no endpoint key: set the environment variable ${apiKeyVariable} (or use --auth entra for an endpoint in aad_token mode)`);
		}
		tokens = keyTokenProvider(async () => process.env[apiKeyVariable] ?? "");
	} else {
		const { DefaultAzureCredential } = await import("@azure/identity");
		tokens = entraTokenProvider(new DefaultAzureCredential());
	}
	const workers = intOption(p, "workers", 1, 64);
	const maxFileSizeMB = intOption(p, "max-file-mb", 0, 1024 * 1024);
	const config: EmbedConfig = {
		inputs: p.positionals.map((i) => (/^https?:\/\//i.test(i) ? i : path.resolve(i))),
		...(remoteInputs > 0 ? { dicomweb: await dicomwebOptions("embed", p) } : {}),
		outDir: path.resolve(out),
		endpoint,
		tokens,
		simulated: false,
		retryFailedOnly: p.values["retry-failed"] === true,
		rgb: p.values["rgb"] === true,
		...(workers ? { workers } : {}),
		...(maxFileSizeMB !== undefined ? { maxFileSizeMB } : {}),
	};
	const summary = await runEmbed(config, ctx);
	return exitCodeOf(summary);
}

/** 0 all done, 1 some failed (or the endpoint refused too long), 2 configuration/auth, 130 cancelled. */
export function exitCodeOf(s: RunSummary): number {
	if (s.fatal) return ["paused-too-long"].includes(s.fatal.code) ? 1 : 2;
	if (s.cancelled) return 130;
	return s.failed > 0 ? 1 : 0;
}

function progressText(p: RunProgress): string {
	const done = p.embedded + p.alreadyDone + p.failed + p.skipped;
	const total = p.discoveryDone ? `${p.found}` : `${p.found}+`;
	const parts = [`${done}/${total} done`, `embedded ${p.embedded}`];
	if (p.alreadyDone) parts.push(`already done ${p.alreadyDone}`);
	parts.push(`failed ${p.failed}`, `skipped ${p.skipped}`, `${p.rate.toFixed(1)} img/s`);
	if (p.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
	if (p.client.state === "paused") {
		parts.push(`paused: ${p.client.reason} (retry in ${formatDuration(Math.max(0, (p.client.resumeAt - Date.now()) / 1000))})`);
	}
	return parts.join(" · ");
}

/** Runs one embedding run with progress on stderr and a summary at the end. */
export async function runEmbed(config: EmbedConfig, ctx: CliContext): Promise<RunSummary> {
	let client: EndpointClient;
	try {
		client = new EndpointClient(config.endpoint, config.tokens, ctx.logger);
	} catch (e) {
		if (e instanceof FatalEndpointError) throw new UsageError(`embed: ${e.message}`);
		throw e;
	}
	try {
		fs.mkdirSync(config.outDir, { recursive: true });
	} catch (e) {
		throw new UsageError(`embed: cannot create the output folder ${config.outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
	}
	let last: RunProgress | undefined;
	const ticker = setInterval(() => {
		if (last) ctx.progress.update(progressText(last));
	}, 250);
	let summary: RunSummary;
	try {
		summary = await runEmbedding(
			{
				inputs: config.inputs,
				outDir: config.outDir,
				// Thumbnails for the results view, as the extension saves them (same default size).
				convert: { ...defaultConvertOptions, thumbnailSize: 128, grayscalePng: config.rgb !== true, ...(config.maxFileSizeMB !== undefined ? { maxFileSizeMB: config.maxFileSizeMB } : {}) },
				endpoint: config.endpoint,
				simulated: config.simulated,
				retryFailedOnly: config.retryFailedOnly,
				...(config.dicomweb ? { dicomweb: config.dicomweb } : {}),
				...(config.workers ? { workers: config.workers } : {}),
			},
			{ embedder: client, workerScript: ctx.workerScript, logger: ctx.logger, onProgress: (p) => (last = p) },
			ctx.signal,
		);
	} finally {
		clearInterval(ticker);
		client.dispose();
		ctx.progress.clear();
	}
	const s = summary;
	const seconds = s.elapsedMs / 1000;
	ctx.say(
		`${s.cancelled ? "Cancelled (results so far are kept). " : ""}Embedded ${s.embedded}` +
			`${s.alreadyDone ? ` (+${s.alreadyDone} already done earlier)` : ""}, failed ${s.failed}, skipped ${s.skipped} (no image), ` +
			`ignored ${s.ignored} non-DICOM, in ${formatDuration(seconds)} (${(s.embedded / Math.max(seconds, 1e-3)).toFixed(1)} img/s).`,
	);
	for (const r of (s.failureReasons ?? []).slice(0, 5)) ctx.say(`  ${r.count} failed: ${r.reason}`);
	if (s.failureReasons && s.failureReasons.length > 5) ctx.say(`  … and ${s.failureReasons.length - 5} other reason(s): see failures.jsonl`);
	if (s.fatal) ctx.say(`Stopped: ${s.fatal.message}`);
	ctx.say(`Results in ${s.outDir}: embeddings.jsonl, embeddings.npy, index.csv, failures.jsonl, run.json`);
	return s;
}
