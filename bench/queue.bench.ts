/**
 * `npm run bench -- queue`: a distributed run with 1, 2 and 4 `medimageinsight worker` processes
 * (the built CLI) on a private redis-server, against the simulated endpoint on 127.0.0.1 with 500 ms
 * of latency and a server-side limit equal to the run's shared quota (100 calls / 10 s, batches of 4:
 * a ceiling of 40 images/s). With one job of 8 images at a time a worker is latency-bound (about
 * 12–16 images/s); throughput should grow with the workers until the shared quota binds (the last
 * row: 4 workers × 2 jobs could send twice the ceiling), then stay near the ceiling — the workers'
 * limiter spaces requests (period + 250 ms + 1 %) / calls apart, so 0.966 at most here — with no 429
 * caused by the workers.
 *
 * Throughput is measured on the simulator's answers (images answered per second between the first
 * and the last request), so start-up and the final merge are not counted; the whole wall time is
 * shown beside it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startSimulator } from "../src/core/simulator/server";
import { startRedis } from "../test/unit/helpers/redis";
import { writeCorpus } from "../test/unit/queue/queueHelpers";

const repo = path.join(__dirname, "../..");
const cli = path.join(repo, "dist/cli.js");
const key = "bench-queue-key";
const rate = { calls: 100, periodSeconds: 10 };
const batch = 4;
const images = 600;

function start(args: string[]): { child: ChildProcess; done: Promise<number | null>; stderr: () => string } {
	const child = spawn(process.execPath, [cli, ...args], { cwd: repo, env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), MEDIMAGEINSIGHT_API_KEY: key }, stdio: ["ignore", "ignore", "pipe"] });
	let err = "";
	child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
	return { child, done: new Promise((resolve) => child.on("close", (code) => resolve(code))), stderr: () => err };
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const built = spawnSync(process.execPath, ["esbuild.js"], { cwd: repo, encoding: "utf8" });
	if (built.status !== 0) throw new Error(`node esbuild.js failed: ${built.stderr}`);
	const redis = await startRedis();
	if (!redis) throw new Error("redis-server is not installed (apt-get install -y redis-server)");
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-bench-queue-"));
	const input = path.join(tmp, "in");
	writeCorpus(input, images, 11);
	const rows: (string | number)[][] = [];
	const ceiling = (rate.calls * batch) / rate.periodSeconds;
	try {
		for (const [n, jobs] of [
			[1, 1],
			[2, 1],
			[4, 1],
			[4, 2],
		] as const) {
			const sim = await startSimulator({ port: 0, key, latencyMs: 500, rate, capacity: 256 });
			const out = path.join(tmp, `out-${n}x${jobs}`);
			const workers = Array.from({ length: n }, (_, i) => start(["worker", "--queue", redis.url, "--id", `b${n}x${jobs}-${i}`, "--jobs", String(jobs), "--workers", "1"]));
			const t0 = Date.now();
			const submit = start(["submit", input, "--queue", redis.url, "--endpoint", sim.url, "--out", out, "--rate", `${rate.calls}/${rate.periodSeconds}`, "--concurrency", "32", "--batch-size", String(batch), "--job-size", "8", "--wait"]);
			const code = await submit.done;
			const wall = (Date.now() - t0) / 1000;
			for (const w of workers) w.child.kill("SIGTERM");
			await Promise.all(workers.map((w) => w.done));
			if (code !== 0) throw new Error(`submit --wait exited ${code}: ${submit.stderr().slice(-2000)}`);
			const ok = sim.stats.log.filter((l) => l.status === 200);
			const span = (ok.at(-1)!.t - ok[0]!.t) / 1000;
			// Images answered after the first request, per second of the span between first and last request.
			const answered = ok.slice(1).reduce((a, l) => a + l.rows, 0);
			const throughput = answered / span;
			rows.push([n, jobs, images, sim.stats.requests, sim.stats.rejected429, throughput, throughput / ceiling, wall]);
			await sim.close();
		}
	} finally {
		await redis.stop();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
	return [
		{
			title: `Queue: N worker processes, shared quota ${rate.calls} calls/${rate.periodSeconds} s × batch ${batch} = ${ceiling} img/s ceiling, endpoint latency 500 ms, jobs of 8 images (${images} generated 64×64 DICOM)`,
			columns: ["workers", "jobs at once per worker", "images", "requests", "429s", "img/s (steady)", "fraction of ceiling", "wall s (incl. start + merge)"],
			rows,
		},
	];
}
