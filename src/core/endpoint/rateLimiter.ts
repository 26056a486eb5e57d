/**
 * The client-side limits (PRODUCT.md §3): at most `calls` requests per `periodSeconds` and at most
 * `maxConcurrent` requests in flight, as close to the ceiling as possible without provoking 429s.
 *
 * Bottleneck is the limiter, with nothing hand-written behind it:
 * - `minTime` spaces the requests by window / calls, where the window is the period (widened after
 *   429s) plus a margin for network and timer jitter (1 %, at least 50 ms). Any `calls + 1`
 *   consecutive requests then span at least one window, so a server that counts arrivals in ANY
 *   window of the period never sees more than `calls`; a long run gets period / window ≈ 99 % of it;
 * - `reservoir` (= calls, refilled every window) caps each window as well;
 * - `maxConcurrent` counts the requests in flight: a request holds its Bottleneck job from the moment
 *   it may leave until its answer is read (`acquire` returns the release).
 * The same options on a Redis datastore (src/core/queue/sharedQuota.ts) share those very limits
 * between processes.
 */
import Bottleneck from "bottleneck";

export interface Rate {
	calls: number;
	periodSeconds: number;
}

/** What the endpoint client needs of a limiter: local (CallRateLimiter) or shared through Redis. */
export interface RequestLimiter {
	/**
	 * Waits until a request may leave under the rate and in-flight limits, and resolves with the
	 * function that ends the request (call it once the answer is read). `holdMs` is the longest the
	 * request may take: after it (plus the wait), the slot is freed even if release never comes (a
	 * crashed process). Rejects with the abort reason when `signal` aborts first.
	 */
	acquire(signal: AbortSignal, holdMs?: number): Promise<() => void>;
	/** The window in which at most `calls` requests leave, in ms. */
	readonly window: number;
	/** The server still answered "rate limit": stretch the window by 2 % (at most 10 % in all). Returns the window. */
	widen(): number;
	stop(): void;
}

export function abortReason(signal: AbortSignal): unknown {
	return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/** The window in which at most `calls` requests leave: the period (widened after 429s) plus the jitter margin. */
export function windowMs(rate: Rate, widen = 1): number {
	const periodMs = rate.periodSeconds * 1000;
	return periodMs * widen + Math.max(periodMs * 0.01, 50);
}

/** Bottleneck's options for these limits (the same for a local limiter and a Redis cluster). */
export function bottleneckLimits(rate: Rate, maxConcurrent: number | undefined, widen = 1): Bottleneck.ConstructorOptions {
	const window = windowMs(rate, widen);
	return {
		// Whole milliseconds (Redis' scripts need integers), rounded up: never closer than the window allows.
		minTime: Math.ceil(window / rate.calls),
		reservoir: rate.calls,
		reservoirRefreshInterval: Math.ceil(window),
		reservoirRefreshAmount: rate.calls,
		maxConcurrent: maxConcurrent ?? null,
	};
}

/** How long a slot may be held before Bottleneck frees it on its own: the wait for it (at most one request spacing per slot) plus the request. */
export function expirationMs(rate: Rate, maxConcurrent: number | undefined, holdMs: number, widen = 1): number {
	const spacing = windowMs(rate, widen) / rate.calls;
	return Math.ceil(holdMs + spacing * Math.max(maxConcurrent ?? rate.calls, 1) + 5000);
}

/**
 * Schedules one "slot" job on `limiter`: resolves with its release when Bottleneck runs it; an abort
 * rejects at once (the job then ends as soon as Bottleneck starts it).
 */
export function acquireSlot(limiter: Bottleneck, signal: AbortSignal, expiration: number): Promise<() => void> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) return reject(abortReason(signal));
		let settled = false;
		const onAbort = () => {
			if (settled) return;
			settled = true;
			reject(abortReason(signal));
		};
		signal.addEventListener("abort", onAbort, { once: true });
		limiter
			.schedule({ expiration }, () =>
				new Promise<void>((release) => {
					if (settled) return release(); // aborted while queued: end the job at once
					settled = true;
					signal.removeEventListener("abort", onAbort);
					resolve(() => release());
				}),
			)
			.catch((e: unknown) => {
				if (settled) return; // expired after it ran, or dropped after an abort: nothing waits on it
				settled = true;
				signal.removeEventListener("abort", onAbort);
				reject(e instanceof Error ? e : new Error(String(e)));
			});
	});
}

/** The limits of one process: a local Bottleneck. */
export class CallRateLimiter implements RequestLimiter {
	private readonly bottleneck: Bottleneck;
	private widenFactor = 1;

	constructor(
		private readonly rate: Rate,
		private readonly maxConcurrent?: number,
	) {
		this.bottleneck = new Bottleneck(bottleneckLimits(rate, maxConcurrent));
	}

	/** See windowMs. */
	static windowMs(rate: Rate, widen = 1): number {
		return windowMs(rate, widen);
	}

	get window(): number {
		return windowMs(this.rate, this.widenFactor);
	}

	acquire(signal: AbortSignal, holdMs = 120_000): Promise<() => void> {
		return acquireSlot(this.bottleneck, signal, expirationMs(this.rate, this.maxConcurrent, holdMs, this.widenFactor));
	}

	widen(): number {
		if (this.widenFactor < 1.1) {
			this.widenFactor = Math.min(1.1, this.widenFactor * 1.02);
			const { minTime, reservoirRefreshInterval } = bottleneckLimits(this.rate, this.maxConcurrent, this.widenFactor);
			this.bottleneck.updateSettings({ minTime, reservoirRefreshInterval });
		}
		return this.window;
	}

	stop(): void {
		this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => undefined);
	}
}
