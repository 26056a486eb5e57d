import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setMaxListeners } from "node:events";
import { CallRateLimiter } from "../../../src/core/endpoint/rateLimiter";

void describe("CallRateLimiter", () => {
	void it("never lets more than `calls` requests leave within one period, even when they all ask at once", async () => {
		const limiter = new CallRateLimiter({ calls: 5, periodSeconds: 0.3 });
		const signal = new AbortController().signal;
		setMaxListeners(0, signal); // 16 waiters on one signal, on purpose
		const times: number[] = [];
		await Promise.all(Array.from({ length: 16 }, () => limiter.acquire(signal).then(() => times.push(Date.now()))));
		times.sort((a, b) => a - b);
		for (let k = 0; k + 5 < times.length; k++) assert.ok(times[k + 5]! - times[k]! >= 300, `requests ${k} and ${k + 5} left ${times[k + 5]! - times[k]!} ms apart`);
		// No burst at the start either: the first five are spread by bottleneck (about 63 ms apart), not sent at once.
		assert.ok(times[4]! - times[0]! >= 200, `the first five left within ${times[4]! - times[0]!} ms`);
		limiter.stop();
	});

	void it("widening after a 429 lengthens the window by 2 %, at most 10 %", () => {
		const limiter = new CallRateLimiter({ calls: 60, periodSeconds: 60 });
		assert.equal(limiter.window, 60_000 + 600);
		assert.equal(limiter.widen(), 60_000 * 1.02 + 600);
		for (let i = 0; i < 20; i++) limiter.widen();
		assert.equal(limiter.window, 60_000 * 1.1 + 600);
		assert.equal(CallRateLimiter.windowMs({ calls: 20, periodSeconds: 2 }), 2050);
		limiter.stop();
	});

	void it("an abort while waiting rejects with the abort reason", async () => {
		const limiter = new CallRateLimiter({ calls: 1, periodSeconds: 10 });
		const ac = new AbortController();
		await limiter.acquire(ac.signal);
		const waiting = limiter.acquire(ac.signal);
		setTimeout(() => ac.abort(), 50);
		await assert.rejects(waiting, (e: unknown) => (e as Error).name === "AbortError");
		limiter.stop();
	});
});
