/**
 * The simulated endpoint in a worker thread of the test process, so that its arrival clock (which
 * the rate limit and the arrival log use) is not held up by the test's own work (reading the child
 * processes' output, assertions), as a real endpoint on another machine would not be.
 */
import * as path from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { SimulatorOptions, SimulatorStats } from "../../../src/core/simulator/server";

export interface ThreadSimulator {
	url: string;
	stats(): Promise<Pick<SimulatorStats, "requests" | "rejected429" | "log">>;
	close(): Promise<void>;
}

const role = "queue-test-simulator";

if (!isMainThread && (workerData as { role?: string } | null)?.role === role) {
	const port = parentPort!;
	void (async () => {
		const { startSimulator } = (await import(path.join(__dirname, "../../../src/core/simulator/server.js"))) as typeof import("../../../src/core/simulator/server");
		const sim = await startSimulator((workerData as { options: Partial<SimulatorOptions> }).options);
		port.postMessage({ url: sim.url });
		port.on("message", (m: string) => {
			if (m === "stats") port.postMessage({ stats: { requests: sim.stats.requests, rejected429: sim.stats.rejected429, log: sim.stats.log } });
			if (m === "close") void sim.close().then(() => port.postMessage({ closed: true }));
		});
	})();
}

export async function startThreadSimulator(options: Partial<SimulatorOptions>): Promise<ThreadSimulator> {
	const worker = new Worker(__filename, { workerData: { role, options } });
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
		async stats() {
			const s = next((m) => m["stats"] as Awaited<ReturnType<ThreadSimulator["stats"]>> | undefined);
			worker.postMessage("stats");
			return s;
		},
		async close() {
			const closed = next((m) => m["closed"] as boolean | undefined);
			worker.postMessage("close");
			await closed;
			await worker.terminate();
		},
	};
}
