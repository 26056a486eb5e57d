/**
 * Batch splitting (PRODUCT.md §2–§3): a batch of images becomes requests within the row and payload
 * caps; an image whose request alone is above the payload cap fails at once; a group the endpoint
 * refuses as too large (413) is halved until it fits; a group that fails for good in a way one image
 * may have caused is tried again one image at a time, so one bad image does not fail its neighbours.
 */
import type { Logger } from "../util/logger";
import { payloadBytes, splitByPayload, type PayloadRow } from "./payload";
import type { ParsedEmbeddings } from "./response";
import { AttemptError, retryPolicy } from "./retryPolicy";
import type { EmbedItemResult } from "./types";

/** A request row with an id unique within the call. */
export interface Row extends PayloadRow {
	id: string;
}

/** Sends one group (with its retries); rejects with an AttemptError when the group failed. */
export type SendGroup = (group: Row[]) => Promise<ParsedEmbeddings>;

/** Every row's result, by id: `send` is called for each group, groups are split as above. */
export async function embedRows(rows: Row[], limits: { batchSize: number; maxPayloadBytes: number }, send: SendGroup, logger: Logger): Promise<Map<string, EmbedItemResult>> {
	const results = new Map<string, EmbedItemResult>();
	const groups = splitByPayload(rows, limits.batchSize, limits.maxPayloadBytes);
	await Promise.all(
		groups.map(async (group) => {
			if (group.length === 1 && payloadBytes(group) > limits.maxPayloadBytes) {
				const row = group[0] as Row;
				results.set(row.id, { id: row.id, ok: false, error: `image too large: its request body (${payloadBytes(group)} bytes) exceeds the payload cap of ${limits.maxPayloadBytes} bytes` });
				return;
			}
			for (const r of await embedGroup(group, send, logger, true)) results.set(r.id, r);
		}),
	);
	return results;
}

/** One group of images: send it; on 413 halve it; after a permanent failure, try the images one by one. */
async function embedGroup(group: Row[], send: SendGroup, logger: Logger, mayTrySingles: boolean): Promise<EmbedItemResult[]> {
	try {
		const { vectors, scalingFactor } = await send(group);
		return group.map((row, i) => {
			const embedding = vectors[i] as Float32Array;
			return scalingFactor === undefined ? { id: row.id, ok: true, embedding } : { id: row.id, ok: true, embedding, scalingFactor };
		});
	} catch (e) {
		if (!(e instanceof AttemptError)) throw e;
		if (e.kind === "too-large") {
			if (group.length === 1) return [{ id: (group[0] as Row).id, ok: false, error: "image too large for the endpoint (HTTP 413)" }];
			const half = Math.ceil(group.length / 2);
			logger.info(`Endpoint refused a batch of ${group.length} images as too large; splitting it in two.`);
			const parts = await Promise.all([embedGroup(group.slice(0, half), send, logger, mayTrySingles), embedGroup(group.slice(half), send, logger, mayTrySingles)]);
			return parts.flat();
		}
		if (group.length > 1 && mayTrySingles && retryPolicy.splitToSingles.has(e.kind)) {
			logger.warn(`A batch of ${group.length} images failed (${e.message}); retrying its images one by one.`);
			const singles = await Promise.all(group.map((row) => embedGroup([row], send, logger, false)));
			return singles.flat();
		}
		return group.map((row) => ({ id: row.id, ok: false, error: e.message }));
	}
}
