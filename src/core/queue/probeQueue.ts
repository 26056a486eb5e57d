/**
 * One quick look at the queue's Redis before a run is put on it: connects once (no reconnection, no
 * command waiting offline) and PINGs, so an unreachable or refusing Redis is a plain reason within
 * seconds instead of the endless wait of the long-lived connections (`connectRedis`, whose commands
 * wait through a Redis restart by design).
 */
import { Redis } from "ioredis";
import { redactRedisUrl, redisOptions } from "./redisConnection";

export type QueueProbeResult =
	| { ok: true }
	/** `auth`: Redis asks for a password (or another one); `unreachable`: no Redis answered; `url`: the URL itself is wrong. */
	| { ok: false; kind: "auth" | "unreachable" | "url"; reason: string };

/** Words for a socket or Redis error, without the URL (the caller names the queue). */
function reasonOf(e: unknown, timeoutMs: number): { kind: "auth" | "unreachable"; reason: string } {
	const err = e as NodeJS.ErrnoException;
	const message = err?.message ?? String(e);
	if (/NOAUTH/i.test(message)) return { kind: "auth", reason: "Redis asks for a password" };
	if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) return { kind: "auth", reason: "Redis refused the password" };
	switch (err?.code) {
		case "ECONNREFUSED":
			return { kind: "unreachable", reason: "connection refused" };
		case "ENOTFOUND":
		case "EAI_AGAIN":
			return { kind: "unreachable", reason: "no such host" };
		case "EHOSTUNREACH":
		case "ENETUNREACH":
			return { kind: "unreachable", reason: "host unreachable" };
		case "ECONNRESET":
			return { kind: "unreachable", reason: "the connection was reset (is it Redis, and TLS as the URL says?)" };
		case "ETIMEDOUT":
			return { kind: "unreachable", reason: `no answer within ${Math.round(timeoutMs / 1000)} s` };
		default:
			if (/Protocol error/i.test(message)) return { kind: "unreachable", reason: "the server there does not answer as Redis does" };
			return { kind: "unreachable", reason: message.replace(/^Error: /, "") || "no answer" };
	}
}

/** Connects to the queue's Redis once and PINGs it; resolves within about `timeoutMs` (never throws). */
export async function probeQueue(url: string, timeoutMs = 5000): Promise<QueueProbeResult> {
	let options;
	try {
		options = redisOptions(url);
	} catch (e) {
		return { ok: false, kind: "url", reason: e instanceof Error ? e.message : String(e) };
	}
	const redis = new Redis({
		...options,
		lazyConnect: true,
		enableOfflineQueue: false,
		maxRetriesPerRequest: 0,
		retryStrategy: () => null,
		connectTimeout: timeoutMs,
		commandTimeout: timeoutMs,
	});
	// The socket's own error (refused, no such host…) comes as an event; connect() only says "Connection is closed".
	let socketError: unknown;
	redis.on("error", (e) => {
		socketError ??= e;
	});
	let timer: NodeJS.Timeout | undefined;
	const guard = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })), timeoutMs + 1000);
	});
	try {
		await Promise.race([
			(async () => {
				await redis.connect();
				const pong = await redis.ping();
				if (pong !== "PONG") throw new Error(`unexpected answer to PING from ${redactRedisUrl(url)}: ${pong}`);
			})(),
			guard,
		]);
		return { ok: true };
	} catch (e) {
		return { ok: false, ...reasonOf(socketError ?? e, timeoutMs) };
	} finally {
		clearTimeout(timer);
		redis.disconnect();
	}
}
