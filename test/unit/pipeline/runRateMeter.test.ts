import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateMeter } from "../../../src/core/pipeline/rateMeter";

void describe("RateMeter (progress rate over a sliding window)", () => {
	void it("gives 0 until a second of history exists, then items per second", () => {
		const m = new RateMeter(10_000, 250);
		m.add(0, 0);
		assert.equal(m.rate(500, 7), 0);
		m.add(1000, 10);
		assert.equal(m.rate(2000, 20), 10);
	});

	void it("forgets what is older than the window, so a stall brings the rate down to 0", () => {
		const m = new RateMeter(10_000, 250);
		m.add(0, 0);
		m.add(5000, 100);
		m.add(12_000, 100);
		assert.equal(m.rate(12_000, 100), 100 / 12);
		assert.equal(m.rate(16_000, 100), 0);
	});

	void it("keeps at most one sample per resolution step", () => {
		const m = new RateMeter(10_000, 1000);
		m.add(0, 0);
		for (let t = 1; t < 1000; t++) m.add(t, t);
		m.add(2000, 2000);
		// With one sample per step, the window starts at t=0 and the rate is exact.
		assert.equal(m.rate(2000, 2000), 1000);
	});
});
