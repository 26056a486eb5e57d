/**
 * Conversion throughput of the worker pool (real workers, out/src/workers/convertWorker.js): images/s
 * and MB/s of DICOM read, for pool sizes 1 and 2, on the real files of /work/shared/dicom and on
 * ~200 generated 512×512 16-bit CT slices; with the peak RSS of the process (main thread + workers).
 * Run: `npm run compile-tests && node out/bench/run.js pool`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { generateCtSeries } from "../src/devtools/generateSamples";
import { defaultConvertOptions } from "../src/core/dicom/types";
import { discover } from "../src/core/pipeline/discover";
import { WorkerPool } from "../src/core/pipeline/workerPool";

const worker = path.join(__dirname, "../src/workers/convertWorker.js");
const shared = path.resolve(process.env["MEDIMAGEINSIGHT_DICOM_DIR"] ?? path.resolve(__dirname, "../../../shared/dicom"), "files");

function listFiles(dir: string): string[] {
	const out: string[] = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...listFiles(p));
		else if (e.isFile()) out.push(p);
	}
	return out;
}

interface Measured {
	images: number;
	failedOrSkipped: number;
	seconds: number;
	mb: number;
}

async function measure(files: string[], size: number, passes: number): Promise<Measured> {
	const pool = new WorkerPool({ script: worker, size, maxQueue: size * 4 });
	try {
		// Warm-up: start the workers and load the codecs outside the measurement.
		await Promise.all(files.slice(0, size * 2).map((f) => pool.convertFile(f, defaultConvertOptions)));
		let images = 0;
		let other = 0;
		let bytes = 0;
		const started = process.hrtime.bigint();
		for (let pass = 0; pass < passes; pass++) {
			const inFlight = new Set<Promise<void>>();
			for (const f of files) {
				await pool.waitForCapacity();
				const p: Promise<void> = pool.convertFile(f, defaultConvertOptions).then((r) => {
					bytes += r.size;
					if (r.outcome.kind === "image") images++;
					else other++;
					inFlight.delete(p);
				});
				inFlight.add(p);
			}
			await Promise.all(inFlight);
		}
		const seconds = Number(process.hrtime.bigint() - started) / 1e9;
		return { images, failedOrSkipped: other, seconds, mb: bytes / 1e6 };
	} finally {
		await pool.dispose();
	}
}

/** Discovery over a generated tree: 200 folders × 100 files, half of them DICOM by content (no suffix). */
async function discoveryRow(): Promise<(string | number)[]> {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-bench-"));
	try {
		const dicomHead = Buffer.concat([Buffer.alloc(128), Buffer.from("DICM"), Buffer.alloc(380, 1)]);
		const other = Buffer.from("not dicom ".repeat(50));
		for (let d = 0; d < 200; d++) {
			const dir = path.join(tmp, `s${d}`);
			fs.mkdirSync(dir);
			for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}`), f % 2 ? other : dicomHead);
		}
		const heapBefore = process.memoryUsage().heapUsed;
		let peakHeap = heapBefore;
		let candidates = 0;
		let ignored = 0;
		const started = process.hrtime.bigint();
		for await (const item of discover([tmp])) {
			if (item.kind === "candidate") candidates++;
			else ignored++;
			if ((candidates + ignored) % 1000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
		}
		const seconds = Number(process.hrtime.bigint() - started) / 1e9;
		return ["20 000 files in 200 folders (half DICOM, no suffix)", candidates, ignored, ((candidates + ignored) / seconds).toFixed(0), ((peakHeap - heapBefore) / 1e6).toFixed(1)];
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const rows: (string | number)[][] = [];
	const sets: { name: string; files: string[]; passes: number }[] = [];
	if (fs.existsSync(shared)) sets.push({ name: "shared/dicom (64 real files, mixed codecs)", files: listFiles(shared), passes: 3 });
	else console.log(`!!! ${shared} missing: real-file rows skipped !!!`);
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-pool-bench-"));
	try {
		await generateCtSeries(tmp, 200, 512, 7);
		sets.push({ name: "200 generated CT 512×512 int16", files: listFiles(tmp), passes: 1 });
		for (const set of sets) {
			for (const size of [1, 2]) {
				const m = await measure(set.files, size, set.passes);
				const n = m.images + m.failedOrSkipped;
				rows.push([set.name, size, n, m.images, (n / m.seconds).toFixed(1), (m.mb / m.seconds).toFixed(1), (process.resourceUsage().maxRSS / 1024).toFixed(0)]);
			}
		}
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
	const discovery = await discoveryRow();
	return [
		{
			title: "Discovery (streaming walk + 512-byte sniff per file)",
			columns: ["tree", "candidates", "ignored", "files/s", "heap growth MB (sampled)"],
			rows: [discovery],
		},
		{
			title: "Worker pool conversion throughput (DICOM → seed-exact PNG, default PNG level)",
			columns: ["input", "workers", "files", "images", "files/s", "MB/s read", "peak RSS MB (process so far)"],
			rows,
		},
	];
}
