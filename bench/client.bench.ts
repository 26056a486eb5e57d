/**
 * Endpoint client throughput against the simulated endpoint on 127.0.0.1:
 * (a) rate-bound: simulator and client both limited to R calls per period, batch B, no latency —
 *     achieved images/s as a fraction of the ceiling R×B/period, and the 429s the client caused;
 * (b) latency-bound: no rate limit, 200 ms latency, capacity C in flight — images/s against C×B/0.2 s,
 *     with the client's cap at C, and at 2×C (the adaptive concurrency has to find C itself).
 * The simulator runs in a worker thread (this same file), so that its arrival clock is not stalled by
 * the client's own work, as with a real endpoint on another machine.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { PNG } from "pngjs";
import { EndpointClient } from "../src/core/endpoint/client";
import { keyTokenProvider } from "../src/core/endpoint/auth";
import { defaultEndpointSettings, type EmbedRequestItem, type EndpointSettings } from "../src/core/endpoint/types";
import { nullLogger } from "../src/core/util/logger";
import { startSimulator, type SimulatorOptions } from "../src/core/simulator/server";

const key = "bench-key";

function syntheticPng(i: number, size = 64): Uint8Array {
	const png = new PNG({ width: size, height: size, colorType: 2, inputColorType: 2, inputHasAlpha: false });
	const data = Buffer.alloc(size * size * 3);
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			const v = (x * ((i % 13) + 1) + y * ((i % 7) + 2) + i * 17) & 255;
			data.fill(v, (y * size + x) * 3, (y * size + x) * 3 + 3);
		}
	}
	png.data = data;
	return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}

interface SimStats {
	requests: number;
	rejected429: number;
	rejectedPending: number;
}

interface RemoteSimulator {
	url: string;
	stats(): Promise<SimStats>;
	close(): Promise<void>;
}

/** Worker side: start the simulator, answer "stats" and "close". */
if (!isMainThread && (workerData as { role?: string } | null)?.role === "client-bench-simulator") {
	const port = parentPort;
	void startSimulator({ key, ...(workerData as { options: Partial<SimulatorOptions> }).options }).then((sim) => {
		port?.postMessage({ url: sim.url });
		port?.on("message", (m: string) => {
			if (m === "stats") port.postMessage({ stats: { requests: sim.stats.requests, rejected429: sim.stats.rejected429, rejectedPending: sim.stats.rejectedPending } });
			if (m === "close") void sim.close().then(() => port.postMessage({ closed: true }));
		});
	});
}

async function startRemoteSimulator(options: Partial<SimulatorOptions>): Promise<RemoteSimulator> {
	const worker = new Worker(__filename, { workerData: { role: "client-bench-simulator", options } });
	const next = <T>(pick: (m: Record<string, unknown>) => T | undefined) =>
		new Promise<T>((resolve, reject) => {
			const onMessage = (m: Record<string, unknown>) => {
				const v = pick(m);
				if (v === undefined) return;
				worker.off("message", onMessage);
				worker.off("error", reject);
				resolve(v);
			};
			worker.on("message", onMessage);
			worker.once("error", reject);
		});
	const url = await next((m) => m["url"] as string | undefined);
	return {
		url,
		stats: async () => {
			const p = next((m) => m["stats"] as SimStats | undefined);
			worker.postMessage("stats");
			return p;
		},
		close: async () => {
			const p = next((m) => (m["closed"] ? true : undefined));
			worker.postMessage("close");
			await p;
			await worker.terminate();
		},
	};
}

interface Outcome {
	images: number;
	failed: number;
	seconds: number;
	requests: number;
	rejected429: number;
	rejectedPending: number;
	minConcurrency: number;
}

/** Sends `batches` batches of `batchSize` images, keeping `outstanding` embedImages calls open (like the pipeline). */
async function drive(sim: Partial<SimulatorOptions>, client: Partial<EndpointSettings>, batches: number, batchSize: number, outstanding: number): Promise<Outcome> {
	const server = await startRemoteSimulator(sim);
	const pngs = Array.from({ length: 256 }, (_, i) => syntheticPng(i));
	const settings: EndpointSettings = { ...defaultEndpointSettings, url: server.url, batchSize, minRetryDelayMs: 200, maxRetryDelayMs: 5000, ...client };
	const c = new EndpointClient(settings, keyTokenProvider(async () => key), nullLogger);
	let minConcurrency = settings.maxConcurrentRequests;
	c.onDidChangeStatus((s) => {
		if (s.state === "running") minConcurrency = Math.min(minConcurrency, s.concurrency);
	});
	const signal = new AbortController().signal;
	let next = 0;
	let images = 0;
	let failed = 0;
	const started = performance.now();
	try {
		await Promise.all(
			Array.from({ length: outstanding }, async () => {
				while (next < batches) {
					const b = next++;
					const items: EmbedRequestItem[] = Array.from({ length: batchSize }, (_, j) => ({ id: `${b}-${j}`, png: pngs[(b * batchSize + j) % pngs.length] as Uint8Array }));
					for (const r of await c.embedImages(items, signal)) {
						if (r.ok) images++;
						else failed++;
					}
				}
			}),
		);
		const seconds = (performance.now() - started) / 1000;
		const st = await server.stats();
		return { images, failed, seconds, requests: st.requests, rejected429: st.rejected429, rejectedPending: st.rejectedPending, minConcurrency };
	} finally {
		c.dispose();
		await server.close();
	}
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const B = 10;
	const rate = { calls: 20, periodSeconds: 2 };
	const ceiling = (rate.calls * B) / rate.periodSeconds;
	const a = await drive({ rate }, { rateLimit: rate, maxConcurrentRequests: 3 }, 600, B, 6);
	const rateRows = [["20 calls / 2 s, batch 10, no latency", a.images, a.failed, a.seconds, a.images / a.seconds, ceiling, a.images / a.seconds / ceiling, a.requests, a.rejected429]];

	const latencyMs = 200;
	const capacity = 4;
	const bound = (capacity * B) / (latencyMs / 1000);
	const latencyRows: (string | number)[][] = [];
	for (const cap of [capacity, 2 * capacity]) {
		const o = await drive({ latencyMs, capacity }, { rateLimit: { calls: 100_000, periodSeconds: 1 }, maxConcurrentRequests: cap, retries: 12 }, 300, B, 2 * cap);
		latencyRows.push([`client cap ${cap}, capacity ${capacity}, 200 ms`, o.images, o.failed, o.seconds, o.images / o.seconds, bound, o.images / o.seconds / bound, o.rejectedPending, o.minConcurrency]);
	}
	return [
		{
			title: "Endpoint client, rate-bound (simulated endpoint with the same limit)",
			columns: ["scenario", "images", "failed", "seconds", "images/s", "ceiling images/s", "fraction of ceiling", "requests", "429s caused"],
			rows: rateRows,
		},
		{
			title: "Endpoint client, latency-bound (no rate limit, 200 ms per request, 4 in flight at most)",
			columns: ["scenario", "images", "failed", "seconds", "images/s", "bound images/s", "fraction of bound", "'too many pending' 429s", "lowest concurrency"],
			rows: latencyRows,
		},
	];
}
