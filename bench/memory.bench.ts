/**
 * `npm run bench -- memory`: peak RSS of a process converting hostile files with the real worker
 * pool (2 workers), each scenario in its own child process (maxRSS covers the worker threads):
 *   1. three 1.5 MB deflate bombs that each inflate to 1.5 GB, among 24 good 512×512 CT files:
 *      each bomb must fail with a reason, the good files convert;
 *   2. a 2 GB native multi-frame file (4000 frames of 512×512 16-bit): the first frame converts.
 * Aim: peak RSS < 800 MB in both. Files are generated into a temp folder and deleted after.
 * MII_MEMORY_BENCH_BOMB_MB / MII_MEMORY_BENCH_FRAMES override the sizes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeDicom } from "../src/devtools/dicomWriter";
import { writeDeflateBomb } from "../test/unit/helpers/hostileDicom";

const outRoot = path.resolve(__dirname, "..");
const MB = 1024 * 1024;

const childScript = `
const { WorkerPool } = require(process.env.MII_OUT_ROOT + "/src/core/pipeline/workerPool.js");
const { defaultConvertOptions } = require(process.env.MII_OUT_ROOT + "/src/core/dicom/types.js");
const files = JSON.parse(process.env.MII_FILES);
const pool = new WorkerPool({ script: process.env.MII_WORKER, size: 2, taskTimeoutMs: 600000 });
const t0 = Date.now();
Promise.all(files.map((f) => pool.convertFile(f, defaultConvertOptions).then((r) => ({ file: f, kind: r.outcome.kind, error: r.outcome.kind === "failed" ? r.outcome.stage + ": " + r.outcome.error : undefined, warnings: r.outcome.kind === "image" ? r.outcome.warnings : undefined, width: r.outcome.kind === "image" ? r.outcome.width : undefined }))))
	.then(async (results) => {
		await pool.dispose();
		process.stdout.write(JSON.stringify({ results, ms: Date.now() - t0, maxRssKb: process.resourceUsage().maxRSS }) + "\\n");
	}, (e) => { process.stderr.write(String(e && e.stack || e) + "\\n"); process.exit(3); });
`;

interface Converted {
	file: string;
	kind: string;
	error?: string;
	warnings?: string[];
	width?: number;
}

function runChild(files: string[]): Promise<{ results: Converted[]; ms: number; maxRssKb: number }> {
	const script = path.join(os.tmpdir(), `mii-memory-bench-${process.pid}.js`);
	fs.writeFileSync(script, childScript);
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [script], {
			env: { ...process.env, MII_OUT_ROOT: outRoot, MII_WORKER: path.join(outRoot, "src/workers/convertWorker.js"), MII_FILES: JSON.stringify(files) },
			stdio: ["ignore", "pipe", "inherit"],
		});
		let out = "";
		child.stdout.on("data", (d: Buffer) => (out += d.toString()));
		child.on("error", reject);
		child.on("close", (code) => {
			fs.rmSync(script, { force: true });
			if (code !== 0) reject(new Error(`memory bench child exited with ${code}`));
			else resolve(JSON.parse(out) as { results: Converted[]; ms: number; maxRssKb: number });
		});
	});
}

function ct(i: number): Uint8Array {
	const pixels = new Int16Array(512 * 512);
	for (let k = 0; k < pixels.length; k++) pixels[k] = ((k % 512) * 3 + Math.floor(k / 512) * 2 + i * 17) % 3000 - 1000;
	return writeDicom({ rows: 512, columns: 512, bitsAllocated: 16, pixelRepresentation: 1, pixels, modality: "CT", rescaleIntercept: -1024, rescaleSlope: 1 });
}

/** A native multi-frame file of `frames` 512×512 16-bit frames, written frame by frame. */
async function writeMultiFrame(file: string, frames: number): Promise<number> {
	const frameBytes = 512 * 512 * 2;
	const one = new Uint16Array(512 * 512 * 2);
	for (let k = 0; k < one.length; k++) one[k] = (k * 7) % 4096;
	const two = writeDicom({ rows: 512, columns: 512, frames: 2, bitsAllocated: 16, pixels: one, modality: "XA", overrides: [[0x00280008, "IS", String(frames)]] });
	const header = Buffer.from(two.subarray(0, two.length - 2 * frameBytes));
	header.writeUInt32LE(frames * frameBytes, header.length - 4); // Pixel Data length
	const frame = Buffer.from(two.subarray(two.length - 2 * frameBytes, two.length - frameBytes));
	const out = fs.createWriteStream(file);
	out.write(header);
	for (let f = 0; f < frames; f++) {
		if (!out.write(frame)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
	}
	await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
	return fs.statSync(file).size;
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-memory-bench-"));
	const rows: (string | number)[][] = [];
	try {
		// 1. Deflate bombs among good files.
		const bombMb = Number(process.env["MII_MEMORY_BENCH_BOMB_MB"] ?? 1536);
		const bomb = path.join(dir, "bomb-1.dcm");
		const bombSize = await writeDeflateBomb(bomb, bombMb * MB);
		const files: string[] = [];
		for (let i = 0; i < 24; i++) {
			const f = path.join(dir, `ct-${String(i).padStart(2, "0")}.dcm`);
			fs.writeFileSync(f, ct(i));
			files.push(f);
			if (i === 3 || i === 11) {
				const copy = path.join(dir, `bomb-${i === 3 ? 2 : 3}.dcm`);
				fs.copyFileSync(bomb, copy);
				files.push(copy);
			}
		}
		files.splice(18, 0, bomb);
		const a = await runChild(files);
		const bombs = a.results.filter((r) => path.basename(r.file).startsWith("bomb"));
		const good = a.results.filter((r) => !path.basename(r.file).startsWith("bomb"));
		const bombsFailed = bombs.filter((r) => r.kind === "failed").length;
		rows.push([
			`3 deflate bombs (${(bombSize / MB).toFixed(2)} MB → ${bombMb} MB each) among 24 CT 512², 2 workers`,
			`${bombsFailed}/3 failed with a reason; ${good.filter((r) => r.kind === "image").length}/24 converted`,
			(a.ms / 1000).toFixed(1),
			Math.round(a.maxRssKb / 1024),
		]);
		console.log(`bomb reason: ${bombs[0]?.error ?? "(none)"}`);
		for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });

		// 2. A 2 GB multi-frame file.
		const frames = Number(process.env["MII_MEMORY_BENCH_FRAMES"] ?? 4000);
		const big = path.join(dir, "multi-frame.dcm");
		const bigSize = await writeMultiFrame(big, frames);
		const b = await runChild([big]);
		const r = b.results[0];
		rows.push([
			`native multi-frame file, ${frames} frames of 512² 16-bit (${(bigSize / MB).toFixed(0)} MB), 2 workers`,
			r?.kind === "image" ? `first frame converted (${r.width}×${r.width}); ${r.warnings?.find((w) => w.startsWith("only")) ?? ""}` : `${r?.kind}: ${r?.error ?? ""}`,
			(b.ms / 1000).toFixed(1),
			Math.round(b.maxRssKb / 1024),
		]);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
	return [{ title: "Memory on hostile files (peak RSS of the converting process, workers included; aim < 800 MB)", columns: ["scenario", "outcome", "seconds", "peak RSS MB"], rows }];
}
