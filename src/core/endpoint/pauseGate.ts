/**
 * The pause gate of the endpoint client (PRODUCT.md §3): while the endpoint as a whole refuses (429/503
 * streaks, a Retry-After on a refusal) nothing new is sent; one request at a time probes, and its
 * answer ends the pause or starts another. A Retry-After on an overload or server error holds every
 * request until it has passed. A refusal streak longer than `maxPauseMs` stops the client for good
 * (`fail`), which also ends every wait.
 *
 * With a SharedQuota (src/core/queue/sharedQuota.ts) the pause, the hold and the probe are shared by
 * every worker through Redis: a pause one worker enters holds the others, one worker probes for all,
 * and a probe answered anywhere resumes everyone. Redis failures only cost the sharing.
 */
import type { Logger } from "../util/logger";
import { timerDelay } from "../util/timers";
import type { SharedPauseState, SharedQuota } from "../queue/sharedQuota";
import { abortReason } from "./rateLimiter";
import { FatalEndpointError, type EndpointSettings } from "./types";

/** How often a worker of a shared quota looks whether another worker's pause ended. */
const sharedPollMs = 500;
/** How much longer than the pause itself the shared pause and probe keys live (a dead worker's expire). */
const sharedPauseSlackMs = 10_000;

export type PauseGateSettings = Pick<EndpointSettings, "maxPauseMs" | "minRetryDelayMs" | "maxRetryDelayMs" | "requestTimeoutMs">;

export class PauseGate {
	/** Endpoint-wide refusal: when the current streak of refusals started (reset by any success). */
	private refusalSince: number | undefined;
	private paused: { reason: string; resumeAt: number } | undefined;
	private probeInFlight = false;
	/** No request leaves before this time (a Retry-After received by any request). */
	private holdUntil = 0;
	private failure: unknown;
	/** The local pause was taken over from the shared one (another worker paused): it ends when that one does. */
	private pauseFromShared = false;
	/** Shared pause writes not yet acknowledged by Redis. */
	private sharedWrites: Promise<void> | undefined;
	private readonly wakers = new Set<() => void>();

	/** `onChange` is called when the pause begins or ends. */
	constructor(
		private readonly settings: PauseGateSettings,
		private readonly logger: Logger,
		private readonly quota: SharedQuota | undefined,
		private readonly onChange: () => void,
	) {}

	/** The current pause, if any. */
	get pause(): { reason: string; resumeAt: number } | undefined {
		return this.paused;
	}

	/** Why the client stopped for good, or undefined. */
	get fatal(): unknown {
		return this.failure;
	}

	/** True when a request that is not the probe must not leave now (paused, or held by a Retry-After; with a shared quota, also by another worker). */
	closedNow(): boolean {
		// The last known shared state, kept current by Redis pub/sub: no round trip here, between the
		// rate slot and the request, which would blur the spacing.
		if (this.quota) this.applyShared(this.quota.sharedState());
		return this.paused !== undefined || Date.now() < this.holdUntil;
	}

	/** Any success: the refusal streak is over. */
	noteSuccess(): void {
		this.refusalSince = undefined;
	}

	/** A Retry-After on an overload or server error: no request leaves before it has passed (at most maxRetryDelayMs). */
	hold(retryAfterMs: number): void {
		this.holdUntil = Math.max(this.holdUntil, Date.now() + Math.min(retryAfterMs, this.settings.maxRetryDelayMs));
		const until = this.holdUntil;
		this.shared((q) => q.setHold(until));
	}

	/**
	 * An endpoint-wide refusal: counts toward the streak; a refusal with a Retry-After pauses the client
	 * (the endpoint says when to come back), and so does a streak longer than twice maxRetryDelayMs.
	 */
	noteRefusal(e: { kind: string; message: string; retryAfterMs?: number | undefined }): void {
		this.refusalSince ??= Date.now();
		const streakMs = Date.now() - this.refusalSince;
		if (!this.paused && e.kind === "refusal" && e.retryAfterMs !== undefined && e.retryAfterMs > 0) {
			this.enterPause(`endpoint refusing requests: ${e.message}`, e.retryAfterMs);
		} else if (!this.paused && streakMs > this.settings.maxRetryDelayMs * 2) {
			this.enterPause(`endpoint refusing requests for ${Math.round(streakMs / 1000)} s: ${e.message}`, e.retryAfterMs);
		}
	}

	/** Runs `end` (the release of a request's rate slot) once this client's shared writes reached Redis, so that another worker sees a pause before it gets the slot. */
	afterSharedWrites(end: () => void): void {
		if (this.sharedWrites) void this.sharedWrites.finally(end);
		else end();
	}

	/**
	 * Calls `abort` with the failure as soon as the client stops for good (once); returns the function
	 * that stops watching.
	 */
	onFail(abort: (reason: unknown) => void): () => void {
		const watch = () => {
			if (this.failure !== undefined) abort(this.failure);
			else this.wakers.add(watch);
		};
		this.wakers.add(watch);
		return () => this.wakers.delete(watch);
	}

	/** How long to honour a server's Retry-After: at most `maxRetryDelayMs` (an absurd value must not stall the run). */
	private boundedDelay(retryAfterMs: number | undefined): number {
		return Math.min(Math.max(retryAfterMs ?? this.settings.maxRetryDelayMs, this.settings.minRetryDelayMs), this.settings.maxRetryDelayMs);
	}


	enterPause(reason: string, retryAfterMs: number | undefined): void {
		const now = Date.now();
		this.refusalSince ??= now;
		const deadline = this.refusalSince + this.settings.maxPauseMs;
		if (now >= deadline) {
			this.fail(new FatalEndpointError("paused-too-long", `The endpoint has refused requests for ${Math.round((now - this.refusalSince) / 1000)} s (longer than the allowed ${Math.round(this.settings.maxPauseMs / 1000)} s); the run stops. Last answer: ${reason}`));
			return;
		}
		if (this.paused) return;
		const resumeAt = Math.min(deadline, now + this.boundedDelay(retryAfterMs));
		this.paused = { reason, resumeAt };
		this.pauseFromShared = false;
		this.publishPause();
		this.logger.warn(`Paused: ${reason}. Probing again at ${new Date(resumeAt).toISOString()}.`);
		this.onChange();
		this.wake();
	}

	probeRefused(e: { message: string; retryAfterMs?: number | undefined }): void {
		this.probeInFlight = false;
		const now = Date.now();
		const since = this.refusalSince ?? now;
		if (now - since >= this.settings.maxPauseMs) {
			this.fail(new FatalEndpointError("paused-too-long", `The endpoint has refused requests for ${Math.round((now - since) / 1000)} s (longer than the allowed ${Math.round(this.settings.maxPauseMs / 1000)} s); the run stops. Last answer: ${e.message}`));
			return;
		}
		const resumeAt = Math.min(since + this.settings.maxPauseMs, now + this.boundedDelay(e.retryAfterMs));
		this.paused = { reason: `endpoint refusing requests: ${e.message}`, resumeAt };
		this.pauseFromShared = false;
		this.publishPause(true);
		this.logger.info(`Probe refused (${e.message}); next probe at ${new Date(resumeAt).toISOString()}.`);
		this.onChange();
		this.wake();
	}

	endProbe(): void {
		this.probeInFlight = false;
		this.shared((q) => q.releaseProbe());
		this.wake();
	}

	/** The probe was answered (or, with `shared`, another worker's was): the pause ends. */
	resume(fromShared = false): void {
		if (!fromShared) {
			this.probeInFlight = false;
			if (this.paused || this.holdUntil > 0) this.shared((q) => q.clearPause());
		}
		this.pauseFromShared = false;
		if (this.paused) {
			this.logger.info(fromShared ? "Endpoint accepts requests again (another worker's probe was answered): resuming." : "Endpoint accepts requests again: resuming.");
			this.paused = undefined;
			this.holdUntil = 0;
			this.onChange();
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
				this.onChange();
				this.wake();
			} else if (pause.resumeAt > this.paused.resumeAt && !this.probeInFlight) {
				this.paused = { reason: pause.reason, resumeAt: pause.resumeAt };
				this.onChange();
			}
		} else if (this.paused && this.pauseFromShared && !this.probeInFlight) {
			this.resume(true);
		}
	}

	/** The client stops for good: every wait ends with `e` (logged unless `quiet`). */
	fail(e: unknown, quiet = false): void {
		if (this.failure !== undefined) return;
		this.failure = e;
		if (!quiet) this.logger.error(e instanceof Error ? e.message : String(e));
		this.paused = undefined;
		this.wake();
	}

	/** Waits while paused or held by a Retry-After; returns true when this request is the probe. */
	async pass(signal: AbortSignal): Promise<boolean> {
		for (;;) {
			if (this.failure !== undefined) throw this.failure;
			signal.throwIfAborted();
			if (this.quota) {
				await this.syncShared(this.quota);
				if (this.failure !== undefined) throw this.failure;
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

	wake(): void {
		const wakers = [...this.wakers];
		this.wakers.clear();
		for (const w of wakers) w();
	}

	/** Resolves on the next state change, after `ms` (if given), or rejects when `signal` aborts. */
	waitForChange(ms: number | undefined, signal: AbortSignal): Promise<void> {
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
}
