/**
 * A child process of the shared-quota tests (forked by sharedQuota.test.ts): one EndpointClient with a
 * SharedQuota on Redis, sending its own images to the endpoint the parent started. It waits for "go",
 * embeds its images one request each, reports what happened, and exits.
 */
import { EndpointClient } from "../../../src/core/endpoint/client";
import { keyTokenProvider } from "../../../src/core/endpoint/auth";
import type { EmbedItemResult, EndpointSettings } from "../../../src/core/endpoint/types";
import { createSharedQuota, type SharedQuota } from "../../../src/core/queue/sharedQuota";
import { captureLogger, fastSettings, makePng } from "../endpoint/helpers";

export interface QuotaWorkerConfig {
	redisUrl: string;
	endpointUrl: string;
	rate: { calls: number; periodSeconds: number };
	/** In flight across all workers. */
	sharedMaxConcurrent: number;
	/** This worker's images: `count` distinct PNGs numbered from `first`. */
	first: number;
	count: number;
	settings: Partial<EndpointSettings>;
}

export interface QuotaWorkerReport {
	ok: number;
	failed: string[];
	/** Statuses of every answer this worker got, by status. */
	statuses: Record<string, number>;
	/** Whether the client reported "paused" at some point, and whether a pause was taken over from another worker. */
	paused: boolean;
	pausedByOther: boolean;
	log: string[];
	/** When each rate slot was granted (ms since epoch): the moment a request left the shared limiter. */
	grants: number[];
}

async function main(): Promise<void> {
	const config = JSON.parse(process.env["QUOTA_WORKER"] ?? "{}") as QuotaWorkerConfig;
	const { logger, lines } = captureLogger();
	const quota = await createSharedQuota({ redisUrl: config.redisUrl, endpointUrl: config.endpointUrl, rate: config.rate, maxConcurrentRequests: config.sharedMaxConcurrent, logger });
	const statuses: Record<string, number> = {};
	const grants: number[] = [];
	// The shared limiter, watched: it records when each slot is granted.
	const watched: SharedQuota = {
		...quota,
		limiter: {
			acquire: (signal, holdMs) =>
				quota.limiter.acquire(signal, holdMs).then((release) => {
					grants.push(Date.now());
					return release;
				}),
			get window() {
				return quota.limiter.window;
			},
			widen: () => quota.limiter.widen(),
			stop: () => quota.limiter.stop(),
		},
	};
	const countingFetch = async (input: string, init: RequestInit): Promise<Response> => {
		const res = await fetch(input, init);
		statuses[res.status] = (statuses[res.status] ?? 0) + 1;
		return res;
	};
	const settings = fastSettings(config.endpointUrl, { rateLimit: config.rate, batchSize: 1, ...config.settings });
	const client = new EndpointClient(settings, keyTokenProvider(async () => process.env["MEDIMAGEINSIGHT_API_KEY"] ?? ""), logger, countingFetch, { quota: watched });
	let paused = false;
	client.onDidChangeStatus((s) => {
		if (s.state === "paused") paused = true;
	});
	const images = Array.from({ length: config.count }, (_, k) => {
		const i = config.first + k;
		return { id: `img-${i}`, png: makePng(24, 24, (x, y) => ((x * (i + 3) + y * ((i % 11) + 1)) * 5 + i * 17) % 256) };
	});
	// A cold process's first fetch loads the HTTP stack (hundreds of ms on a loaded machine) after its
	// rate slot was granted; warm it on the simulator's description page (not a scoring request).
	await fetch(new URL("/", config.endpointUrl)).then((r) => r.text());
	process.send?.({ ready: true });
	await new Promise<void>((resolve) => process.once("message", () => resolve()));
	const signal = new AbortController().signal;
	// One call per image, all at once: the client's own concurrency and the shared quota set the pace.
	const results: EmbedItemResult[] = (await Promise.all(images.map((im) => client.embedImages([im], signal)))).flat();
	client.dispose();
	await quota.dispose();
	const report: QuotaWorkerReport = {
		ok: results.filter((r) => r.ok).length,
		failed: results.filter((r) => !r.ok).map((r) => `${r.id}: ${r.ok ? "" : r.error}`),
		statuses,
		paused,
		pausedByOther: lines.some((l) => l.includes("Paused by another worker")),
		grants,
		log: lines.filter((l) => !l.startsWith("trace") && !l.startsWith("debug")).slice(-40),
	};
	process.send?.({ report }, undefined, {}, () => process.exit(0));
}

main().catch((e: unknown) => {
	process.send?.({ error: e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e) }, undefined, {}, () => process.exit(1));
});
