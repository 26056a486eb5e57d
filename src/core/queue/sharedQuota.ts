/**
 * One endpoint quota for every process of a distributed run (PRODUCT.md §8): the calls per period and
 * the requests in flight of the endpoint client's limiter (rateLimiter.ts), counted in Redis through
 * Bottleneck's clustering, plus the endpoint-wide pause, so that N workers together never exceed the
 * configured rate and an endpoint-wide refusal seen by one worker holds them all.
 *
 * Redis keys (all derived from a hash of the redacted endpoint URL, never from the key):
 * - `b_mii-<hash>-rate_*`, `b_mii-<hash>-inflight_*`: the state of the two Bottleneck limiters (settings,
 *   slots held with their expirations, clients);
 * - `mii:quota:<hash>:pause`: JSON {reason, resumeAt, since}, with a TTL (a dead worker's pause ends);
 * - `mii:quota:<hash>:probe`: the worker that probes a paused endpoint (SET NX with a TTL);
 * - `mii:quota:<hash>:hold`: no request before this time (a Retry-After), with a TTL.
 *
 * A worker that dies leaves nothing stuck: its slots expire (every Bottleneck job has an expiration),
 * its pause and probe keys have TTLs. Redis going away does not fail images: commands wait while the
 * connection is down (ioredis' offline queue), and once Redis answers again the Bottleneck limiter is
 * re-created (its settings keys may be gone after a restart), the waiting requests move to it.
 */
import { createHash } from "node:crypto";
import Bottleneck from "bottleneck";
import Redis, { type RedisOptions } from "ioredis";
import { abortReason, acquireRequestSlots, inFlightExpirationMs, rateExpirationMs, rateLimits, windowMs, type Rate, type RequestLimiter } from "../endpoint/rateLimiter";
import type { Logger } from "../util/logger";
import { redactUrl } from "../util/redactUrl";

export interface SharedQuotaOptions {
	/** redis://HOST:PORT[/DB] (rediss:// for TLS; user and password in the URL are passed to Redis). */
	redisUrl: string;
	/** The quota is per endpoint: Redis ids derive from a hash of it (never the key). */
	endpointUrl: string;
	rate: Rate;
	/** In flight across ALL workers. */
	maxConcurrentRequests: number;
	logger: Logger;
}

/** An endpoint-wide pause as every worker sees it. */
export interface SharedPauseState {
	reason: string;
	/** When the next probe may go (ms since epoch). */
	resumeAt: number;
	/** When the current streak of refusals began (for maxPauseMs). */
	since: number;
}

export interface SharedState {
	pause?: SharedPauseState;
	holdUntil?: number;
}

export interface SharedQuota {
	/** The hash of the endpoint that names the Redis keys. */
	readonly id: string;
	/** Calls per period and requests in flight, counted in Redis. */
	readonly limiter: RequestLimiter;
	/** The shared pause and Retry-After hold, read from Redis now (none when Redis does not answer soon). */
	readPause(): Promise<SharedState>;
	/** The last known shared pause and hold, without a round trip (kept current through Redis pub/sub, and read again every second). */
	sharedState(): SharedState;
	/** Pauses every worker until `resumeAt`; the key lives `ttlMs` longer than that. */
	setPause(pause: SharedPauseState, ttlMs: number): Promise<void>;
	/** No request from any worker before `until` (a Retry-After). */
	setHold(until: number): Promise<void>;
	/** True when this worker is the one to probe (no other probe in the last `ttlMs`); true as well when Redis does not answer. */
	claimProbe(ttlMs: number): Promise<boolean>;
	/** The probe is over without an answer that decides (another may probe). */
	releaseProbe(): Promise<void>;
	/** The endpoint accepts requests again: the pause, the hold and the probe claim end for everyone. */
	clearPause(): Promise<void>;
	dispose(): Promise<void>;
}

/** The Redis id of an endpoint's quota: a hash of its redacted URL (credentials in a URL never reach Redis). */
export function quotaId(endpointUrl: string): string {
	return createHash("sha256").update(redactUrl(endpointUrl)).digest("hex").slice(0, 24);
}

/** How long a pause read may take before the worker goes on without it (Redis away). */
const readTimeoutMs = 2000;

function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
	return new Promise((resolve) => {
		const t = setTimeout(() => resolve(fallback), ms);
		p.then(
			(v) => {
				clearTimeout(t);
				resolve(v);
			},
			() => {
				clearTimeout(t);
				resolve(fallback);
			},
		);
	});
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) return reject(abortReason(signal));
		const onAbort = () => {
			clearTimeout(t);
			reject(abortReason(signal));
		};
		const t = setTimeout(() => {
			signal.removeEventListener("abort", onAbort);
			resolve();
		}, ms);
		signal.addEventListener("abort", onAbort, { once: true });
	});
}

function redisOptions(): RedisOptions {
	return {
		// While Redis is away, commands wait for it (no error after N retries): a restart must not fail images.
		maxRetriesPerRequest: null,
		enableOfflineQueue: true,
		retryStrategy: (times: number) => Math.min(100 * times, 2000),
		connectionName: "medimageinsight-quota",
	};
}

/** One Bottleneck cluster member, with the count of slots it holds (so that it is closed only when they are released). */
interface Member {
	/** Calls per window (`b_mii-<hash>-rate_*` in Redis). */
	rate: Bottleneck;
	/** Requests in flight (`b_mii-<hash>-inflight_*`). */
	inFlight: Bottleneck;
	connection: Bottleneck.IORedisConnection;
	held: number;
	retired: boolean;
	/** Aborted when this member is replaced: requests waiting on it move to the next one. */
	replaced: AbortController;
}

class SharedLimiter implements RequestLimiter {
	private member: Member;
	private widenFactor = 1;
	private stopped = false;
	private recreating: Promise<void> | undefined;
	private errorsLogged = 0;

	constructor(
		private readonly base: Redis,
		private readonly limiterId: string,
		private readonly rate: Rate,
		private readonly maxConcurrent: number,
		private readonly logger: Logger,
	) {
		this.member = this.create();
	}

	get window(): number {
		return windowMs(this.rate, this.widenFactor);
	}

	ready(): Promise<void> {
		return Promise.all([this.member.rate.ready(), this.member.inFlight.ready()]).then(() => this.applySettings(this.member));
	}

	private create(): Member {
		const connection = new Bottleneck.IORedisConnection({ client: this.base.duplicate({ lazyConnect: false }), Redis } as unknown as Bottleneck.IORedisConnectionOptions);
		const clustered = (id: string, limits: Bottleneck.ConstructorOptions) =>
			new Bottleneck({
				...limits,
				id,
				datastore: "ioredis",
				connection,
				clearDatastore: false,
				// Idle state leaves Redis after six hours; slots are freed by their own expirations.
				timeout: 6 * 3600_000,
				// How often each member ticks the shared state (expired slots of vanished workers).
				heartbeatInterval: 250,
			} as Bottleneck.ConstructorOptions);
		const rate = clustered(`${this.limiterId}-rate`, rateLimits(this.rate, this.widenFactor));
		const inFlight = clustered(`${this.limiterId}-inflight`, { maxConcurrent: this.maxConcurrent });
		const member: Member = { rate, inFlight, connection, held: 0, retired: false, replaced: new AbortController() };
		for (const b of [rate, inFlight]) b.on("error", (e: unknown) => this.onError(member, e));
		return member;
	}

	/** This process's limits become the cluster's (the newest process's settings win). */
	private async applySettings(member: Member): Promise<void> {
		await Promise.all([member.rate.updateSettings(rateLimits(this.rate, this.widenFactor)), member.inFlight.updateSettings({ maxConcurrent: this.maxConcurrent })]);
	}

	private onError(member: Member, e: unknown): void {
		if (this.stopped || member !== this.member) return;
		const message = e instanceof Error ? e.message : String(e);
		if (this.errorsLogged++ < 3) this.logger.warn(`Shared quota: Redis error (${message}); requests wait until Redis answers again.`);
		else this.logger.debug(`Shared quota: Redis error (${message}).`);
		this.scheduleRecreate();
	}

	/** Once Redis answers again, replaces the limiter (its keys and scripts may be gone after a restart). */
	private scheduleRecreate(): void {
		if (this.recreating || this.stopped) return;
		this.recreating = (async () => {
			try {
				await new Promise((r) => setTimeout(r, 200));
				await this.base.ping(); // waits while Redis is away (offline queue)
				if (this.stopped) return;
				const old = this.member;
				const next = this.create();
				this.member = next;
				await Promise.all([next.rate.ready(), next.inFlight.ready()]);
				await this.applySettings(next);
				old.retired = true;
				old.replaced.abort();
				if (old.held === 0) this.close(old);
				this.logger.info("Shared quota: Redis answers again; the limiter was re-created.");
				this.errorsLogged = 0;
			} catch (e) {
				this.logger.debug(`Shared quota: re-creating the limiter failed (${e instanceof Error ? e.message : String(e)}).`);
			} finally {
				this.recreating = undefined;
			}
		})();
	}

	private close(member: Member): void {
		// Bottleneck does not close a connection it was given: close it here.
		void Promise.resolve()
			.then(() => Promise.all([member.rate.stop({ dropWaitingJobs: true }), member.inFlight.stop({ dropWaitingJobs: true })]))
			.catch(() => undefined)
			.then(() => member.connection.disconnect(false))
			.catch(() => undefined);
	}

	async acquire(signal: AbortSignal, holdMs = 120_000): Promise<() => void> {
		for (let attempt = 0; ; attempt++) {
			if (this.stopped) throw new DOMException("The shared quota was disposed.", "AbortError");
			signal.throwIfAborted();
			const member = this.member;
			// The attempt ends when the caller aborts, or when this member is replaced (then: the next one).
			const attemptAbort = new AbortController();
			const follow = () => attemptAbort.abort(abortReason(signal));
			const moved = () => attemptAbort.abort(new DOMException("limiter replaced", "AbortError"));
			signal.addEventListener("abort", follow, { once: true });
			member.replaced.signal.addEventListener("abort", moved, { once: true });
			try {
				if (member.replaced.signal.aborted) continue;
				const release = await acquireRequestSlots({ rate: member.rate, inFlight: member.inFlight }, attemptAbort.signal, {
					windowMs: this.window,
					rateExpirationMs: rateExpirationMs(this.rate, this.widenFactor),
					inFlightExpirationMs: inFlightExpirationMs(this.rate, this.maxConcurrent, holdMs, this.widenFactor),
				});
				member.held++;
				let done = false;
				return () => {
					if (done) return;
					done = true;
					release();
					member.held--;
					if (member.retired && member.held === 0) this.close(member);
				};
			} catch (e) {
				if (signal.aborted) throw abortReason(signal);
				if (this.stopped) throw new DOMException("The shared quota was disposed.", "AbortError");
				if (!member.replaced.signal.aborted) {
					// A Bottleneck error (Redis away, keys lost): wait for Redis and a fresh limiter.
					this.onError(member, e);
					await sleep(Math.min(200 * (attempt + 1), 2000), signal);
				}
			} finally {
				signal.removeEventListener("abort", follow);
				member.replaced.signal.removeEventListener("abort", moved);
			}
		}
	}

	widen(): number {
		if (this.widenFactor < 1.1) {
			this.widenFactor = Math.min(1.1, this.widenFactor * 1.02);
			this.applySettings(this.member).catch((e: unknown) => this.logger.debug(`Shared quota: widening failed (${e instanceof Error ? e.message : String(e)}).`));
		}
		return this.window;
	}

	stop(): void {
		if (this.stopped) return;
		this.stopped = true;
		this.member.replaced.abort();
		this.close(this.member);
	}
}

/** Connects to Redis and joins (or creates) the endpoint's shared quota. Rejects when Redis cannot be reached at start. */
export async function createSharedQuota(options: SharedQuotaOptions): Promise<SharedQuota> {
	const { logger } = options;
	if (!/^rediss?:\/\//i.test(options.redisUrl)) throw new Error(`The queue URL must be redis://HOST:PORT[/DB] (got "${redactUrl(options.redisUrl)}").`);
	if (!(options.rate.calls >= 1) || !(options.rate.periodSeconds > 0)) throw new Error("The rate limit needs at least 1 call per period and a period above 0 s.");
	if (!(options.maxConcurrentRequests >= 1)) throw new Error("maxConcurrentRequests must be at least 1.");
	const id = quotaId(options.endpointUrl);
	const base = new Redis(options.redisUrl, { ...redisOptions(), lazyConnect: true });
	let firstErrors = 0;
	base.on("error", (e: Error) => {
		if (firstErrors++ < 3) logger.debug(`Shared quota: Redis connection: ${e.message}`);
	});
	try {
		await base.connect();
	} catch (e) {
		base.disconnect();
		throw new Error(`Cannot reach Redis at ${redactUrl(options.redisUrl)}: ${e instanceof Error ? e.message : String(e)}`);
	}
	const limiter = new SharedLimiter(base, `mii-${id}`, options.rate, options.maxConcurrentRequests, logger);
	await limiter.ready();
	const key = (name: string) => `mii:quota:${id}:${name}`;
	const channel = key("events");
	let disposed = false;
	let known: SharedState = {};

	const read = (): Promise<SharedState> =>
		withTimeout(
			base.mget(key("pause"), key("hold")).then(([pause, hold]): SharedState => {
				const out: SharedState = {};
				if (pause) {
					try {
						const p = JSON.parse(pause) as SharedPauseState;
						if (typeof p.reason === "string" && Number.isFinite(p.resumeAt) && Number.isFinite(p.since)) out.pause = p;
					} catch {
						// not ours: ignored
					}
				}
				const h = Number(hold);
				if (hold && Number.isFinite(h)) out.holdUntil = h;
				known = out;
				return out;
			}),
			readTimeoutMs,
			known,
		);
	/** Tells every worker that the pause state changed (they read it again). */
	const announce = () => base.publish(channel, "changed").then(() => undefined);

	// Every change is announced on a channel; a poll every second covers a lost message or a reconnect.
	const subscriber = base.duplicate({ lazyConnect: false });
	subscriber.on("error", () => undefined);
	subscriber.on("message", () => void read());
	await subscriber.subscribe(channel);
	await read();
	const poll = setInterval(() => void read(), 1000);
	poll.unref();

	const quota: SharedQuota = {
		id,
		limiter,
		async readPause() {
			if (disposed) return {};
			return read();
		},
		sharedState() {
			return known;
		},
		async setPause(pause, ttlMs) {
			if (disposed) return;
			const ttl = Math.max(1, Math.ceil(pause.resumeAt - Date.now() + ttlMs));
			known = { ...known, pause };
			await withTimeout(base.set(key("pause"), JSON.stringify(pause), "PX", ttl).then(announce), readTimeoutMs, undefined);
		},
		async setHold(until) {
			if (disposed) return;
			const ttl = Math.ceil(until - Date.now());
			if (ttl <= 0) return;
			// Only ever later: a shorter Retry-After from another worker does not shorten the hold.
			const script = "local cur = tonumber(redis.call('get', KEYS[1]) or '0') if tonumber(ARGV[1]) > cur then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 1";
			if (until > (known.holdUntil ?? 0)) known = { ...known, holdUntil: until };
			await withTimeout(base.eval(script, 1, key("hold"), String(until), String(ttl)).then(announce), readTimeoutMs, undefined);
		},
		async claimProbe(ttlMs) {
			if (disposed) return true;
			return withTimeout(
				base.set(key("probe"), String(process.pid), "PX", Math.max(1, Math.ceil(ttlMs)), "NX").then((r) => r === "OK"),
				readTimeoutMs,
				true,
			);
		},
		async releaseProbe() {
			if (disposed) return;
			await withTimeout(base.del(key("probe")).then(() => undefined), readTimeoutMs, undefined);
		},
		async clearPause() {
			if (disposed) return;
			known = {};
			await withTimeout(base.del(key("pause"), key("hold"), key("probe")).then(announce), readTimeoutMs, undefined);
		},
		async dispose() {
			if (disposed) return;
			disposed = true;
			clearInterval(poll);
			limiter.stop();
			subscriber.disconnect();
			await base.quit().catch(() => base.disconnect());
		},
	};
	return quota;
}
