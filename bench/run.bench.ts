/**
 * End-to-end embedding runs over generated folders of small DICOM files (32×32, 8-bit): peak RSS of
 * the process running the pipeline (a child process, so each size is measured alone) and images/s,
 * against the simulator (in this process: no rate limit, no latency) with batches of 50. Memory
 * should stay flat as the folder grows: the pipeline is bounded everywhere.
 *
 * MII_RUN_BENCH_SIZES=1000,50000 overrides the folder sizes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultConvertOptions } from "../src/core/dicom/types";
import { writeDicom } from "../src/devtools/dicomWriter";
import { defaultEndpointSettings, type EndpointSettings } from "../src/core/endpoint/types";
import type { RunOptions, RunSummary } from "../src/core/pipeline/types";
import { startSimulator } from "../src/core/simulator/server";

const outRoot = path.resolve(__dirname, "..");
const workerScript = path.join(outRoot, "src/workers/convertWorker.js");

const childScript = `
const out = process.env.MII_OUT_ROOT;
const { runEmbedding } = require(out + "/src/core/pipeline/run.js");
const { EndpointClient } = require(out + "/src/core/endpoint/client.js");
const { keyTokenProvider } = require(out + "/src/core/endpoint/auth.js");
const { nullLogger } = require(out + "/src/core/util/logger.js");
const options = JSON.parse(process.env.MII_RUN_OPTIONS);
const key = process.env.MII_BENCH_KEY;
const embedder = new EndpointClient(options.endpoint, keyTokenProvider(async () => key), nullLogger);
let peakHeap = 0;
let midHeapAfterGc = 0;
const total = Number(process.env.MII_BENCH_FILES);
const sample = setInterval(() => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); }, 100);
const t0 = Date.now();
const onProgress = (p) => {
	if (!midHeapAfterGc && p.embedded >= total / 2) {
		global.gc();
		midHeapAfterGc = process.memoryUsage().heapUsed;
	}
};
runEmbedding(options, { embedder, workerScript: process.env.MII_WORKER, logger: nullLogger, onProgress }, new AbortController().signal)
	.then((summary) => {
		clearInterval(sample);
		embedder.dispose();
		process.stdout.write(JSON.stringify({ summary, ms: Date.now() - t0, maxRssKb: process.resourceUsage().maxRSS, peakHeap, midHeapAfterGc }) + "\\n");
	}, (e) => { process.stderr.write(String(e && e.stack || e) + "\\n"); process.exit(3); });
`;

interface ChildResult {
	summary: RunSummary;
	ms: number;
	maxRssKb: number;
	peakHeap: number;
	/** Heap in use after a full GC when half of the images were embedded (0 on a re-run: nothing embedded). */
	midHeapAfterGc: number;
}

function generate(dir: string, count: number): void {
	const perDir = 1000;
	const pixels = new Uint8Array(32 * 32);
	for (let i = 0; i < count; i++) {
		const sub = path.join(dir, `d${Math.floor(i / perDir)}`);
		if (i % perDir === 0) fs.mkdirSync(sub, { recursive: true });
		for (let j = 0; j < pixels.length; j++) pixels[j] = (j * ((i % 251) + 1) + (i >> 8) * 17 + (j >> 5)) & 0xff;
		fs.writeFileSync(path.join(sub, `i${i}.dcm`), writeDicom({ rows: 32, columns: 32, bitsAllocated: 8, pixelRepresentation: 0, pixels, modality: "OT", instanceNumber: i }));
	}
}

function runChild(options: RunOptions, key: string, files: number): Promise<ChildResult> {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-run-bench-child-"));
	const script = path.join(tmp, "child.js");
	fs.writeFileSync(script, childScript);
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, ["--expose-gc", script], {
			env: { ...process.env, MII_OUT_ROOT: outRoot, MII_RUN_OPTIONS: JSON.stringify(options), MII_BENCH_KEY: key, MII_WORKER: workerScript, MII_BENCH_FILES: String(files) },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let out = "";
		let err = "";
		child.stdout.on("data", (d: Buffer) => (out += d.toString()));
		child.stderr.on("data", (d: Buffer) => (err += d.toString()));
		child.on("exit", (code) => {
			fs.rmSync(tmp, { recursive: true, force: true });
			if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1)!) as ChildResult);
			else reject(new Error(`run child exited with ${code}: ${err.slice(0, 500)}`));
		});
	});
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const sizes = (process.env["MII_RUN_BENCH_SIZES"] ?? "1000,50000").split(",").map(Number);
	const key = "bench-key";
	const sim = await startSimulator({ key, capacity: 1000 });
	const rows: (string | number)[][] = [];
	const root = fs.mkdtempSync(path.join(os.tmpdir(), "mii-run-bench-"));
	try {
		for (const size of sizes) {
			const input = path.join(root, `in-${size}`);
			const t = Date.now();
			generate(input, size);
			const genS = (Date.now() - t) / 1000;
			const endpoint: EndpointSettings = {
				...defaultEndpointSettings,
				url: sim.url,
				batchSize: 50,
				maxConcurrentRequests: 4,
				rateLimit: { calls: 1_000_000, periodSeconds: 1 },
				minRetryDelayMs: 100,
				maxRetryDelayMs: 1000,
			};
			const options: RunOptions = { inputs: [input], outDir: path.join(root, `out-${size}`), convert: defaultConvertOptions, endpoint, simulated: true, workers: 1 };
			const first = await runChild(options, key, size);
			const again = await runChild(options, key, size);
			rows.push([
				size,
				first.summary.embedded,
				first.ms / 1000,
				first.summary.embedded / (first.ms / 1000),
				first.maxRssKb / 1024,
				first.peakHeap / 1024 / 1024,
				first.midHeapAfterGc / 1024 / 1024,
				again.ms / 1000,
				again.maxRssKb / 1024,
				genS,
			]);
			fs.rmSync(input, { recursive: true, force: true });
			fs.rmSync(options.outDir, { recursive: true, force: true });
		}
	} finally {
		await sim.close();
		fs.rmSync(root, { recursive: true, force: true });
	}
	return [
		{
			title: "Embedding run end to end (generated 32×32 DICOM, 1 conversion worker, simulator without limits, batch 50)",
			columns: ["files", "embedded", "run s", "images/s", "peak RSS MB", "peak heap MB", "heap after GC at half MB", "re-run s (nothing sent)", "re-run peak RSS MB", "generate s"],
			rows,
		},
	];
}
