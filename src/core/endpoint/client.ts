/**
 * The endpoint client (PRODUCT.md §2–§3): turns batches of PNGs into embeddings through an Azure ML
 * online endpoint, at the highest rate the endpoint allows and without losing an image. It composes
 * small units, outermost first:
 * 1. batch splitting (batchSplit.ts): row and payload caps, 413 halving, a failed batch tried image by image;
 * 2. retries (retry.ts, p-retry: exponential backoff with jitter) following `retryPolicy`; a group the
 *    endpoint-wide refusal outlasts pauses the client and is sent again;
 * 3. the pause gate (pauseGate.ts): while the endpoint as a whole refuses (429/503 streaks) nothing new
 *    is sent; one request at a time probes, and a `Retry-After` holds every request until it has passed;
 * 4. the concurrency cap (adaptiveConcurrency.ts, AIMD on p-limit): halved on "Too many pending
 *    requests", +1 after a run of successes, never above `maxConcurrentRequests`;
 * 5. the limiter (rateLimiter.ts: Bottleneck, calls per period and requests in flight), taken right
 *    before sending so that the spacing survives waits for a slot; with a SharedQuota the limiter
 *    and the pause are shared by every worker through Redis;
 * 6. the per-request timeout: the caller's signal or `requestTimeoutMs`, whichever aborts first.
 */
import { setMaxListeners } from "node:events";
import { Emitter, type Event } from "../util/events";
import type { Logger } from "../util/logger";
import { readBodyCapped } from "../util/readBody";
import { redactUrl } from "../util/redactUrl";
import { timerDelay } from "../util/timers";
import { describeConnectionError } from "./connectionError";
import { AdaptiveConcurrency } from "./adaptiveConcurrency";
import { PauseGate } from "./pauseGate";
import { CallRateLimiter, type RequestLimiter } from "./rateLimiter";
import { embedRows, type Row } from "./batchSplit";
import { buildPayload, splitByPayload } from "./payload";
import { MalformedResponseError, parseEmbeddingResponse, type ParsedEmbeddings } from "./response";
import { withRetries } from "./retry";
import { AttemptError, classifyHttpFailure, retryPolicy } from "./retryPolicy";
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
import type { SharedQuota } from "../queue/sharedQuota";

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


function abortReason(signal: AbortSignal): unknown {
	return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** What `request` returns when it did not send because a pause began while it waited. */
const notSent = Symbol("not sent");

export class EndpointClient implements ImageEmbedder {
	private readonly emitter = new Emitter<ClientStatus>();
	readonly onDidChangeStatus: Event<ClientStatus> = this.emitter.event;

	private readonly limiter: RequestLimiter;
	private readonly quota: SharedQuota | undefined;
	/** Endpoint-wide refusal → pause and probe; Retry-After holds; the fatal stop. */
	private readonly gate: PauseGate;
	/** Requests in flight: adaptive (AIMD) on p-limit. */
	private readonly slots: AdaptiveConcurrency;
	private lastRateLimitAt = -Infinity;

	/** Whether any request has succeeded; until then connection failures stop the run after a few quick attempts. */
	private contacted = false;
	private firstContactFailures = 0;
	/** The vector length of the first answer accepted; every later answer must match it. */
	private acceptedDim: number | undefined;
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
		this.gate = new PauseGate(settings, logger, this.quota, () => this.fireStatus());
		// Locally the in-flight cap is the adaptive p-limit alone; a shared quota adds the cap across workers.
		this.limiter = this.quota?.limiter ?? new CallRateLimiter(settings.rateLimit);
	}

	get status(): ClientStatus {
		const paused = this.gate.pause;
		return paused
			? { state: "paused", reason: paused.reason, resumeAt: paused.resumeAt }
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
		const results = await embedRows(rows, this.settings, (group) => this.send(group, "image_features", signal, expectedDim), this.logger);
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
		this.gate.fail(new DOMException("The endpoint client was disposed.", "AbortError"), true);
		if (!this.quota) this.limiter.stop();
		this.emitter.dispose();
	}

	/**
	 * Sends one group with retries. Endpoint-wide refusal that outlasts the retries pauses the client
	 * and re-queues the group; resolves with the vectors, or rejects with an AttemptError (the group
	 * failed), a FatalEndpointError, or the abort reason.
	 */
	private async send(group: Row[], field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined): Promise<ParsedEmbeddings> {
		const body = buildPayload(group);
		for (;;) {
			try {
				return await withRetries(() => this.attempt(body, group.length, field, signal, expectedDim), this.settings, {
					signal,
					stopped: () => this.gate.fatal !== undefined,
					logger: this.logger,
					what: `Request of ${group.length} rows`,
				});
			} catch (e) {
				if (signal.aborted) throw abortReason(signal);
				if (this.gate.fatal !== undefined) throw this.gate.fatal;
				if (e instanceof AttemptError && retryPolicy.endpointWide.has(e.kind)) {
					// Not this group's fault: the endpoint refuses everyone. Pause, then send it again.
					this.gate.enterPause(`endpoint refusing requests: ${e.message}`, e.retryAfterMs);
					if (this.gate.fatal !== undefined) throw this.gate.fatal;
					continue;
				}
				throw e;
			}
		}
	}

	/** One request through every layer. While paused, the request may be the probe; a refused probe waits again. */
	private async attempt(body: string, rowCount: number, field: "image_features" | "text_features", signal: AbortSignal, expectedDim: number | undefined): Promise<ParsedEmbeddings> {
		for (;;) {
			const probe = await this.gate.pass(signal);
			let outcome: ParsedEmbeddings | AttemptError | typeof notSent;
			try {
				outcome = await this.request(body, rowCount, field, signal, expectedDim, probe);
			} catch (e) {
				if (probe) this.gate.endProbe();
				if (e instanceof FatalEndpointError) this.gate.fail(e);
				throw e;
			}
			if (outcome === notSent) continue; // a pause began while it waited for a slot: back to the gate
			if (outcome instanceof AttemptError && !this.contacted && (outcome.kind === "unreachable" || outcome.kind === "network")) {
				// Nothing has ever worked: a few quick attempts, then say why instead of minutes of backoff.
				if (probe) this.gate.endProbe();
				this.firstContactFailures++;
				if (outcome.connection) this.logger.warn(`${outcome.connection.message} (${outcome.connection.detail})`);
				if (this.firstContactFailures >= retryPolicy.firstContactAttempts) {
					const why = outcome.connection?.message ?? `Cannot reach the endpoint at ${redactUrl(this.settings.url)}: ${outcome.message}. Check the URL.`;
					const fatal = new FatalEndpointError("unreachable", why);
					this.gate.fail(fatal);
					throw fatal;
				}
				await this.gate.waitForChange(retryPolicy.firstContactDelayMs * this.firstContactFailures, signal);
				if (this.gate.fatal !== undefined) throw this.gate.fatal;
				continue;
			}
			if (!probe) {
				if (outcome instanceof AttemptError) throw outcome;
				return outcome;
			}
			if (outcome instanceof AttemptError && retryPolicy.endpointWide.has(outcome.kind)) {
				this.gate.probeRefused(outcome);
				continue;
			}
			this.gate.resume();
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
			if (!probe && this.gate.closedNow()) return notSent;
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
					text = read.bytes.toString("utf8");
				} else {
					const snippet = await readBodyCapped(res, retryPolicy.errorBodyBytes, { truncate: true });
					text = snippet.ok ? snippet.bytes.toString("utf8") : "";
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
				this.gate.fail(failure);
				throw failure;
			}
			return this.noteFailure(failure, startedAt);
		} finally {
			// A pause or hold this answer caused reaches Redis before the slot goes to another worker.
			if (endRequest) this.gate.afterSharedWrites(endRequest);
		}
	}

	private noteSuccess(): void {
		this.contacted = true;
		this.gate.noteSuccess();
		this.slots.noteSuccess();
	}

	private noteFailure(e: AttemptError, startedAt: number): AttemptError {
		if (e.retryAfterMs !== undefined && (e.kind === "overload" || e.kind === "server")) {
			this.gate.hold(e.retryAfterMs);
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
			if (e.kind === "overload") this.slots.noteOverload(startedAt);
			else this.slots.noteRefusal();
			this.gate.noteRefusal(e);
		}
		return e;
	}

	// ---- concurrency and rate ----

	/** A slot in the shared rate limit; an abort stops waiting. After dispose, rejects with the dispose reason. */
	private async rateToken(signal: AbortSignal): Promise<() => void> {
		// A shared limiter outlives the client: dispose (or a fatal error) stops this client's wait for it.
		const wait = new AbortController();
		const onAbort = () => wait.abort(abortReason(signal));
		signal.addEventListener("abort", onAbort, { once: true });
		const unwatch = this.gate.onFail((reason) => wait.abort(reason));
		try {
			// Held until the answer is read: the request timeout, plus time to read the body.
			return await this.limiter.acquire(wait.signal, this.settings.requestTimeoutMs + 10_000);
		} catch (e) {
			throw this.gate.fatal ?? e;
		} finally {
			signal.removeEventListener("abort", onAbort);
			unwatch();
		}
	}

	private fireStatus(): void {
		this.emitter.fire(this.status);
	}
}
