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

	void it("a stalled event loop (a timer firing late) still never puts more than `calls` in one period", async () => {
		const limiter = new CallRateLimiter({ calls: 5, periodSeconds: 0.3 });
		const signal = new AbortController().signal;
		setMaxListeners(0, signal);
		const times: number[] = [];
		const all = Promise.all(Array.from({ length: 16 }, () => limiter.acquire(signal).then(() => times.push(Date.now()))));
		// Block the event loop for 200 ms (more than the 50 ms margin) once a few requests have left.
		await new Promise((r) => setTimeout(r, 150));
		const until = Date.now() + 200;
		while (Date.now() < until) {
			// busy: every timer due meanwhile fires late, together
		}
		await all;
		times.sort((a, b) => a - b);
		for (let k = 0; k + 5 < times.length; k++) assert.ok(times[k + 5]! - times[k]! >= 300, `requests ${k} and ${k + 5} left ${times[k + 5]! - times[k]!} ms apart`);
		limiter.stop();
	});

	void it("at most `maxConcurrent` requests hold a slot at once; a release lets the next one go", async () => {
		const limiter = new CallRateLimiter({ calls: 1000, periodSeconds: 1 }, 2);
		const signal = new AbortController().signal;
		const a = await limiter.acquire(signal);
		await limiter.acquire(signal);
		let third = false;
		const pending = limiter.acquire(signal).then((release) => {
			third = true;
			return release;
		});
		await new Promise((r) => setTimeout(r, 100));
		assert.equal(third, false, "a third request went while two held their slots");
		a();
		(await pending)();
		assert.equal(third, true);
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
