/**
 * The endpoint client (PRODUCT.md §2–§3): turns batches of PNGs into embeddings through an Azure ML
 * online endpoint, at the highest rate the endpoint allows and without losing an image.
 *
 * Layers, outermost first:
 * 1. the pause gate: while the endpoint as a whole refuses (429/503 streaks) nothing new is sent; one
 *    request at a time probes, and a `Retry-After` holds every request until it has passed;
 * 2. the concurrency cap, adaptive (AIMD): halved on "Too many pending requests", +1 after a run of
 *    successes, never above `maxConcurrentRequests`;
 * 3. the rate limiter (CallRateLimiter: bottleneck smoothing + a sliding window on send times, shared
 *    by the whole client), taken right before sending so that the spacing survives waits for a slot;
 * 4. retries (p-retry, exponential backoff with jitter) following `retryPolicy`;
 * 5. the per-request timeout: the caller's signal or `requestTimeoutMs`, whichever aborts first.
 * Around them: payload-cap splitting, 413 halving, and the split of a failed batch into single images.
 */
import { setMaxListeners } from "node:events";
import { Emitter, type Event } from "../util/events";
import type { Logger } from "../util/logger";
import { redactUrl } from "../util/redactUrl";
import { timerDelay } from "../util/timers";
import { describeConnectionError } from "./connectionError";
import { AdaptiveConcurrency } from "./adaptiveConcurrency";
import { CallRateLimiter, type RequestLimiter } from "./rateLimiter";
import { buildPayload, payloadBytes, splitByPayload, type PayloadRow } from "./payload";
import { MalformedResponseError, parseEmbeddingResponse, type ParsedEmbeddings } from "./response";
import { AttemptError, classifyHttpFailure, isRetryable, retryPolicy } from "./retryPolicy";
import {
	FatalEndpointError,
	type ClientStatus,
	type EmbedItemResult,
	type EmbedOptions,
	type EmbedRequestItem,
	type EndpointSettings,
	type ImageEmbedder,
	type TextEmbeddings,
	type TokenProvider,
} from "./types";
import type { SharedPauseState, SharedQuota } from "../queue/sharedQuota";

/** Options of an EndpointClient beyond its settings. */
export interface EndpointClientOptions {
	/**
	 * The quota shared by every process of a distributed run (src/core/queue/sharedQuota.ts): calls per
	 * period and requests in flight are counted in Redis, and an endpoint-wide pause holds every worker.
	 * The client does not dispose it. Without it the limits are this client's own.
	 */
	quota?: SharedQuota | undefined;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

interface Row extends PayloadRow {
	id: string;
}

type PRetryModule = typeof import("p-retry", { with: { "resolution-mode": "import" } });
let pRetryModule: Promise<PRetryModule> | undefined;
/** p-retry is ESM-only; load it once, lazily (works under tsc's CommonJS output and in esbuild bundles). */
function loadPRetry(): Promise<PRetryModule> {
	pRetryModule ??= import("p-retry");
	return pRetryModule;
}

function abortReason(signal: AbortSignal): unknown {
	return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** How often a worker of a shared quota looks whether another worker's pause ended. */
const sharedPollMs = 500;
/** How much longer than the pause itself the shared pause and probe keys live (a dead worker's expire). */
const sharedPauseSlackMs = 10_000;

/** What `request` returns when it did not send because a pause began while it waited. */
const notSent = Symbol("not sent");

type BodyRead = { ok: true; text: string } | { ok: false; bytes: number };

/**
 * Reads a response body as a stream, at most `cap` bytes: above that (or when Content-Length says so)
 * it stops reading, cancels the body and reports how many bytes it had seen. Nothing large is held.
 */
async function readBodyCapped(res: Response, cap: number): Promise<BodyRead> {
	const declared = Number(res.headers.get("content-length"));
	if (Number.isFinite(declared) && declared > cap) {
		await res.body?.cancel().catch(() => undefined);
		return { ok: false, bytes: declared };
	}
	if (!res.body) return { ok: true, text: "" };
	const reader = res.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.byteLength;
		if (total > cap) {
			await reader.cancel().catch(() => undefined);
			return { ok: false, bytes: total };
		}
		chunks.push(value);
	}
	return { ok: true, text: Buffer.concat(chunks).toString("utf8") };
}

/** Like readBodyCapped, but a body above `cap` is cut there (for the snippet of an error answer). */
async function readBodyPrefix(res: Response, cap: number): Promise<string> {
	if (!res.body) return "";
	const reader = res.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		total += value.byteLength;
		if (total >= cap) {
			await reader.cancel().catch(() => undefined);
			break;
		}
	}
	return Buffer.concat(chunks).subarray(0, cap).toString("utf8");
}

export class EndpointClient implements ImageEmbedder {
	private readonly emitter = new Emitter<ClientStatus>();
	readonly onDidChangeStatus: Event<ClientStatus> = this.emitter.event;

	private readonly limiter: RequestLimiter;
	private readonly quota: SharedQuota | undefined;
	/** The local pause was taken over from the shared one (another worker paused): it ends when that one does. */
	private pauseFromShared = false;
	/** Shared pause writes not yet acknowledged by Redis. */
	private sharedWrites: Promise<void> | undefined;
	/** Requests in flight: adaptive (AIMD) on p-limit. */
	private readonly slots: AdaptiveConcurrency;
	private lastRateLimitAt = -Infinity;

	/** Endpoint-wide refusal: when the current streak of refusals started (reset by any success). */
	private refusalSince: number | undefined;
	private paused: { reason: string; resumeAt: number } | undefined;
	private probeInFlight = false;
	/** No request leaves before this time (a Retry-After received by any request). */
	private holdUntil = 0;
	private fatal: unknown;
	/** Whether any request has succeeded; until then connection failures stop the run after a few quick attempts. */
	private contacted = false;
	private firstContactFailures = 0;
	/** The vector length of the first answer accepted; every later answer must match it. */
	private acceptedDim: number | undefined;
	private readonly wakers = new Set<() => void>();
	private readonly derivedSignals = new WeakMap<AbortSignal, AbortSignal>();

	constructor(
		private readonly settings: EndpointSettings,
		private readonly tokens: TokenProvider,
		private readonly logger: Logger,
		private readonly fetchImpl: FetchLike = fetch,
		options: EndpointClientOptions = {},
	) {
		if (!/^https?:\/\//i.test(settings.url)) throw new FatalEndpointError("config", `The endpoint URL must start with https:// (or http:// for a local endpoint): "${redactUrl(settings.url)}".`);
		if (/^https?:\/\/[^/?#]*@/i.test(settings.url)) throw new FatalEndpointError("config", `The endpoint URL must not hold a user name or password (${redactUrl(settings.url)}): the key is sent as a header.`);
		if (!(settings.batchSize >= 1) || !(settings.maxConcurrentRequests >= 1) || !(settings.retries >= 1)) {
			throw new FatalEndpointError("config", "batchSize, maxConcurrentRequests and retries must each be at least 1.");
		}
		if (!(settings.rateLimit.calls >= 1) || !(settings.rateLimit.periodSeconds > 0)) {
			throw new FatalEndpointError("config", "The rate limit needs at least 1 call per period and a period above 0 s.");
		}
		this.slots = new AdaptiveConcurrency(settings.maxConcurrentRequests, logger, () => this.fireStatus());
		this.quota = options.quota;
		this.limiter = this.quota?.limiter ?? new CallRateLimiter(settings.rateLimit, settings.maxConcurrentRequests);
	}

	get status(): ClientStatus {
		return this.paused
			? { state: "paused", reason: this.paused.reason, resumeAt: this.paused.resumeAt }
			: { state: "running", inFlight: this.slots.inFlight, concurrency: this.slots.concurrency };
	}

	async embedImages(items: EmbedRequestItem[], callerSignal: AbortSignal, options: EmbedOptions = {}): Promise<EmbedItemResult[]> {
		const expectedDim = options.expectedDim;
		if (expectedDim !== undefined && !(Number.isInteger(expectedDim) && expectedDim > 0)) throw new RangeError(`expectedDim must be a positive whole number (got ${String(expectedDim)})`);
		return this.withSignal(callerSignal, (signal) => this.embedImagesWith(items, signal, expectedDim));
	}

	async embedTexts(texts: string[], callerSignal: AbortSignal): Promise<TextEmbeddings> {
		return this.withSignal(callerSignal, (signal) => this.embedTextsWith(texts, signal));
	}

	/**
	 * Runs `work` with a signal of our own that follows the caller's. A pipeline shares one signal across
	 * many batches: the caller's signal gets one listener per client, however many calls and layers listen.
	 */
	private async withSignal<T>(callerSignal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
		callerSignal.throwIfAborted();
		let signal = this.derivedSignals.get(callerSignal);
		if (!signal) {
			const ac = new AbortController();
			setMaxListeners(0, ac.signal);
			callerSignal.addEventListener("abort", () => ac.abort(abortReason(callerSignal)), { once: true });
			signal = ac.signal;
			this.derivedSignals.set(callerSignal, signal);
		}
		return work(signal);
	}

	private async embedImagesWith(items: EmbedRequestItem[], signal: AbortSignal, expectedDim: number | undefined): Promise<EmbedItemResult[]> {
		// Rows carry their position as id (callers' ids need not be unique); results get the caller's id back.
		const rows: Row[] = items.map((it, i) => ({
			id: String(i),
			image: Buffer.from(it.png.buffer, it.png.byteOffset, it.png.byteLength).toString("base64"),
			text: "",
		}));
		const results = new Map<string, EmbedItemResult>();
		const groups = splitByPayload(rows, this.settings.batchSize, this.settings.maxPayloadBytes);
		await Promise.all(
			groups.map(async (group) => {
				if (group.length === 1 && payloadBytes(group) > this.settings.maxPayloadBytes) {
					const row = group[0] as Row;
					results.set(row.id, { id: row.id, ok: false, error: `image too large: its request body (${payloadBytes(group)} bytes) exceeds the payload cap of ${this.settings.maxPayloadBytes} bytes` });
					return;
				}
				for (const r of await this.embedGroup(group, signal, true, expectedDim)) results.set(r.id, r);
			}),
		);
		return items.map((it, i): EmbedItemResult => {
			const r = results.get(String(i));
			return r ? { ...r, id: it.id } : { id: it.id, ok: false, error: "internal error: no result" };
		});
	}

	private async embedTextsWith(texts: string[], signal: AbortSignal): Promise<TextEmbeddings> {
		const rows: Row[] = texts.map((text, i) => ({ id: String(i), image: "", text }));
		const groups = splitByPayload(rows, this.settings.batchSize, this.settings.maxPayloadBytes);
		const parsed = await Promise.all(
			groups.map(async (group) => {
				try {
					return await this.send(group, "text_features", signal, undefined);
				} catch (e) {
					if (e instanceof AttemptError) throw new Error(`Text embedding failed: ${e.message}`);
					throw e;
				}
			}),
		);
		const embeddings = parsed.flatMap((p) => p.vectors);
		const scalingFactor = parsed.find((p) => p.scalingFactor !== undefined)?.scalingFactor;
		return scalingFactor === undefined ? { embeddings } : { embeddings, scalingFactor };
	}

	dispose(): void {
		this.fatal ??= new DOMException("The endpoint client was disposed.", "AbortError");
		this.wake();
		if (!this.quota) this.limiter.stop();
		this.emitter.dispose();
	}

	/** One group of images: send it; on 413 halve it; after a permanent failure, try the images one by one. */
	private async embedGroup(group: Row[], signal: AbortSignal, mayTrySingles: boolean, expectedDim: number | undefined): Promise<EmbedItemResult[]> {
		try {
			const { vectors, scalingFactor } = await this.send(group, "image_features", signal, expectedDim);
			return group.map((row, i) => {
				const embedding = vectors[i] as Float32Array;
				return scalingFactor === undefined ? { id: row.id, ok: true, embedding } : { id: row.id, ok: true, embedding, scalingFactor };
			});
		} catch (e) {
			if (!(e instanceof AttemptError)) throw e;
			if (e.kind === "too-large") {
				if (group.length === 1) return [{ id: (group[0] as Row).id, ok: false, error: "image too large for the endpoint (HTTP 413)" }];
				const half = Math.ceil(group.length / 2);
				this.logger.info(`Endpoint refused a batch of ${group.length} images as too large; splitting it in two.`);
				const parts = await Promise.all([this.embedGroup(group.slice(0, half), signal, mayTrySingles, expectedDim), this.embedGroup(group.slice(half), signal, mayTrySingles, expectedDim)]);
				return parts.flat();
			}
			if (group.length > 1 && mayTrySingles && retryPolicy.splitToSingles.has(e.kind)) {
				this.logger.warn(`A batch of ${group.length} images failed (${e.message}); retrying its images one by one.`);
				const singles = await Promise.all(group.map((row) => this.embedGroup([row], signal, false, expectedDim)));
				return singles.flat();
			}
			return group.map((row) => ({ id: row.id, ok: false, error: e.message }));
		}
	}

	/**
	 * Sends one group with retries. Endpoint-wide refusal that outlasts the retries pauses the client
	 * and re-queues the group; resolves with the vectors, or rejects with an AttemptError (the group
	 * failed), a FatalEndpointError, or the abort reason.
	 */
	private async send(group: Row[], field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined): Promise<ParsedEmbeddings> {
		const { default: pRetry } = await loadPRetry();
		const body = buildPayload(group);
		for (;;) {
			try {
				return await pRetry(() => this.attempt(body, group.length, field, signal, expectedDim), {
					retries: this.settings.retries - 1,
					factor: 2,
					minTimeout: this.settings.minRetryDelayMs,
					maxTimeout: this.settings.maxRetryDelayMs,
					randomize: true,
					signal,
					shouldRetry: (err) => !signal.aborted && this.fatal === undefined && isRetryable(err, err.attemptNumber),
					onFailedAttempt: (err) => {
						if (err instanceof AttemptError && isRetryable(err, err.attemptNumber) && err.retriesLeft > 0 && !signal.aborted) {
							this.logger.debug(`Request of ${group.length} rows failed (${err.message}); attempt ${err.attemptNumber} of ${this.settings.retries}, retrying.`);
							if (err.connection) this.logger.debug(`Connection error detail: ${err.connection.detail}`);
						}
					},
				});
			} catch (e) {
				if (signal.aborted) throw abortReason(signal);
				if (this.fatal !== undefined) throw this.fatal;
				if (e instanceof AttemptError && retryPolicy.endpointWide.has(e.kind)) {
					// Not this group's fault: the endpoint refuses everyone. Pause, then send it again.
					this.enterPause(`endpoint refusing requests: ${e.message}`, e.retryAfterMs);
					if (this.fatal !== undefined) throw this.fatal;
					continue;
				}
				throw e;
			}
		}
	}

	/** One request through every layer. While paused, the request may be the probe; a refused probe waits again. */
	private async attempt(body: string, rowCount: number, field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined): Promise<ParsedEmbeddings> {
		for (;;) {
			const probe = await this.passGate(signal);
			let outcome: ParsedEmbeddings | AttemptError | typeof notSent;
			try {
				outcome = await this.request(body, rowCount, field, signal, expectedDim, probe);
			} catch (e) {
				if (probe) this.endProbe();
				if (e instanceof FatalEndpointError) this.setFatal(e);
				throw e;
			}
			if (outcome === notSent) continue; // a pause began while it waited for a slot: back to the gate
			if (outcome instanceof AttemptError && !this.contacted && (outcome.kind === "unreachable" || outcome.kind === "network")) {
				// Nothing has ever worked: a few quick attempts, then say why instead of minutes of backoff.
				if (probe) this.endProbe();
				this.firstContactFailures++;
				if (outcome.connection) this.logger.warn(`${outcome.connection.message} (${outcome.connection.detail})`);
				if (this.firstContactFailures >= retryPolicy.firstContactAttempts) {
					const why = outcome.connection?.message ?? `Cannot reach the endpoint at ${redactUrl(this.settings.url)}: ${outcome.message}. Check the URL.`;
					const fatal = new FatalEndpointError("unreachable", why);
					this.setFatal(fatal);
					throw fatal;
				}
				await this.waitForChange(retryPolicy.firstContactDelayMs * this.firstContactFailures, signal);
				if (this.fatal !== undefined) throw this.fatal;
				continue;
			}
			if (!probe) {
				if (outcome instanceof AttemptError) throw outcome;
				return outcome;
			}
			if (outcome instanceof AttemptError && retryPolicy.endpointWide.has(outcome.kind)) {
				this.probeRefused(outcome);
				continue;
			}
			this.resume();
			if (outcome instanceof AttemptError) throw outcome;
			return outcome;
		}
	}

	/** Takes a slot and a rate token, sends, classifies. Refusals and successes update the shared state. */
	private async request(body: string, rowCount: number, field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined, probe: boolean): Promise<ParsedEmbeddings | AttemptError | typeof notSent> {
		return this.slots.run(signal, () => this.requestInSlot(body, rowCount, field, signal, expectedDim, probe));
	}

	private async requestInSlot(body: string, rowCount: number, field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined, probe: boolean): Promise<ParsedEmbeddings | AttemptError | typeof notSent> {
		const startedAt = Date.now();
		let endRequest: (() => void) | undefined;
		try {
			const token = await this.tokens.getToken(signal);
			endRequest = await this.rateToken(signal);
			// While it waited for a slot and a rate token the client (or, with a shared quota, another
			// worker) may have paused: then only the probe goes.
			// (The last known shared state, kept current by Redis pub/sub: no round trip between the rate
			// slot and the request, which would blur the spacing.)
			if (!probe && this.quota) this.applyShared(this.quota.sharedState());
			if (!probe && (this.paused || Date.now() < this.holdUntil)) return notSent;
			const headers: Record<string, string> = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
			if (this.settings.deployment) headers["azureml-model-deployment"] = this.settings.deployment;
			// The request's own signal: aborted by the caller's, or by the timeout. (Not AbortSignal.any: in
			// Node 20 it leaks one entry per call on a long-lived source signal, nodejs/node#54614.)
			const request = new AbortController();
			const onAbort = () => request.abort(abortReason(signal));
			signal.addEventListener("abort", onAbort, { once: true });
			let timedOut = false;
			const timer = setTimeout(() => {
				timedOut = true;
				request.abort(new DOMException(`no answer within ${this.settings.requestTimeoutMs} ms`, "TimeoutError"));
			}, timerDelay(this.settings.requestTimeoutMs));
			const cap = rowCount * retryPolicy.perRowResponseBytes + retryPolicy.baseResponseBytes;
			let status: number;
			let responseHeaders: Headers;
			let text: string;
			try {
				// Redirects are never followed: a 3xx is a configuration error (the pixels must not go elsewhere).
				const res = await this.fetchImpl(this.settings.url, { method: "POST", headers, body, signal: request.signal, redirect: "manual" });
				status = res.status;
				responseHeaders = res.headers;
				if (status >= 200 && status < 300) {
					const read = await readBodyCapped(res, cap);
					if (!read.ok) {
						request.abort(new DOMException("response body too large", "AbortError"));
						return this.noteFailure(new AttemptError("malformed", `malformed response: the body is larger than ${cap} bytes (the most ${rowCount} row(s) may take); it was not read further`, status), startedAt);
					}
					text = read.text;
				} else {
					text = await readBodyPrefix(res, retryPolicy.errorBodyBytes);
					request.abort(new DOMException("error body read", "AbortError"));
				}
			} catch (e) {
				if (signal.aborted) throw abortReason(signal);
				if (timedOut) return this.noteFailure(new AttemptError("timeout", `no answer within ${this.settings.requestTimeoutMs} ms (timeout)`), startedAt);
				const described = describeConnectionError(e, this.settings.url);
				const detail = { ...described, detail: described.detail.split(token).join("***") };
				if (described.kind === "tls") throw new FatalEndpointError("tls", described.message);
				const kind = described.kind === "unreachable" ? "unreachable" : "network";
				return this.noteFailure(new AttemptError(kind, `connection error: ${described.reason}`, undefined, undefined, detail), startedAt);
			} finally {
				clearTimeout(timer);
				signal.removeEventListener("abort", onAbort);
			}
			if (status >= 200 && status < 300) {
				try {
					const parsed = parseEmbeddingResponse(text, rowCount, field, expectedDim ?? this.acceptedDim);
					this.acceptedDim ??= parsed.vectors[0]?.length;
					this.noteSuccess();
					return parsed;
				} catch (e) {
					if (e instanceof MalformedResponseError) return this.noteFailure(new AttemptError("malformed", e.message, status), startedAt);
					throw e;
				}
			}
			const failure = classifyHttpFailure(status, responseHeaders, text, token, this.settings.url);
			if (failure instanceof FatalEndpointError) {
				this.setFatal(failure);
				throw failure;
			}
			return this.noteFailure(failure, startedAt);
		} finally {
			// A pause or hold this answer caused reaches Redis before the slot goes to another worker.
			const end = endRequest;
			if (end && this.sharedWrites) void this.sharedWrites.finally(end);
			else end?.();
		}
	}

	private noteSuccess(): void {
		this.contacted = true;
		this.refusalSince = undefined;
		this.slots.noteSuccess();
	}

	/** How long to honour a server's Retry-After: at most `maxRetryDelayMs` (an absurd value must not stall the run). */
	private boundedDelay(retryAfterMs: number | undefined): number {
		return Math.min(Math.max(retryAfterMs ?? this.settings.maxRetryDelayMs, this.settings.minRetryDelayMs), this.settings.maxRetryDelayMs);
	}

	private noteFailure(e: AttemptError, startedAt: number): AttemptError {
		if (e.retryAfterMs !== undefined && (e.kind === "overload" || e.kind === "server")) {
			this.holdUntil = Math.max(this.holdUntil, Date.now() + Math.min(e.retryAfterMs, this.settings.maxRetryDelayMs));
			this.shared((q) => q.setHold(this.holdUntil));
		}
		if (e.kind === "refusal" && e.status === 429) {
			// Rate-limit 429s despite our limiter: one is network jitter; two within two windows mean the
			// server's window is stricter than ours, so stretch ours.
			const now = Date.now();
			if (now - this.lastRateLimitAt < 2 * this.limiter.window) {
				const windowMs = this.limiter.widen();
				this.logger.debug(`Rate limited by the endpoint again (HTTP 429): at most ${this.settings.rateLimit.calls} requests per ${Math.round(windowMs)} ms from now on.`);
			}
			this.lastRateLimitAt = now;
		}
		if (retryPolicy.endpointWide.has(e.kind)) {
			this.refusalSince ??= Date.now();
			if (e.kind === "overload") this.slots.noteOverload(startedAt);
			else this.slots.noteRefusal();
			const streakMs = Date.now() - this.refusalSince;
			if (!this.paused && e.kind === "refusal" && e.retryAfterMs !== undefined && e.retryAfterMs > 0) {
				// The endpoint says when to come back: the whole client waits (a pause, counted against maxPauseMs).
				this.enterPause(`endpoint refusing requests: ${e.message}`, e.retryAfterMs);
			} else if (!this.paused && streakMs > this.settings.maxRetryDelayMs * 2) {
				this.enterPause(`endpoint refusing requests for ${Math.round(streakMs / 1000)} s: ${e.message}`, e.retryAfterMs);
			}
		}
		return e;
	}

	// ---- pause, probe, resume ----

	private enterPause(reason: string, retryAfterMs: number | undefined): void {
		const now = Date.now();
		this.refusalSince ??= now;
		const deadline = this.refusalSince + this.settings.maxPauseMs;
		if (now >= deadline) {
			this.setFatal(new FatalEndpointError("paused-too-long", `The endpoint has refused requests for ${Math.round((now - this.refusalSince) / 1000)} s (longer than the allowed ${Math.round(this.settings.maxPauseMs / 1000)} s); the run stops. Last answer: ${reason}`));
			return;
		}
		if (this.paused) return;
		const resumeAt = Math.min(deadline, now + this.boundedDelay(retryAfterMs));
		this.paused = { reason, resumeAt };
		this.pauseFromShared = false;
		this.publishPause();
		this.logger.warn(`Paused: ${reason}. Probing again at ${new Date(resumeAt).toISOString()}.`);
		this.fireStatus();
		this.wake();
	}

	private probeRefused(e: AttemptError): void {
		this.probeInFlight = false;
		const now = Date.now();
		const since = this.refusalSince ?? now;
		if (now - since >= this.settings.maxPauseMs) {
			this.setFatal(new FatalEndpointError("paused-too-long", `The endpoint has refused requests for ${Math.round((now - since) / 1000)} s (longer than the allowed ${Math.round(this.settings.maxPauseMs / 1000)} s); the run stops. Last answer: ${e.message}`));
			return;
		}
		const resumeAt = Math.min(since + this.settings.maxPauseMs, now + this.boundedDelay(e.retryAfterMs));
		this.paused = { reason: `endpoint refusing requests: ${e.message}`, resumeAt };
		this.pauseFromShared = false;
		this.publishPause(true);
		this.logger.info(`Probe refused (${e.message}); next probe at ${new Date(resumeAt).toISOString()}.`);
		this.fireStatus();
		this.wake();
	}

	private endProbe(): void {
		this.probeInFlight = false;
		this.shared((q) => q.releaseProbe());
		this.wake();
	}

	/** The probe was answered (or, with `shared`, another worker's was): the pause ends. */
	private resume(fromShared = false): void {
		if (!fromShared) {
			this.probeInFlight = false;
			if (this.paused || this.holdUntil > 0) this.shared((q) => q.clearPause());
		}
		this.pauseFromShared = false;
		if (this.paused) {
			this.logger.info(fromShared ? "Endpoint accepts requests again (another worker's probe was answered): resuming." : "Endpoint accepts requests again: resuming.");
			this.paused = undefined;
			this.holdUntil = 0;
			this.fireStatus();
		}
		this.wake();
	}

	// ---- the pause shared with other workers (SharedQuota) ----

	/** Runs a shared-quota update in the background; a Redis failure only costs the sharing, never the request. */
	private shared(update: (quota: SharedQuota) => Promise<void>): void {
		if (!this.quota) return;
		const write = update(this.quota).catch((e: unknown) => this.logger.debug(`Shared pause update failed: ${e instanceof Error ? e.message : String(e)}`));
		const all = Promise.all([this.sharedWrites, write]).then(() => {
			if (this.sharedWrites === all) this.sharedWrites = undefined;
		});
		this.sharedWrites = all;
	}

	/** Tells every worker about this client's pause; `probeDone` also frees the probe claim. */
	private publishPause(probeDone = false): void {
		const paused = this.paused;
		if (!paused) return;
		const since = this.refusalSince ?? Date.now();
		this.shared(async (q) => {
			await q.setPause({ reason: paused.reason, resumeAt: paused.resumeAt, since }, this.settings.requestTimeoutMs + sharedPauseSlackMs);
			if (probeDone) await q.releaseProbe();
		});
	}

	/** Takes over the pause and Retry-After hold of other workers, and ends a taken-over pause that ended there. */
	private async syncShared(quota: SharedQuota): Promise<void> {
		this.applyShared(await quota.readPause());
	}

	private applyShared({ pause, holdUntil }: { pause?: SharedPauseState; holdUntil?: number }): void {
		if (holdUntil !== undefined && holdUntil > this.holdUntil) this.holdUntil = holdUntil;
		if (pause) {
			this.refusalSince = Math.min(this.refusalSince ?? pause.since, pause.since);
			if (!this.paused) {
				this.paused = { reason: pause.reason, resumeAt: pause.resumeAt };
				this.pauseFromShared = true;
				this.logger.warn(`Paused by another worker: ${pause.reason}. Probing again at ${new Date(pause.resumeAt).toISOString()}.`);
				this.fireStatus();
				this.wake();
			} else if (pause.resumeAt > this.paused.resumeAt && !this.probeInFlight) {
				this.paused = { reason: pause.reason, resumeAt: pause.resumeAt };
				this.fireStatus();
			}
		} else if (this.paused && this.pauseFromShared && !this.probeInFlight) {
			this.resume(true);
		}
	}

	private setFatal(e: FatalEndpointError): void {
		if (this.fatal !== undefined) return;
		this.fatal = e;
		this.logger.error(e.message);
		this.paused = undefined;
		this.wake();
	}

	/** Waits while paused or held by a Retry-After; returns true when this request is the probe. */
	private async passGate(signal: AbortSignal): Promise<boolean> {
		for (;;) {
			if (this.fatal !== undefined) throw this.fatal;
			signal.throwIfAborted();
			if (this.quota) {
				await this.syncShared(this.quota);
				if (this.fatal !== undefined) throw this.fatal;
			}
			const now = Date.now();
			if (this.paused) {
				if (!this.probeInFlight && now >= this.paused.resumeAt) {
					this.probeInFlight = true;
					// With a shared quota one worker probes for all; the others wait for its answer.
					if (this.quota && !(await this.quota.claimProbe(this.settings.requestTimeoutMs + sharedPauseSlackMs))) {
						this.probeInFlight = false;
						await this.waitForChange(sharedPollMs, signal);
						continue;
					}
					return true;
				}
				const untilProbe = this.probeInFlight ? undefined : this.paused.resumeAt - now;
				// Another worker may end the pause: look again now and then.
				await this.waitForChange(this.quota ? Math.min(untilProbe ?? sharedPollMs, sharedPollMs) : untilProbe, signal);
				continue;
			}
			if (now < this.holdUntil) {
				await this.waitForChange(this.holdUntil - now, signal);
				continue;
			}
			return false;
		}
	}

	private wake(): void {
		const wakers = [...this.wakers];
		this.wakers.clear();
		for (const w of wakers) w();
	}

	/** Resolves on the next state change, after `ms` (if given), or rejects when `signal` aborts. */
	private waitForChange(ms: number | undefined, signal: AbortSignal): Promise<void> {
		return new Promise((resolve, reject) => {
			let timer: NodeJS.Timeout | undefined;
			const done = () => {
				if (timer) clearTimeout(timer);
				signal.removeEventListener("abort", onAbort);
				this.wakers.delete(done);
				resolve();
			};
			const onAbort = () => {
				if (timer) clearTimeout(timer);
				this.wakers.delete(done);
				reject(abortReason(signal));
			};
			if (ms !== undefined) timer = setTimeout(done, timerDelay(ms));
			this.wakers.add(done);
			signal.addEventListener("abort", onAbort, { once: true });
		});
	}

	// ---- concurrency and rate ----

	/** A slot in the shared rate limit; an abort stops waiting. After dispose, rejects with the dispose reason. */
	private async rateToken(signal: AbortSignal): Promise<() => void> {
		// A shared limiter outlives the client: dispose (or a fatal error) stops this client's wait for it.
		const wait = new AbortController();
		const onAbort = () => wait.abort(abortReason(signal));
		const onChange = () => {
			if (this.fatal !== undefined) wait.abort(this.fatal);
			else this.wakers.add(onChange);
		};
		signal.addEventListener("abort", onAbort, { once: true });
		this.wakers.add(onChange);
		try {
			// Held until the answer is read: the request timeout, plus time to read the body.
			return await this.limiter.acquire(wait.signal, this.settings.requestTimeoutMs + 10_000);
		} catch (e) {
			throw this.fatal ?? e;
		} finally {
			signal.removeEventListener("abort", onAbort);
			this.wakers.delete(onChange);
		}
	}

	private fireStatus(): void {
		this.emitter.fire(this.status);
	}
}
