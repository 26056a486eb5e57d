/**
 * The contract between the run pipeline and the endpoint client (PRODUCT.md §2–§3).
 * The client owns rate limiting, concurrency, retries, pauses and timeouts; the pipeline only
 * hands it batches and records what comes back.
 */
import type { Event } from "../util/events";

/** Gives the bearer credential for a request (endpoint key, or an Entra ID access token). */
export interface TokenProvider {
	getToken(signal?: AbortSignal): Promise<string>;
}

export interface EndpointSettings {
	/** Scoring URI, e.g. https://x.region.inference.ml.azure.com/score */
	url: string;
	/** Optional `azureml-model-deployment` header. */
	deployment?: string;
	/** Images per request (default 10). */
	batchSize: number;
	/** Requests in flight at once, upper bound (default 3). */
	maxConcurrentRequests: number;
	/** Client-side rate limit: at most `calls` requests per `periodSeconds` (default 60 / 60). */
	rateLimit: { calls: number; periodSeconds: number };
	/** Attempts per request including the first (default 8). */
	retries: number;
	/** Backoff bounds in ms (default 2000 / 60000). */
	minRetryDelayMs: number;
	maxRetryDelayMs: number;
	/** Per-request timeout in ms (default 90000). */
	requestTimeoutMs: number;
	/** Cap on the JSON body size in bytes; batches are cut to stay below it (default 20 MB). */
	maxPayloadBytes: number;
	/** How long the endpoint may refuse as a whole (429/503 streak) before the run stops, in ms (default 30 min). */
	maxPauseMs: number;
}

export const defaultEndpointSettings: Readonly<Omit<EndpointSettings, "url">> = Object.freeze({
	batchSize: 10,
	maxConcurrentRequests: 3,
	rateLimit: Object.freeze({ calls: 60, periodSeconds: 60 }),
	retries: 8,
	minRetryDelayMs: 2000,
	maxRetryDelayMs: 60000,
	requestTimeoutMs: 90000,
	maxPayloadBytes: 20 * 1024 * 1024,
	maxPauseMs: 30 * 60 * 1000,
});

export interface EmbedRequestItem {
	/** Caller's id for the row, echoed in the result. */
	id: string;
	/** The PNG bytes (base64-encoded by the client, never by the caller). */
	png: Uint8Array;
}

export type EmbedItemResult =
	| { id: string; ok: true; embedding: Float32Array; scalingFactor?: number }
	| { id: string; ok: false; error: string };

export interface TextEmbeddings {
	embeddings: Float32Array[];
	scalingFactor?: number;
}

/** What the client is doing, for progress UI ("Endpoint throttling — waiting 40 s"). */
export type ClientStatus =
	| { state: "running"; inFlight: number; concurrency: number }
	| { state: "paused"; reason: string; resumeAt: number };

/** Error codes that end a run at once; the shell words them for the user. */
export type FatalEndpointCode =
	| "unauthorized"
	| "forbidden"
	| "not-found"
	| "bad-request"
	| "paused-too-long"
	| "config"
	/** The endpoint answered with a 3xx: redirects are never followed (images must not go elsewhere). */
	| "redirect"
	/** No request has ever succeeded and the endpoint cannot be reached (refused, no such host, …). */
	| "unreachable"
	/** The TLS connection was refused (certificate expired, self-signed, wrong host name, …). */
	| "tls";

export class FatalEndpointError extends Error {
	constructor(
		readonly code: FatalEndpointCode,
		message: string,
		readonly status?: number,
	) {
		super(message);
		this.name = "FatalEndpointError";
	}
}

/** Per-call options of `embedImages`. */
export interface EmbedOptions {
	/**
	 * The vector length every answer must have (the length of the embeddings already in the output
	 * folder, 1024 for MedImageInsight). Without it, the client takes the length of the first vector it
	 * accepts and holds every later answer to it. A vector of another length makes the response malformed.
	 */
	expectedDim?: number;
}

/** The client as the pipeline sees it. */
export interface ImageEmbedder {
	/**
	 * Embeds one batch; resolves with one result per item (same order). Per-image problems become
	 * `ok: false` results. Rejects with FatalEndpointError when the run must stop (auth, config,
	 * endpoint refusing for longer than maxPauseMs), or with an AbortError when `signal` aborts.
	 */
	embedImages(items: EmbedRequestItem[], signal: AbortSignal, options?: EmbedOptions): Promise<EmbedItemResult[]>;
	embedTexts(texts: string[], signal: AbortSignal): Promise<TextEmbeddings>;
	readonly onDidChangeStatus: Event<ClientStatus>;
	dispose(): void;
}
