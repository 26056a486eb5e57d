/**
 * Discovery on a flat folder of 1,000,000 files (issue 9, item 7): time to the first file, total time
 * and discovery's heap. The files (empty, named *.dcm, so every one is a candidate and is opened to be
 * sniffed) are created in a temporary folder and deleted afterwards. The walk runs in a child process
 * started with `--max-old-space-size=50`: finishing at all shows that discovery never needs more
 * than 50 MB of heap; the peak heapUsed above the baseline (sampled every 10,000 items, after a
 * forced GC at the start) is reported too.
 * Run: `npm run bench -- discover` (MII_BENCH_DISCOVER_FILES=N for another count).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

interface Table {
	title: string;
	columns: string[];
	rows: (string | number)[][];
}

interface ChildResult {
	items: number;
	firstMs: number;
	totalMs: number;
	baselineMb: number;
	peakDeltaMb: number;
}

const discoverModule = path.join(__dirname, "../src/core/pipeline/discover.js");

const childScript = `
const { discover } = require(${JSON.stringify(discoverModule)});
const { performance } = require("node:perf_hooks");
(async () => {
	global.gc();
	const baseline = process.memoryUsage().heapUsed;
	let peak = baseline;
	const t0 = performance.now();
	let first = -1;
	let items = 0;
	for await (const item of discover([process.argv[1]])) {
		if (items === 0) first = performance.now() - t0;
		items++;
		if (items % 10000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
	}
	peak = Math.max(peak, process.memoryUsage().heapUsed);
	const mb = (b) => b / (1024 * 1024);
	process.stdout.write(JSON.stringify({ items, firstMs: first, totalMs: performance.now() - t0, baselineMb: mb(baseline), peakDeltaMb: mb(peak - baseline) }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

export async function run(): Promise<Table[]> {
	const count = Number(process.env["MII_BENCH_DISCOVER_FILES"] ?? 1_000_000);
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-bench-discover-"));
	try {
		const c0 = performance.now();
		for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(path.join(dir, `IM${i}.dcm`), "w"));
		const createS = (performance.now() - c0) / 1000;
		const r = spawnSync(process.execPath, ["--expose-gc", "--max-old-space-size=50", "-e", childScript, dir], { encoding: "utf8", maxBuffer: 1024 * 1024 });
		const ok = r.status === 0;
		const res = ok ? (JSON.parse(r.stdout) as ChildResult) : undefined;
		if (!ok) console.log(`discovery child failed (status ${String(r.status)}, signal ${String(r.signal)}): ${r.stderr.slice(0, 2000)}`);
		return [
			{
				title: `Discovery of a flat folder of ${count.toLocaleString("en")} empty *.dcm files (heap capped at 50 MB)`,
				columns: ["files", "create files (s)", "first file (ms)", "whole walk (s)", "files/s", "heap baseline (MB)", "peak heap above baseline (MB)", "finished under the 50 MB cap"],
				rows: [
					[
						count,
						createS,
						res ? res.firstMs : "-",
						res ? res.totalMs / 1000 : "-",
						res ? Math.round(res.items / (res.totalMs / 1000)) : "-",
						res ? res.baselineMb : "-",
						res ? res.peakDeltaMb : "-",
						ok && res?.items === count ? "yes" : "NO",
					],
				],
			},
		];
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}
