/**
 * One local embedding run (PRODUCT.md §4): the sources of the selected inputs (folder walk,
 * DICOMweb listings) through one EmbedPipeline, then the exports and run.json. The pipeline's
 * stages and guarantees (bounded memory, resume, exactly-once records, cancel and fatal stops) are
 * described in embedPipeline.ts; here is only the wiring.
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { exportArrays, type ExportResult } from "../results/exportArrays";
import { readRetryPaths } from "../results/retryList";
import { recordedEndpoint, redactUrl, writeRunInfo } from "../results/runInfo";
import { describeTarget, isDicomwebInput, parseDicomwebUrl } from "../sources/dicomweb/url";
import { checkInputs, checkSomeInputs, inputSource } from "../sources/inputSource";
import { redactUrlsIn } from "../util/redactUrl";
import { EmbedPipeline, validatePipelineOptions, type ProcessResult } from "./embedPipeline";
import type { RunDeps, RunOptions, RunSummary } from "./types";

export { runTuning } from "./embedPipeline";

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

export async function runEmbedding(options: RunOptions, deps: RunDeps, signal: AbortSignal): Promise<RunSummary> {
	checkSomeInputs(options.inputs);
	validatePipelineOptions(options);
	await checkInputs(options.inputs, options.outDir);
	const logger = deps.logger;
	const startedAt = new Date();
	const t0 = performance.now();
	const outDir = path.resolve(options.outDir);

	const pipeline = await EmbedPipeline.open(options, deps);
	let result: ProcessResult;
	let upload;
	try {
		logger.info(
			`Embedding run: ${options.inputs.length} input(s) → ${outDir}; endpoint ${redactUrl(options.endpoint.url)}${options.simulated ? " (simulated)" : ""}; ` +
				`batch ${options.endpoint.batchSize}, ${pipeline.workers} worker(s); ${pipeline.doneKeys} image(s) already done with these settings.`,
		);
		const retry = options.retryFailedOnly ? await readRetryPaths(outDir) : undefined;
		if (retry) logger.info(`Retrying ${retry.size} failed file(s).`);
		const items = inputSource(options.inputs, { outDir, dicomweb: () => pipeline.dicomweb(), ...(retry ? { only: retry } : {}), signal });
		result = await pipeline.process(items, signal);
		upload = pipeline.upload;
	} finally {
		await pipeline.close();
	}

	let exported: ExportResult | undefined;
	let exportError: string | undefined;
	try {
		exported = await exportArrays(outDir, { logger, onlyIfStale: true });
	} catch (e) {
		exportError = message(e);
		logger.error(`Cannot write embeddings.npy / index.csv: ${exportError}`);
	}
	const { counts, fatal, cancelled } = result;
	const elapsedMs = Math.round(performance.now() - t0);
	for (const r of result.failureReasons) logger.error(`${r.count} image(s) failed: ${redactUrlsIn(r.reason)}`);
	const summary: RunSummary = {
		outDir,
		found: counts.found,
		ignored: counts.ignored,
		embedded: counts.embedded,
		alreadyDone: counts.alreadyDone,
		failed: counts.failed,
		skipped: counts.skipped,
		cancelled,
		...(fatal ? { fatal } : {}),
		failureReasons: result.failureReasons,
		elapsedMs,
	};
	try {
		await writeRunInfo(outDir, {
			startedAt: startedAt.toISOString(),
			endedAt: new Date().toISOString(),
			durationMs: elapsedMs,
			imagesPerSecond: elapsedMs > 0 ? Math.round((counts.embedded * 1000 * 100) / elapsedMs) / 100 : 0,
			inputs: options.inputs.map((i) => (isDicomwebInput(i) ? describeTarget(parseDicomwebUrl(i)) : path.resolve(i))),
			outDir,
			retryFailedOnly: options.retryFailedOnly === true,
			workers: pipeline.workers,
			endpoint: recordedEndpoint(options.endpoint, options.simulated),
			convert: { pngCompressionLevel: options.convert.pngCompressionLevel, thumbnailSize: options.convert.thumbnailSize, maxPixels: options.convert.maxPixels, grayscalePng: options.convert.grayscalePng !== false },
			upload,
			config: pipeline.keys.config,
			counts: { found: counts.found, ignored: counts.ignored, embedded: counts.embedded, alreadyDone: counts.alreadyDone, failed: counts.failed, skipped: counts.skipped },
			cancelled,
			...(fatal ? { fatal } : {}),
			exports: exported ? { rows: exported.rows, dim: exported.dim } : { rows: 0, dim: 0, error: exportError ?? "not written" },
		});
	} catch (e) {
		logger.error(`Cannot write run.json: ${message(e)}`);
	}
	logger.info(
		`Run ${cancelled ? "cancelled" : fatal ? "stopped" : "finished"} in ${(elapsedMs / 1000).toFixed(1)} s: ${counts.embedded} embedded, ${counts.alreadyDone} already done, ` +
			`${counts.failed} failed, ${counts.skipped} skipped, ${counts.ignored} ignored. Results in ${outDir}`,
	);
	pipeline.report();
	return summary;
}
