/**
 * The client-side rate limit (PRODUCT.md §3): at most `calls` requests per `periodSeconds`, shared by
 * every batch of a client, as close to the ceiling as possible without provoking 429s.
 *
 * Two stages:
 * 1. bottleneck with `minTime` smooths the stream (no burst of `calls` requests at once); it is the
 *    seam where a Redis-backed Bottleneck cluster will share one quota between machines;
 * 2. a sliding window on the actual send times: a request leaves only when the `calls`-th previous
 *    one left more than a window ago. The window is the period plus a margin for network jitter (1 %,
 *    at least 50 ms), so a server that counts arrivals in any window of the period never sees more
 *    than `calls`. Late timers do not add up (the window catches up), so a long run gets
 *    period / window ≈ 97.5–99 % of the ceiling.
 */
import Bottleneck from "bottleneck";
import { timerDelay } from "../util/timers";

function abortReason(signal: AbortSignal): unknown {
	return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) return reject(abortReason(signal));
		const onAbort = () => {
			clearTimeout(timer);
			reject(abortReason(signal));
		};
		const timer = setTimeout(() => {
			signal.removeEventListener("abort", onAbort);
			resolve();
		}, timerDelay(ms));
		signal.addEventListener("abort", onAbort, { once: true });
	});
}

export class CallRateLimiter {
	private readonly bottleneck: Bottleneck;
	/** Send times of the last `calls` requests, oldest first. */
	private readonly sent: number[] = [];
	private widenFactor = 1;

	constructor(private readonly rate: { calls: number; periodSeconds: number }) {
		this.bottleneck = new Bottleneck({ minTime: this.smoothingMs() });
	}

	/** The window in which at most `calls` requests leave: the period (widened after 429s) plus the jitter margin. */
	static windowMs(rate: { calls: number; periodSeconds: number }, widen = 1): number {
		const periodMs = rate.periodSeconds * 1000;
		return periodMs * widen + Math.max(periodMs * 0.01, 50);
	}

	get window(): number {
		return CallRateLimiter.windowMs(this.rate, this.widenFactor);
	}

	/** Waits until a request may leave, and counts it as sent. Rejects with the abort reason. */
	async acquire(signal: AbortSignal): Promise<void> {
		const token = this.bottleneck.schedule(() => Promise.resolve());
		await new Promise<void>((resolve, reject) => {
			const onAbort = () => reject(abortReason(signal));
			if (signal.aborted) return onAbort();
			signal.addEventListener("abort", onAbort, { once: true });
			token.then(
				() => {
					signal.removeEventListener("abort", onAbort);
					resolve();
				},
				(e: unknown) => {
					signal.removeEventListener("abort", onAbort);
					reject(e);
				},
			);
		});
		for (;;) {
			const now = Date.now();
			const oldest = this.sent.length >= this.rate.calls ? (this.sent[this.sent.length - this.rate.calls] as number) : -Infinity;
			const at = oldest + this.window;
			if (now >= at) {
				this.sent.push(now);
				if (this.sent.length > this.rate.calls) this.sent.splice(0, this.sent.length - this.rate.calls);
				return;
			}
			await sleep(at - now, signal);
		}
	}

	/** The server still answered "rate limit": stretch the window by 2 % (at most 10 % in all). Returns the window. */
	widen(): number {
		if (this.widenFactor < 1.1) {
			this.widenFactor = Math.min(1.1, this.widenFactor * 1.02);
			this.bottleneck.updateSettings({ minTime: this.smoothingMs() });
		}
		return this.window;
	}

	stop(): void {
		this.bottleneck.stop({ dropWaitingJobs: true }).catch(() => undefined);
	}

	/** Bottleneck's spacing: 90 % of the average gap, so that the window (not the timer) sets the pace. */
	private smoothingMs(): number {
		return (0.9 * this.window) / this.rate.calls;
	}
}
