/**
 * The shared quota (src/core/queue/sharedQuota.ts): 1, 2 and 4 worker processes, each with its own
 * EndpointClient on one quota in a real redis-server, against one simulated endpoint with the same
 * rate limit (no latency: the rate is the only bound). Reported: images/s as a fraction of the shared
 * ceiling calls × batch / period, the 429s the workers caused, and the most requests the endpoint saw
 * in any window of the period. Needs redis-server (installed when missing, as for the tests).
 */
import { fork } from "node:child_process";
import * as path from "node:path";
import { startSimulator } from "../src/core/simulator/server";
import { startRedis } from "../test/unit/helpers/redis";
import type { QuotaBenchWorkerConfig } from "./quotaWorker";

const key = "quota-bench-key";

function maxInAnyWindow(times: number[], periodMs: number): number {
	const t = [...times].sort((a, b) => a - b);
	let most = 0;
	let lo = 0;
	for (let hi = 0; hi < t.length; hi++) {
		while ((t[lo] as number) <= (t[hi] as number) - periodMs) lo++;
		most = Math.max(most, hi - lo + 1);
	}
	return most;
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const redis = await startRedis();
	if (!redis) throw new Error("redis-server is not installed (sudo apt-get install -y redis-server)");
	const rate = { calls: 20, periodSeconds: 2 };
	const batchSize = 10;
	const totalBatches = 400;
	const ceiling = (rate.calls * batchSize) / rate.periodSeconds;
	const rows: (string | number)[][] = [];
	try {
		for (const n of [1, 2, 4]) {
			const sim = await startSimulator({ key, rate, latencyMs: 0, capacity: 64 });
			try {
				const base: Omit<QuotaBenchWorkerConfig, "batches"> = { redisUrl: redis.url, endpointUrl: sim.url, key, rate, maxConcurrentRequests: 3, batchSize, outstanding: 6 };
				const children = Array.from({ length: n }, (_, w) =>
					fork(path.join(__dirname, "quotaWorker.js"), [], { env: { ...process.env, QUOTA_BENCH_WORKER: JSON.stringify({ ...base, batches: Math.floor(totalBatches / n) + (w < totalBatches % n ? 1 : 0) }) }, stdio: ["ignore", "inherit", "inherit", "ipc"] }),
				);
				const next = (c: (typeof children)[number]) =>
					new Promise<Record<string, number | boolean>>((resolve, reject) => {
						c.once("message", (m) => resolve(m as Record<string, number | boolean>));
						c.once("exit", (code) => reject(new Error(`quota bench worker exited with ${code}`)));
					});
				await Promise.all(children.map(next));
				const started = performance.now();
				const done = children.map(next);
				for (const c of children) c.send("go");
				const results = await Promise.all(done);
				const seconds = (performance.now() - started) / 1000;
				const images = results.reduce((s, r) => s + Number(r["images"]), 0);
				const failed = results.reduce((s, r) => s + Number(r["failed"]), 0);
				const most = maxInAnyWindow(sim.stats.log.filter((e) => e.status !== 429).map((e) => e.t), rate.periodSeconds * 1000);
				rows.push([n, images, failed, seconds, images / seconds, ceiling, images / seconds / ceiling, sim.stats.requests, sim.stats.rejected429, most]);
			} finally {
				await sim.close();
			}
		}
	} finally {
		await redis.stop();
	}
	return [
		{
			title: "Shared quota (Redis), 20 calls / 2 s shared by N worker processes, batch 10, no latency",
			columns: ["workers", "images", "failed", "seconds", "images/s", "shared ceiling images/s", "fraction of ceiling", "requests", "429s caused", "most requests in any 2 s"],
			rows,
		},
	];
}
