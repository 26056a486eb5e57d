import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedResponseError, parseEmbeddingResponse } from "../../../src/core/endpoint/response";

const row = (v: number[], sf?: number) => ({ image_features: [v], ...(sf === undefined ? {} : { scaling_factor: sf }) });

void describe("parseEmbeddingResponse", () => {
	void it("reads nested and flat vectors in row order, and the scaling factor", () => {
		const body = JSON.stringify([row([0.6, 0.8], 4.5), { image_features: [1, 0] }]);
		const parsed = parseEmbeddingResponse(body, 2, "image_features");
		assert.deepEqual(
			parsed.vectors.map((v) => [...v]),
			[
				[Math.fround(0.6), Math.fround(0.8)],
				[1, 0],
			],
		);
		assert.equal(parsed.scalingFactor, 4.5);
	});

	void it("unwraps a body that is the array serialised once more as a JSON string (json.dumps in the scoring script)", () => {
		const inner = JSON.stringify([row([0, 1]), row([1, 0])]);
		const parsed = parseEmbeddingResponse(JSON.stringify(inner), 2, "image_features");
		assert.deepEqual(
			parsed.vectors.map((v) => [...v]),
			[
				[0, 1],
				[1, 0],
			],
		);
	});

	void it("refuses a string that does not hold JSON, and a doubly wrapped string", () => {
		assert.throws(() => parseEmbeddingResponse(JSON.stringify("upstream error"), 1, "image_features"), MalformedResponseError);
		const twice = JSON.stringify(JSON.stringify(JSON.stringify([row([1, 0])])));
		assert.throws(() => parseEmbeddingResponse(twice, 1, "image_features"), /not a JSON array/);
	});

	void it("refuses a wrong row count, a missing vector, mixed lengths and non-finite numbers", () => {
		assert.throws(() => parseEmbeddingResponse(JSON.stringify([row([1, 0])]), 2, "image_features"), /1 rows for 2 sent/);
		assert.throws(() => parseEmbeddingResponse(JSON.stringify([{ text_features: [[1, 0]] }]), 1, "image_features"), /no image_features/);
		assert.throws(() => parseEmbeddingResponse(JSON.stringify([row([1, 0]), row([1, 0, 0])]), 2, "image_features"), /row 1 has 3 numbers/);
		assert.throws(() => parseEmbeddingResponse('[{"image_features": [[NaN, 1]]}]', 1, "image_features"), /non-finite/);
	});
});
