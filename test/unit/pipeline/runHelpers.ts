/** Shared fixtures of the run tests: real DICOM folders, the real simulator and client, captured logs. */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { format } from "node:util";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { defaultConvertOptions, type ConvertOptions, type ConvertOutcome } from "../../../src/core/dicom/types";
import { keyTokenProvider } from "../../../src/core/endpoint/auth";
import { EndpointClient } from "../../../src/core/endpoint/client";
import { defaultEndpointSettings, type EndpointSettings } from "../../../src/core/endpoint/types";
import type { EmbeddingRecord, FailureRecord } from "../../../src/core/results/types";
import type { Logger } from "../../../src/core/util/logger";

export const sharedDicom = path.resolve(__dirname, "../../../../../shared/dicom/files");
export const workerScript = path.resolve(__dirname, "../../../src/workers/convertWorker.js");

/** True when the shared real DICOM files exist; otherwise says loudly that the test is skipped. */
export function haveSharedDicom(what: string): boolean {
	if (fs.existsSync(path.join(sharedDicom, "pydicom", "CT_small.dcm"))) return true;
	console.log(`\n*** SKIPPED (${what}): ${sharedDicom} does not exist; the run tests need the real DICOM files ***\n`);
	return false;
}

/** The top-level files of the shared pydicom folder: images, non-image objects and broken files. */
export function pydicomFiles(): string[] {
	const dir = path.join(sharedDicom, "pydicom");
	return fs
		.readdirSync(dir)
		.filter((n) => fs.statSync(path.join(dir, n)).isFile())
		.sort()
		.map((n) => path.join(dir, n));
}

/** Copies files into `dir` (writable copies: the shared ones are read-only). */
export function copyInto(dir: string, files: string[], rename: (base: string) => string = (b) => b): void {
	fs.mkdirSync(dir, { recursive: true });
	for (const f of files) {
		const to = path.join(dir, rename(path.basename(f)));
		fs.writeFileSync(to, fs.readFileSync(f));
	}
}

export interface CapturedLogger extends Logger {
	lines: string[];
}

export function captureLogger(): CapturedLogger {
	const lines: string[] = [];
	const put =
		(level: string) =>
		(m: unknown, ...args: unknown[]) =>
			lines.push(`${level} ${format(m instanceof Error ? m.stack : m, ...args)}`);
	return { lines, trace: put("trace"), debug: put("debug"), info: put("info"), warn: put("warn"), error: put("error") };
}

export function endpointFor(url: string, over: Partial<EndpointSettings> = {}): EndpointSettings {
	return {
		...defaultEndpointSettings,
		url,
		batchSize: 4,
		maxConcurrentRequests: 3,
		rateLimit: { calls: 1000, periodSeconds: 1 },
		retries: 8,
		minRetryDelayMs: 30,
		maxRetryDelayMs: 150,
		requestTimeoutMs: 20_000,
		maxPauseMs: 60_000,
		...over,
	};
}

export function clientFor(endpoint: EndpointSettings, key: string, logger: Logger): EndpointClient {
	return new EndpointClient(endpoint, keyTokenProvider(() => Promise.resolve(key)), logger);
}

export function readJsonl<T>(file: string): T[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.length > 0)
		.map((l) => JSON.parse(l) as T);
}

export const readEmbeddings = (outDir: string) => readJsonl<EmbeddingRecord>(path.join(outDir, "embeddings.jsonl"));
export const readFailures = (outDir: string) => readJsonl<FailureRecord>(path.join(outDir, "failures.jsonl"));

/** What the converter itself says of a file (computed directly, not through the run). */
export async function convertDirect(file: string, options: ConvertOptions = defaultConvertOptions): Promise<ConvertOutcome> {
	const bytes = fs.readFileSync(file);
	return convertDicomBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options, path.basename(file));
}

/** sha256 of the base64 text of a PNG, as the simulator keys its per-image counts. */
export function imageSha(png: Uint8Array): string {
	return createHash("sha256").update(Buffer.from(png).toString("base64")).digest("hex");
}

/** Counts of each value. */
export function tally(values: string[]): Map<string, number> {
	const m = new Map<string, number>();
	for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
	return m;
}
