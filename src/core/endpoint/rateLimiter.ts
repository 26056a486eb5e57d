/**
 * The client-side limits (PRODUCT.md §3): at most `calls` requests per `periodSeconds` and at most
 * `maxConcurrent` requests in flight, as close to the ceiling as possible without provoking 429s.
 *
 * Bottleneck is the limiter, with nothing hand-written behind it. Two Bottleneck limiters:
 * - the rate limiter: `minTime` spaces the requests by window / calls, where the window is the period
 *   (widened after 429s) plus a margin for network jitter (1 %, at least 50 ms), so a long run gets
 *   period / window ≈ 99 % of the ceiling; and `maxConcurrent: calls` with every request holding its
 *   rate slot for one window from the moment it actually left. That makes "at most `calls` in any
 *   window" hold on the real send times, even when a timer fires late (a stalled event loop sends a
 *   late request and an on-time one close together; spacing alone would then put `calls + 1` requests
 *   in one window). (Bottleneck's reservoir with a refresh interval counts fixed intervals, not any
 *   window, and its refresh drifts with its heartbeat: it is not used.)
 * - the in-flight limiter: `maxConcurrent` requests from the moment they may leave until their answer
 *   is read (`acquire` returns the release).
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

/** The rate limiter's options: spacing of window / calls (whole ms, rounded up: Redis' scripts need integers), `calls` slots. */
export function rateLimits(rate: Rate, widen = 1): Bottleneck.ConstructorOptions {
	return { minTime: Math.ceil(windowMs(rate, widen) / rate.calls), maxConcurrent: rate.calls };
}

/** How long Bottleneck keeps a rate slot whose holder vanished: the longest wait for it plus the window it is held. */
export function rateExpirationMs(rate: Rate, widen = 1): number {
	return Math.ceil(2 * windowMs(rate, widen) + 5000);
}

/** How long Bottleneck keeps an in-flight slot whose holder vanished: its wait (one spacing per slot) plus the request. */
export function inFlightExpirationMs(rate: Rate, maxConcurrent: number, holdMs: number, widen = 1): number {
	return Math.ceil(holdMs + (windowMs(rate, widen) / rate.calls) * maxConcurrent + 5000);
}

/**
 * A request's slots: the in-flight slot (when `inFlight` is given), then the rate slot, taken last so
 * that it starts when the request leaves; the rate slot frees itself one window after it started.
 * Resolves with the release of the in-flight slot; an abort rejects at once.
 */
export async function acquireRequestSlots(
	limiters: { rate: Bottleneck; inFlight?: Bottleneck | undefined },
	signal: AbortSignal,
	timing: { windowMs: number; rateExpirationMs: number; inFlightExpirationMs: number },
): Promise<() => void> {
	const releaseInFlight = limiters.inFlight ? await acquireSlot(limiters.inFlight, signal, timing.inFlightExpirationMs) : () => undefined;
	try {
		const releaseRate = await acquireSlot(limiters.rate, signal, timing.rateExpirationMs);
		// Unref'd: a process that is done does not wait for its last window to pass.
		setTimeout(releaseRate, Math.ceil(timing.windowMs)).unref();
	} catch (e) {
		releaseInFlight();
		throw e;
	}
	return releaseInFlight;
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

/** The limits of one process: local Bottleneck limiters. */
export class CallRateLimiter implements RequestLimiter {
	private readonly rateLimiter: Bottleneck;
	private readonly inFlight: Bottleneck | undefined;
	private widenFactor = 1;

	constructor(
		private readonly rate: Rate,
		private readonly maxConcurrent?: number,
	) {
		this.rateLimiter = new Bottleneck(rateLimits(rate));
		this.inFlight = maxConcurrent === undefined ? undefined : new Bottleneck({ maxConcurrent });
	}

	/** See windowMs. */
	static windowMs(rate: Rate, widen = 1): number {
		return windowMs(rate, widen);
	}

	get window(): number {
		return windowMs(this.rate, this.widenFactor);
	}

	acquire(signal: AbortSignal, holdMs = 120_000): Promise<() => void> {
		return acquireRequestSlots({ rate: this.rateLimiter, inFlight: this.inFlight }, signal, {
			windowMs: this.window,
			rateExpirationMs: rateExpirationMs(this.rate, this.widenFactor),
			inFlightExpirationMs: inFlightExpirationMs(this.rate, this.maxConcurrent ?? 1, holdMs, this.widenFactor),
		});
	}

	widen(): number {
		if (this.widenFactor < 1.1) {
			this.widenFactor = Math.min(1.1, this.widenFactor * 1.02);
			this.rateLimiter.updateSettings({ minTime: rateLimits(this.rate, this.widenFactor).minTime });
		}
		return this.window;
	}

	stop(): void {
		for (const b of [this.rateLimiter, this.inFlight]) b?.stop({ dropWaitingJobs: true }).catch(() => undefined);
	}
}
