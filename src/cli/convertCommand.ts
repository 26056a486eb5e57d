/**
 * `medimageinsight convert <paths…> --out DIR [--workers N]`: every DICOM image to DIR/<relPath>.png
 * (the seed's picture), every failed or skipped file to DIR/failures.jsonl.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { defaultConvertOptions, type ConvertOptions } from "../core/dicom/types";
import { discover } from "../core/pipeline/discover";
import type { DiscoveredFile, FileConversion } from "../core/pipeline/types";
import { WorkerPool } from "../core/pipeline/workerPool";
import { intOption, parseCommand, stringOption } from "./args";
import type { CliContext } from "./context";
import { formatDuration } from "./progressLine";
import { UsageError } from "./usageError";
import { checkDicomwebInputs, dicomwebHelp, dicomwebOptions, dicomwebParserOptions } from "./dicomwebOptions";
import { DicomwebClient, DicomwebError, noAuth, type DicomwebAuth } from "../core/sources/dicomweb/client";
import { describeTarget, isDicomwebInput, parseDicomwebUrl } from "../core/sources/dicomweb/url";

export const convertHelp = `Usage: medimageinsight convert <paths or DICOMweb URLs…> --out DIR [--workers N] [--rgb] [--max-file-mb N]

Converts every DICOM image under the given folders and files to an 8-bit PNG with exactly the
reference pipeline's pixels (first frame, 10th–90th percentile window), mirroring the input tree:
DIR/<path relative to the input>.png (a file argument gives DIR/<its name>.png). Files that fail
or hold no image are listed in DIR/failures.jsonl ({"path","stage","error"}; stage "skipped" for
files without an image). Non-DICOM files are ignored and counted. An image whose 10th and 90th
percentiles are equal (but is not constant) is windowed over its min–max range instead of black:
counted in the summary and listed in DIR/windows.jsonl ({"path","window":"min-max"}).

Options:
  --out DIR       output folder (created if missing)          [required]
  --workers N     conversion threads (default: cores - 1, at least 1)
  --rgb           write gray images as RGB with three equal channels, as the reference
                  (default: 8-bit grayscale PNGs, the same pixels, about a third smaller)
  --max-file-mb N refuse files larger than N MB before reading them (default ${defaultConvertOptions.maxFileSizeMB}; 0 = no limit)
  --verbose       log details to stderr
Exit status: 0 every image converted (skipped files are fine), 1 some failed, 2 usage error (or a
DICOMweb server that refuses the credentials or redirects), 130 cancelled (Ctrl+C).

${dicomwebHelp}`;

export interface ConvertCounts {
	converted: number;
	/** Converted images windowed over their min–max range (the percentiles coincided). */
	minMax: number;
	skipped: number;
	failed: number;
	ignored: number;
	cancelled: boolean;
}

export async function convertCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("convert", argv, { ...dicomwebParserOptions, out: { type: "string" }, workers: { type: "string" }, rgb: { type: "boolean" }, "max-file-mb": { type: "string" }, verbose: { type: "boolean" } });
	if (p.values["help"]) {
		ctx.say(convertHelp);
		return 0;
	}
	const out = stringOption(p, "out");
	if (p.positionals.length === 0) throw new UsageError("convert: give at least one folder or DICOM file to convert");
	if (!out) throw new UsageError("convert: --out DIR is required (where the PNGs go)");
	const workers = intOption(p, "workers", 1, 64);
	const maxFileSizeMB = intOption(p, "max-file-mb", 0, 1024 * 1024, defaultConvertOptions.maxFileSizeMB ?? 2048);
	for (const input of p.positionals) {
		if (!isDicomwebInput(input) && !fs.existsSync(input)) throw new UsageError(`convert: input not found: ${input}`);
	}
	const remote = checkDicomwebInputs("convert", p.positionals) > 0 ? await dicomwebOptions("convert", p) : undefined;
	const outDir = path.resolve(out);
	try {
		fs.mkdirSync(outDir, { recursive: true });
	} catch (e) {
		throw new UsageError(`convert: cannot create the output folder ${outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
	}

	const started = Date.now();
	const options: ConvertOptions = { ...defaultConvertOptions, grayscalePng: p.values["rgb"] !== true, maxFileSizeMB };
	const counts = await convertAll(p.positionals, outDir, workers, ctx, options, remote);
	const seconds = (Date.now() - started) / 1000;
	ctx.progress.clear();
	const done = counts.converted + counts.skipped + counts.failed;
	ctx.say(
		`${counts.cancelled ? "Cancelled. " : ""}Converted ${counts.converted}, skipped ${counts.skipped} (no image), failed ${counts.failed}, ` +
			`ignored ${counts.ignored} non-DICOM in ${formatDuration(seconds)} (${(done / Math.max(seconds, 1e-3)).toFixed(1)} img/s).`,
	);
	if (counts.minMax > 0) {
		ctx.say(`${counts.minMax} image${counts.minMax === 1 ? "" : "s"} had equal 10th and 90th percentiles and ${counts.minMax === 1 ? "was" : "were"} windowed over the min–max range (listed in ${path.join(outDir, "windows.jsonl")}).`);
	}
	ctx.say(`PNGs in ${outDir}${counts.failed + counts.skipped > 0 ? `; failures and skips in ${path.join(outDir, "failures.jsonl")}` : ""}`);
	if (counts.cancelled) return 130;
	return counts.failed > 0 ? 1 : 0;
}

/** Discovers, converts in the worker pool and writes the PNGs and failures.jsonl. */
export async function convertAll(
	allInputs: string[],
	outDir: string,
	workers: number | undefined,
	ctx: CliContext,
	options: ConvertOptions = defaultConvertOptions,
	dicomweb?: { auth: DicomwebAuth; retrievalConcurrency: number },
): Promise<ConvertCounts> {
	const inputs = allInputs.filter((i) => !isDicomwebInput(i));
	const targets = allInputs.filter(isDicomwebInput).map((i) => parseDicomwebUrl(i));
	const counts: ConvertCounts = { converted: 0, minMax: 0, skipped: 0, failed: 0, ignored: 0, cancelled: false };
	const failures = fs.createWriteStream(path.join(outDir, "failures.jsonl"), { flags: "w" });
	let windows: fs.WriteStream | undefined;
	const pool = new WorkerPool({ script: ctx.workerScript, logger: ctx.logger, ...(workers ? { size: workers } : {}) });
	const used = new Set<string>();
	const inFlight = new Set<Promise<void>>();
	const started = Date.now();
	let found = 0;
	const report = () => {
		const done = counts.converted + counts.skipped + counts.failed;
		const rate = done / Math.max((Date.now() - started) / 1000, 1e-3);
		ctx.progress.update(`converted ${counts.converted}/${found} · skipped ${counts.skipped} · failed ${counts.failed} · ignored ${counts.ignored} · ${rate.toFixed(1)} img/s`);
	};
	const ticker = setInterval(report, 250);

	const writeFailure = (file: Pick<DiscoveredFile, "relPath">, stage: string, error: string) =>
		new Promise<void>((resolve) => failures.write(`${JSON.stringify({ path: file.relPath, stage, error })}\n`, () => resolve()));

	/** The PNG path of a file, decided in discovery order so that names do not depend on timing. */
	const targetOf = (file: DiscoveredFile): string => {
		let target = path.join(outDir, ...`${file.relPath}.png`.split("/"));
		if (allInputs.length > 1) {
			// Within one input relative paths are unique; two inputs can collide (a/IM1, b/IM1).
			for (let n = 2; used.has(target); n++) target = path.join(outDir, ...`${file.relPath}~${n}.png`.split("/"));
			used.add(target);
		}
		return target;
	};

	const finish = async (file: Pick<DiscoveredFile, "relPath">, target: string, r: FileConversion): Promise<void> => {
		const o = r.outcome;
		if (o.kind === "image") {
			try {
				await fs.promises.mkdir(path.dirname(target), { recursive: true });
				await fs.promises.writeFile(target, o.png);
				counts.converted++;
				if (o.window === "min-max") {
					counts.minMax++;
					ctx.logger.info(`${file.relPath}: 10th and 90th percentiles are equal; windowed over the min–max range`);
					windows ??= fs.createWriteStream(path.join(outDir, "windows.jsonl"), { flags: "w" });
					const w = windows;
					await new Promise<void>((resolve) => w.write(`${JSON.stringify({ path: file.relPath, window: o.window })}\n`, () => resolve()));
				}
			} catch (e) {
				counts.failed++;
				await writeFailure(file, "write", `Cannot write ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
			}
		} else if (o.kind === "skipped") {
			counts.skipped++;
			await writeFailure(file, "skipped", o.reason);
		} else {
			counts.failed++;
			await writeFailure(file, o.stage, o.error);
		}
	};

	try {
		for await (const item of inputs.length > 0 ? discover(inputs, { signal: ctx.signal, exclude: [outDir] }) : []) {
			if (item.kind === "ignored") {
				counts.ignored++;
				continue;
			}
			found++;
			if (item.kind === "skipped") {
				counts.skipped++;
				await writeFailure(item, "skipped", item.reason);
				continue;
			}
			const target = targetOf(item);
			await pool.waitForCapacity(ctx.signal);
			const task: Promise<void> = pool
				.convertFile(item.absPath, options, ctx.signal)
				.then((r) => finish(item, target, r))
				.catch((e: unknown) => {
					if ((e as Error).name !== "AbortError") throw e;
				})
				.finally(() => inFlight.delete(task));
			inFlight.add(task);
		}
		// DICOMweb inputs: DIR/<StudyUID>/<SeriesUID>/<SOPInstanceUID>.png; nothing else touches the disk.
		if (targets.length > 0) {
			const client = new DicomwebClient({ auth: dicomweb?.auth ?? noAuth, retrievalConcurrency: dicomweb?.retrievalConcurrency ?? 4, maxInstanceBytes: (options.maxFileSizeMB || 1024 * 1024) * 1048576, logger: ctx.logger });
			let fatal: DicomwebError | undefined;
			for (const t of targets) {
				try {
					for await (const ref of client.instances(t, ctx.signal)) {
						if (fatal) break;
						found++;
						const file = { relPath: ref.path };
						const target = targetOf(file as DiscoveredFile);
						await pool.waitForCapacity(ctx.signal);
						const task: Promise<void> = client
							.retrieve(ref, ctx.signal)
							.then(
								(bytes) => pool.convertBytes(bytes, ref.path, options, ctx.signal).then((r) => finish(file, target, r)),
								async (e: unknown) => {
									if (!(e instanceof DicomwebError)) throw e;
									if (e.fatal) fatal = e;
									counts.failed++;
									await writeFailure(file, "retrieve", e.message);
								},
							)
							.catch((e: unknown) => {
								if ((e as Error).name !== "AbortError") throw e;
							})
							.finally(() => inFlight.delete(task));
						inFlight.add(task);
					}
				} catch (e) {
					if (!(e instanceof DicomwebError)) throw e;
					if (e.fatal) throw new UsageError(`convert: ${e.message}`);
					// A listing that broke off: what was listed goes on; the rest is missing, with the reason.
					counts.failed++;
					await writeFailure({ relPath: describeTarget(t) }, "list", e.message);
				}
			}
			await Promise.all(inFlight);
			if (fatal) throw new UsageError(`convert: ${(fatal as DicomwebError).message}`);
		}
		await Promise.all(inFlight);
	} catch (e) {
		if ((e as Error).name !== "AbortError") throw e;
		await Promise.allSettled(inFlight);
	} finally {
		clearInterval(ticker);
		await pool.dispose();
		await new Promise<void>((resolve) => failures.end(() => resolve()));
		const w = windows;
		if (w) await new Promise<void>((resolve) => w.end(() => resolve()));
	}
	counts.cancelled = ctx.signal.aborted;
	return counts;
}
