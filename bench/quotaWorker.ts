/**
 * A worker process of the quota bench (quota.bench.ts): one EndpointClient on the shared quota, sending
 * its share of the batches with a few calls open at once (like the pipeline), then reporting.
 */
import { PNG } from "pngjs";
import { EndpointClient } from "../src/core/endpoint/client";
import { keyTokenProvider } from "../src/core/endpoint/auth";
import { defaultEndpointSettings, type EmbedRequestItem, type EndpointSettings } from "../src/core/endpoint/types";
import { createSharedQuota } from "../src/core/queue/sharedQuota";
import { nullLogger } from "../src/core/util/logger";

export interface QuotaBenchWorkerConfig {
	redisUrl: string;
	endpointUrl: string;
	key: string;
	rate: { calls: number; periodSeconds: number };
	maxConcurrentRequests: number;
	batches: number;
	batchSize: number;
	outstanding: number;
}

function syntheticPng(i: number, size = 64): Uint8Array {
	const png = new PNG({ width: size, height: size, colorType: 2, inputColorType: 2, inputHasAlpha: false });
	const data = Buffer.alloc(size * size * 3);
	for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data.fill((x * ((i % 13) + 1) + y * ((i % 7) + 2) + i * 17) & 255, (y * size + x) * 3, (y * size + x) * 3 + 3);
	png.data = data;
	return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}

async function main(): Promise<void> {
	const c = JSON.parse(process.env["QUOTA_BENCH_WORKER"] ?? "{}") as QuotaBenchWorkerConfig;
	const quota = await createSharedQuota({ redisUrl: c.redisUrl, endpointUrl: c.endpointUrl, rate: c.rate, maxConcurrentRequests: c.maxConcurrentRequests, logger: nullLogger });
	const settings: EndpointSettings = { ...defaultEndpointSettings, url: c.endpointUrl, batchSize: c.batchSize, rateLimit: c.rate, maxConcurrentRequests: c.maxConcurrentRequests, minRetryDelayMs: 200, maxRetryDelayMs: 5000 };
	const client = new EndpointClient(settings, keyTokenProvider(async () => c.key), nullLogger, fetch, { quota });
	const pngs = Array.from({ length: 64 }, (_, i) => syntheticPng(i + process.pid));
	// Warm the HTTP stack on the simulator's description page (not a scoring request).
	await fetch(new URL("/", c.endpointUrl)).then((r) => r.text());
	process.send?.({ ready: true });
	await new Promise<void>((resolve) => process.once("message", () => resolve()));
	const signal = new AbortController().signal;
	let next = 0;
	let images = 0;
	let failed = 0;
	await Promise.all(
		Array.from({ length: c.outstanding }, async () => {
			while (next < c.batches) {
				const b = next++;
				const items: EmbedRequestItem[] = Array.from({ length: c.batchSize }, (_, j) => ({ id: `${b}-${j}`, png: pngs[(b * c.batchSize + j) % pngs.length] as Uint8Array }));
				for (const r of await client.embedImages(items, signal)) {
					if (r.ok) images++;
					else failed++;
				}
			}
		}),
	);
	client.dispose();
	await quota.dispose();
	process.send?.({ images, failed }, undefined, {}, () => process.exit(0));
}

void main();
