/**
 * The queue's Redis address, `redis://[USER:PASSWORD@]HOST:PORT[/DB]` (or `rediss://` for TLS), as
 * connection options for ioredis and BullMQ. A password in the URL is used to connect but never
 * recorded: every message, run.json and Redis value names the queue by `redactRedisUrl`.
 */
import { Redis, type RedisOptions } from "ioredis";
import { probeQueue } from "./probeQueue";

export class RedisUrlError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "RedisUrlError";
	}
}

/** Parses and checks a queue URL; throws RedisUrlError with a message that says what is wrong. */
export function redisOptions(url: string): RedisOptions {
	let u: URL;
	try {
		u = new URL(url);
	} catch {
		throw new RedisUrlError(`The queue must be a Redis URL such as redis://127.0.0.1:6379 (got "${redactRedisUrl(url)}").`);
	}
	if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new RedisUrlError(`The queue URL must start with redis:// or rediss:// (got "${u.protocol}//…").`);
	if (!u.hostname) throw new RedisUrlError("The queue URL names no host (e.g. redis://127.0.0.1:6379).");
	const port = u.port ? Number(u.port) : 6379;
	const dbText = u.pathname.replace(/^\/+/, "");
	const db = dbText === "" ? 0 : Number(dbText);
	if (!/^\d*$/.test(dbText) || !Number.isInteger(db) || db < 0 || db > 10_000) throw new RedisUrlError(`The queue URL's database must be a number, as in redis://HOST:PORT/0 (got "/${dbText}").`);
	const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
	return {
		host,
		port,
		db,
		...(u.username ? { username: decodeURIComponent(u.username) } : {}),
		...(u.password ? { password: decodeURIComponent(u.password) } : {}),
		...(u.protocol === "rediss:" ? { tls: { servername: host } } : {}),
	};
}

/** The queue URL without its user and password (for messages and records). */
export function redactRedisUrl(url: string): string {
	try {
		const u = new URL(url);
		u.username = "";
		u.password = "";
		return u.href.replace(/\/$/, "");
	} catch {
		return "(invalid queue URL)";
	}
}

/**
 * A connection for long-lived use (workers, watchers): commands wait while Redis is away (a restart)
 * instead of failing, as BullMQ requires of a worker's connection (`maxRetriesPerRequest: null`), and
 * the reconnection backs off to at most 2 s.
 */
export function connectRedis(url: string, options: { lazy?: boolean } = {}): Redis {
	return new Redis({
		...redisOptions(url),
		maxRetriesPerRequest: null,
		retryStrategy: (times) => Math.min(2000, 100 * times),
		...(options.lazy ? { lazyConnect: true } : {}),
	});
}

/** BullMQ connection options for a queue URL (BullMQ makes its own connections from them). */
export function bullConnection(url: string): RedisOptions {
	return { ...redisOptions(url), maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(2000, 100 * times) };
}

/** Redis does not answer at the queue URL. */
export class RedisUnreachableError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "RedisUnreachableError";
	}
}

/**
 * Checks that Redis answers at `url` within `timeoutMs` (one PING, no retries — probeQueue), so that a
 * wrong address or a Redis that is down is said at once, in words, instead of waiting forever for a
 * reconnection.
 */
export async function ensureRedisReachable(url: string, timeoutMs = 5000): Promise<void> {
	const probe = await probeQueue(url, timeoutMs);
	if (!probe.ok) throw new RedisUnreachableError(`Cannot reach Redis at ${redactRedisUrl(url)}: ${probe.reason}`);
}
