/**
 * `medimageinsight demo`: generates sample DICOM studies (once), starts the SIMULATED endpoint on a
 * free 127.0.0.1 port and runs the embedding through the same code path as `embed`, then says what
 * it did and where the outputs are. Exits 0 when only the planted bad files failed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SampleSet } from "../devtools/samples";
import { keyTokenProvider } from "../core/endpoint/auth";
import { defaultEndpointSettings } from "../core/endpoint/types";
import { startSimulator } from "../core/simulator/server";
import { intOption, parseCommand, stringOption } from "./args";
import type { CliContext } from "./context";
import { runEmbed } from "./embedCommand";
import { formatDuration } from "./progressLine";
import { randomSimulatorKey, simulatorBanner } from "./simulateCommand";

export const demoHelp = `Usage: medimageinsight demo [--out DIR] [--count N] [--workers N]

Generates sample DICOM studies (synthetic phantoms: CT, MR, CR MONOCHROME1, US RGB/YBR, palette
colour, RLE and deflated encodings, files without suffix or preamble, plus a few non-DICOM files,
one corrupt file and one report without pixels) under DIR/data, starts the built-in SIMULATED
endpoint on 127.0.0.1 and embeds them all, writing the results to DIR/results.
${simulatorBanner}

Options:
  --out DIR     demo folder (default ./demo-output)
  --count N     number of images to generate (default 240, 20–5000)
  --workers N   conversion threads (default: cores - 1, at least 1)
Exit status: 0 when every image was embedded and only the planted corrupt file failed.`;

type SamplesModule = typeof import("../devtools/samples");

/**
 * The sample generator is a separate bundle (dist/devtools/samples.js, with the DICOM encoders) that
 * the .vsix does not carry; it is there in a built checkout (`node esbuild.js`).
 */
function loadSamples(): SamplesModule {
	const file = path.join(__dirname, "devtools", "samples.js");
	if (!fs.existsSync(file)) {
		throw new Error(`The demo's sample generator is not installed here (${file} is missing): run the demo from a checkout of the project with \`npm ci && npm run demo\`.`);
	}
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	return require(file) as SamplesModule;
}

interface Marker {
	version: number;
	count: number;
	samples: SampleSet;
}

export async function demoCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("demo", argv, { out: { type: "string" }, count: { type: "string" }, workers: { type: "string" }, verbose: { type: "boolean" } });
	if (p.values["help"]) {
		ctx.say(demoHelp);
		return 0;
	}
	const root = path.resolve(stringOption(p, "out") ?? "demo-output");
	const count = intOption(p, "count", 20, 5000, 240);
	const workers = intOption(p, "workers", 1, 64);
	const dataDir = path.join(root, "data");
	const resultsDir = path.join(root, "results");
	const markerFile = path.join(root, "samples.json");
	const started = Date.now();

	const { generateSamples, sampleGeneratorVersion } = loadSamples();
	let samples: SampleSet;
	const marker = readMarker(markerFile);
	if (marker && marker.version === sampleGeneratorVersion && marker.count === count && fs.existsSync(dataDir)) {
		samples = marker.samples;
		ctx.say(`Using the ${samples.images} sample images already generated in ${dataDir}`);
	} else {
		ctx.say(`Generating ${count} sample DICOM images (synthetic phantoms) in ${dataDir} …`);
		fs.rmSync(dataDir, { recursive: true, force: true });
		samples = await generateSamples(dataDir, { count, signal: ctx.signal });
		fs.writeFileSync(markerFile, `${JSON.stringify({ version: sampleGeneratorVersion, count, samples } satisfies Marker, null, "\t")}\n`);
		ctx.say(`Generated ${samples.files} files (${samples.images} images) in ${formatDuration((Date.now() - started) / 1000)}.`);
	}
	for (const s of samples.series) ctx.say(`  ${s.folder}: ${s.images} × ${s.modality} (${s.encodings.join(", ")})`);
	// A fresh results folder each time, so that the demo shows a whole run.
	fs.rmSync(resultsDir, { recursive: true, force: true });

	const simKey = randomSimulatorKey();
	const sim = await startSimulator({ port: 0, key: simKey, latencyMs: 40, latencyPerImageMs: 2, logger: ctx.logger });
	ctx.say(`*** ${simulatorBanner} ***`);
	ctx.say(`Simulated endpoint at ${sim.url}`);
	let summary;
	try {
		summary = await runEmbed(
			{
				inputs: [dataDir],
				outDir: resultsDir,
				endpoint: {
					...defaultEndpointSettings,
					url: sim.url,
					batchSize: 10,
					maxConcurrentRequests: 4,
					rateLimit: { calls: 40, periodSeconds: 1 },
					retries: 4,
					minRetryDelayMs: 200,
					maxRetryDelayMs: 2000,
					requestTimeoutMs: 30_000,
					maxPauseMs: 60_000,
				},
				tokens: keyTokenProvider(async () => simKey),
				simulated: true,
				retryFailedOnly: false,
				...(workers ? { workers } : {}),
			},
			ctx,
		);
	} finally {
		await sim.close();
	}

	const failures = readFailures(path.join(resultsDir, "failures.jsonl"));
	const planted = new Set([...samples.plantedFailures, ...samples.plantedSkips]);
	const unexpected = failures.filter((f) => !planted.has(f.path));
	ctx.say("");
	ctx.say(`Demo: ${summary.embedded} images embedded, ${summary.skipped} skipped, ${summary.failed} failed, ${summary.ignored} non-DICOM files ignored, in ${formatDuration(summary.elapsedMs / 1000)} (${(summary.embedded / Math.max(summary.elapsedMs / 1000, 1e-3)).toFixed(1)} img/s).`);
	ctx.say(`Planted on purpose: ${samples.plantedFailures.length} corrupt file(s) that must fail (${samples.plantedFailures.join(", ")}), ${samples.plantedSkips.length} file(s) without pixels that are skipped (${samples.plantedSkips.join(", ")}), ${samples.nonDicom.length} non-DICOM files ignored.`);
	ctx.say(`Inputs:  ${dataDir}`);
	ctx.say(`Outputs: ${resultsDir}`);
	for (const f of ["embeddings.jsonl", "embeddings.npy", "index.csv", "failures.jsonl", "run.json"]) ctx.say(`  ${path.join(resultsDir, f)}${fs.existsSync(path.join(resultsDir, f)) ? "" : "  (missing!)"}`);
	ctx.say(`The endpoint was a SIMULATION, not MedImageInsight: the vectors are synthetic (similar images still land close together).`);
	if (summary.cancelled) return 130;
	if (summary.fatal) return 1;
	if (unexpected.length > 0 || summary.embedded !== samples.images) {
		ctx.say(`Unexpected: ${unexpected.length} file(s) failed that were not planted${unexpected.length ? `: ${unexpected.slice(0, 5).map((f) => `${f.path} (${f.stage}: ${f.error})`).join("; ")}` : ""}; ${summary.embedded}/${samples.images} images embedded.`);
		return 1;
	}
	ctx.say("Only the planted bad files failed or were skipped: the demo succeeded.");
	return 0;
}

function readMarker(file: string): Marker | undefined {
	try {
		return JSON.parse(fs.readFileSync(file, "utf8")) as Marker;
	} catch {
		return undefined;
	}
}

function readFailures(file: string): { path: string; stage: string; error: string }[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.trim())
		.map((l) => JSON.parse(l) as { path: string; stage: string; error: string });
}
