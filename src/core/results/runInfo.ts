/**
 * run.json: what a run was asked to do and what it did (PRODUCT.md §4). Settings, endpoint URL,
 * counts, timings, versions — never a key or token: the endpoint settings are copied field by field
 * (a credential added to them later would not leak here), and credentials or secret-looking query
 * values in the URL are removed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings } from "../endpoint/types";
import type { UploadInfo } from "../pipeline/uploadStats";
import { resultsFormatVersion } from "./resumeKey";
import { resultFiles } from "./types";
import { redactUrl } from "../util/redactUrl";

export { redactUrl } from "../util/redactUrl";

export interface RunInfo {
	format: number;
	product: { name: string; version: string };
	node: string;
	platform: string;
	startedAt: string;
	endedAt: string;
	durationMs: number;
	/** Images embedded in this run per second of run time. */
	imagesPerSecond: number;
	inputs: string[];
	outDir: string;
	retryFailedOnly: boolean;
	workers: number;
	endpoint: {
		url: string;
		deployment?: string;
		simulated: boolean;
		batchSize: number;
		maxConcurrentRequests: number;
		rateLimit: { calls: number; periodSeconds: number };
		retries: number;
		minRetryDelayMs: number;
		maxRetryDelayMs: number;
		requestTimeoutMs: number;
		maxPayloadBytes: number;
		maxPauseMs: number;
	};
	convert: ConvertOptions;
	config: string;
	counts: { found: number; ignored: number; embedded: number; alreadyDone: number; failed: number; skipped: number };
	cancelled: boolean;
	fatal?: { code: string; message: string };
	exports?: { rows: number; dim: number; error?: string };
	/** What was sent to the endpoint in this run: images, requests, PNG and request-body bytes. */
	upload?: UploadInfo;
	/** A distributed run (queue/): its id, the queue (no credentials), the jobs, and what each worker's part contributed. */
	queue?: { runId: string; queue: string; jobs: number; parts: { id: string; embedded: number; failed: number; skipped: number }[] };
}

/**
 * The endpoint's limits (everything but its URL and deployment), copied field by field: a field added
 * to the settings later (a credential, say) is not recorded or sent anywhere unseen.
 */
export function endpointLimits(e: EndpointSettings) {
	return {
		batchSize: e.batchSize,
		maxConcurrentRequests: e.maxConcurrentRequests,
		rateLimit: { calls: e.rateLimit.calls, periodSeconds: e.rateLimit.periodSeconds },
		retries: e.retries,
		minRetryDelayMs: e.minRetryDelayMs,
		maxRetryDelayMs: e.maxRetryDelayMs,
		requestTimeoutMs: e.requestTimeoutMs,
		maxPayloadBytes: e.maxPayloadBytes,
		maxPauseMs: e.maxPauseMs,
	};
}

/** The endpoint settings recorded in run.json, copied field by field. */
export function recordedEndpoint(e: EndpointSettings, simulated: boolean): RunInfo["endpoint"] {
	return { url: redactUrl(e.url), ...(e.deployment ? { deployment: e.deployment } : {}), simulated, ...endpointLimits(e) };
}

let product: { name: string; version: string } | undefined;

/** Name and version from the product's package.json, looked for above this file (src, out or dist); "unknown" when not found. */
export function productInfo(): { name: string; version: string } {
	if (product) return product;
	product = { name: "medimageinsight-vscode", version: "unknown" };
	let dir = __dirname;
	for (let i = 0; i < 6; i++) {
		try {
			const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
			if (pkg.name === product.name && typeof pkg.version === "string") {
				product = { name: product.name, version: pkg.version };
				break;
			}
		} catch {
			// not here: look one level up
		}
		const up = path.dirname(dir);
		if (up === dir) break;
		dir = up;
	}
	return product;
}

/** Writes run.json (beside it, then renamed into place). */
export async function writeRunInfo(outDir: string, info: Omit<RunInfo, "format" | "product" | "node" | "platform">): Promise<RunInfo> {
	const full: RunInfo = { format: resultsFormatVersion, product: productInfo(), node: process.version, platform: `${process.platform}-${process.arch}`, ...info };
	const file = path.join(outDir, resultFiles.run);
	await fs.promises.writeFile(`${file}.tmp`, JSON.stringify(full, null, "\t") + "\n");
	await fs.promises.rename(`${file}.tmp`, file);
	return full;
}
