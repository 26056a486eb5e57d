/**
 * The shared quota (src/core/queue/sharedQuota.ts) with a real redis-server and real processes: several
 * forked workers, each with its own EndpointClient, against ONE loopback simulated endpoint that
 * enforces a rate limit and records every arrival.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import Redis from "ioredis";
import { startSimulator } from "../../../src/core/simulator/server";
import { createSharedQuota, quotaId } from "../../../src/core/queue/sharedQuota";
import { nullLogger } from "../../../src/core/util/logger";
import { startRedis, type RedisServer } from "../helpers/redis";
import type { QuotaWorkerConfig, QuotaWorkerReport } from "./sharedQuotaWorker";

const workerScript = path.join(__dirname, "sharedQuotaWorker.js");
const key = "shared-quota-test-key";

interface Worker {
	child: ChildProcess;
	ready: Promise<void>;
	report: Promise<QuotaWorkerReport>;
}

function startWorker(config: QuotaWorkerConfig): Worker {
	const child = fork(workerScript, [], { env: { ...process.env, QUOTA_WORKER: JSON.stringify(config), MEDIMAGEINSIGHT_API_KEY: key }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
	let readyResolve!: () => void;
	const ready = new Promise<void>((r) => (readyResolve = r));
	const report = new Promise<QuotaWorkerReport>((resolve, reject) => {
		child.on("message", (m: { ready?: boolean; report?: QuotaWorkerReport; error?: string }) => {
			if (m.ready) readyResolve();
			if (m.report) resolve(m.report);
			if (m.error) reject(new Error(`worker failed: ${m.error}`));
		});
		child.once("exit", (code) => reject(new Error(`worker exited with ${code} before reporting`)));
	});
	report.catch(() => readyResolve());
	return { child, ready, report };
}

/** Runs `n` workers of `count` images each, started together once all are connected. */
async function runWorkers(n: number, base: Omit<QuotaWorkerConfig, "first" | "count">, count: number, whileRunning?: () => Promise<void>): Promise<QuotaWorkerReport[]> {
	const workers = Array.from({ length: n }, (_, w) => startWorker({ ...base, first: w * 1000, count }));
	try {
		await Promise.all(workers.map((w) => w.ready));
		for (const w of workers) w.child.send("go");
		const during = whileRunning?.();
		const reports = await Promise.all(workers.map((w) => w.report));
		await during;
		return reports;
	} finally {
		for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
	}
}

/** The most arrivals the server saw in any window of `periodMs` (a window (t - period, t], as the simulator counts). */
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

void describe("shared quota through Redis (several processes, one endpoint)", { timeout: 240_000 }, () => {
	let redis: RedisServer | undefined;
	before(async () => {
		redis = await startRedis();
	});
	after(async () => {
		await redis?.stop();
	});

	void it("three workers together never exceed the calls per period at the endpoint, cause no 429, and respect the shared in-flight cap", async (t) => {
		if (!redis) return t.skip("redis-server is not installed");
		// 33 requests against 30 per 30 s: the 31st may only arrive a full period after the 1st. (A long
		// period on purpose: the client's margin is 1 % of it, far above the scheduling jitter of a
		// loaded machine; with a 1 s period the 50 ms margin is within that noise.)
		const rate = { calls: 30, periodSeconds: 30 };
		const sim = await startSimulator({ key, rate, latencyMs: 40, capacity: 64 });
		try {
			const reports = await runWorkers(3, { redisUrl: redis.url, endpointUrl: sim.url, rate, sharedMaxConcurrent: 2, settings: { maxConcurrentRequests: 4 } }, 11);
			const logs = reports.map((r) => `${JSON.stringify(r.statuses)}\n${r.log.join("\n")}`).join("\n----\n");
			for (const r of reports) assert.deepEqual(r.failed, [], logs);
			assert.equal(reports.reduce((s, r) => s + r.ok, 0), 33);
			const t0 = sim.stats.log[0]?.t ?? 0;
			const arrivals = `arrivals (ms, status): ${sim.stats.log.map((e) => `${e.t - t0}:${e.status}`).join(" ")}`;
			assert.equal(sim.stats.rejected429, 0, `a 429 caused by our own rate; ${arrivals}`);
			assert.equal(sim.stats.requests, 33, `one request per image, nothing sent twice; ${arrivals}`);
			const most = maxInAnyWindow(sim.stats.log.map((e) => e.t), 30_000);
			assert.ok(most <= 30, `the endpoint saw ${most} requests within one period (limit 30); ${arrivals}`);
			// The same from the workers' side: when their requests left the shared limiter (one machine, one clock).
			const grants = reports.flatMap((r) => r.grants);
			assert.equal(grants.length, 33);
			assert.ok(maxInAnyWindow(grants, 30_000) <= 30);
			// Each worker alone may have 4 in flight; all together at most the shared 2.
			assert.ok(sim.stats.inFlightMax <= 2, `${sim.stats.inFlightMax} requests were in flight at once (shared limit 2)`);
		} finally {
			await sim.close();
		}
	});

	void it("an endpoint-wide 503 seen by one worker pauses all of them; one probes for all", async (t) => {
		if (!redis) return t.skip("redis-server is not installed");
		const rate = { calls: 40, periodSeconds: 1 };
		// The endpoint is down (503, Retry-After: 1 s) from its 6th request for 3 s of its own clock.
		let downFrom: number | undefined;
		let refused = 0;
		const sim = await startSimulator({
			key,
			rate,
			latencyMs: 20,
			capacity: 64,
			retryAfterSeconds: 1,
			fault: (info) => {
				if (info.n < 5) return undefined;
				downFrom ??= info.elapsedMs;
				if (info.elapsedMs - downFrom < 3000) {
					refused++;
					return "503";
				}
				return undefined;
			},
		});
		try {
			const settings = { maxConcurrentRequests: 2, minRetryDelayMs: 1000, maxRetryDelayMs: 5000, maxPauseMs: 120_000 };
			// One request in flight across all workers: the first 503 reaches one worker; the others can
			// only learn of the outage from the shared pause.
			const reports = await runWorkers(3, { redisUrl: redis.url, endpointUrl: sim.url, rate, sharedMaxConcurrent: 1, settings }, 10);
			for (const r of reports) assert.deepEqual(r.failed, [], r.log.join("\n"));
			assert.equal(reports.reduce((s, r) => s + r.ok, 0), 30);
			const logs = reports.map((r) => r.log.join("\n")).join("\n----\n");
			// Every worker paused; the two that did not get the first 503 took the pause over.
			assert.deepEqual(reports.map((r) => r.paused), [true, true, true], logs);
			assert.equal(reports.filter((r) => r.pausedByOther).length, 2, logs);
			// Refused requests: the first one, then one probe per Retry-After (1 s) for the whole cluster
			// over the 3 s outage (at most 4) — three workers each probing on their own would send three times as many.
			const refusedSeen = reports.reduce((s, r) => s + (r.statuses["503"] ?? 0), 0);
			assert.equal(refusedSeen, refused);
			assert.ok(refused >= 2 && refused <= 1 + 4, `${refused} requests were refused during the outage\n${logs}`);
		} finally {
			await sim.close();
		}
	});

	void it("Redis restarted in the middle of the run: every image still completes", async (t) => {
		if (!redis) return t.skip("redis-server is not installed");
		const rate = { calls: 10, periodSeconds: 1 };
		const sim = await startSimulator({ key, rate, latencyMs: 30, capacity: 64 });
		const server = redis;
		try {
			const reports = await runWorkers(2, { redisUrl: server.url, endpointUrl: sim.url, rate, sharedMaxConcurrent: 3, settings: { maxConcurrentRequests: 3, maxRetryDelayMs: 1000 } }, 15, async () => {
				// Restart once the endpoint has answered some of the 30 requests (a fresh, empty Redis).
				for (let i = 0; i < 600 && sim.stats.rows < 8; i++) await new Promise((r) => setTimeout(r, 50));
				await server.restart();
			});
			for (const r of reports) assert.deepEqual(r.failed, [], r.log.join("\n"));
			assert.equal(reports.reduce((s, r) => s + r.ok, 0), 30);
			assert.ok(sim.stats.rows >= 30);
		} finally {
			await sim.close();
		}
	});

	void it("keeps its keys under a hash of the redacted endpoint URL, and never stores the key", async (t) => {
		if (!redis) return t.skip("redis-server is not installed");
		const endpointUrl = "http://127.0.0.1:9/score?code=secret-in-url";
		const quota = await createSharedQuota({ redisUrl: redis.url, endpointUrl, rate: { calls: 5, periodSeconds: 1 }, maxConcurrentRequests: 2, logger: nullLogger });
		const release = await quota.limiter.acquire(new AbortController().signal, 1000);
		await quota.setPause({ reason: "test", resumeAt: Date.now() + 5000, since: Date.now() }, 1000);
		const client = new Redis(redis.url);
		try {
			const keys = await client.keys("*");
			const id = quotaId(endpointUrl);
			assert.equal(id, quotaId("http://127.0.0.1:9/score?code=another-secret"), "the id does not depend on a credential in the URL");
			assert.ok(keys.some((k) => k.startsWith(`b_mii-${id}`)), keys.join(", "));
			assert.ok(keys.includes(`mii:quota:${id}:pause`));
			for (const k of keys) {
				assert.ok(!k.includes("secret-in-url"));
				const type = await client.type(k);
				const dump = type === "string" ? await client.get(k) : type === "hash" ? JSON.stringify(await client.hgetall(k)) : type === "zset" ? JSON.stringify(await client.zrange(k, 0, -1)) : "";
				assert.ok(!String(dump).includes("secret-in-url"), `${k} holds the URL's credential`);
			}
			release();
			await quota.clearPause();
			assert.equal(await client.exists(`mii:quota:${id}:pause`), 0);
		} finally {
			client.disconnect();
			await quota.dispose();
		}
	});
});
