import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AttemptError, classifyHttpFailure, isRetryable, parseRetryAfter } from "../../../src/core/endpoint/retryPolicy";
import { buildPayload, payloadBytes, splitByPayload } from "../../../src/core/endpoint/payload";
import { FatalEndpointError } from "../../../src/core/endpoint/types";

const h = (o: Record<string, string>) => new Headers(o);
const kind = (status: number, headers: Record<string, string> = {}, body = "") => {
	const r = classifyHttpFailure(status, h(headers), body, "secret", "https://x/score");
	return r instanceof AttemptError ? r.kind : `fatal:${r.code}`;
};

void describe("retry policy", () => {
	void it("reads Retry-After as seconds, as an HTTP date, and Azure's retry-after-ms", () => {
		const now = Date.parse("Wed, 25 Nov 2026 10:00:00 GMT");
		assert.equal(parseRetryAfter(h({ "Retry-After": "2" }), now), 2000);
		assert.equal(parseRetryAfter(h({ "Retry-After": "Wed, 25 Nov 2026 10:00:07 GMT" }), now), 7000);
		assert.equal(parseRetryAfter(h({ "Retry-After": "Wed, 25 Nov 2026 09:59:00 GMT" }), now), 0);
		assert.equal(parseRetryAfter(h({ "retry-after-ms": "1500", "Retry-After": "9" }), now), 1500);
		assert.equal(parseRetryAfter(h({ "Retry-After": "soon" }), now), undefined);
		assert.equal(parseRetryAfter(h({}), now), undefined);
	});

	void it("classifies statuses: refusals, overload, transient, model errors, too large, fatal", () => {
		assert.equal(kind(429, {}, '{"message":"Too many pending requests"}'), "overload");
		assert.equal(kind(429), "refusal");
		assert.equal(kind(503), "refusal");
		assert.equal(kind(500), "server");
		assert.equal(kind(502), "server");
		assert.equal(kind(504), "server");
		assert.equal(kind(408), "server");
		for (const s of ["408", "500", "504"]) assert.equal(kind(424, { "ms-azureml-model-error-statuscode": s }), "server");
		for (const s of ["429", "503"]) assert.equal(kind(424, { "ms-azureml-model-error-statuscode": s }), "refusal");
		assert.equal(kind(424, { "ms-azureml-model-error-statuscode": "400" }), "model");
		assert.equal(kind(424), "model");
		assert.equal(kind(413), "too-large");
		assert.equal(kind(400, {}, "request body exceeds the maximum size"), "too-large");
		assert.equal(kind(400, {}, "bad input"), "fatal:bad-request");
		assert.equal(kind(401), "fatal:unauthorized");
		assert.equal(kind(403), "fatal:forbidden");
		assert.equal(kind(404), "fatal:not-found");
		assert.equal(kind(405), "fatal:bad-request");
	});

	void it("retries transient kinds, a malformed body at most 3 attempts, never model errors or 413", () => {
		assert.ok(isRetryable(new AttemptError("network", "x"), 7));
		assert.ok(isRetryable(new AttemptError("malformed", "x"), 2));
		assert.ok(!isRetryable(new AttemptError("malformed", "x"), 3));
		assert.ok(!isRetryable(new AttemptError("model", "x"), 1));
		assert.ok(!isRetryable(new AttemptError("too-large", "x"), 1));
		assert.ok(!isRetryable(new FatalEndpointError("unauthorized", "x"), 1));
	});

	void it("removes the credential from a quoted body", () => {
		const r = classifyHttpFailure(500, h({}), "echo Bearer secret", "secret", "https://x/score");
		assert.ok(!r.message.includes("secret"));
		assert.match(r.message, /Bearer \*\*\*/);
	});
});

void describe("payload", () => {
	const rows = (sizes: number[]) => sizes.map((n, i) => ({ image: "A".repeat(n), text: i % 2 ? "" : "chest" }));
	void it("payloadBytes is the exact size of the body", () => {
		for (const r of [rows([]), rows([5]), rows([100, 3, 40, 1, 1, 1, 1, 1, 1, 1, 1, 1]), [{ image: "", text: 'poumon "gauche" é\\ 肺\n' }]]) assert.equal(payloadBytes(r), Buffer.byteLength(buildPayload(r)));
	});

	void it("splitByPayload keeps order, respects the row and byte caps, and isolates an oversized row", () => {
		const input = rows([100, 100, 100, 100, 5000, 100, 100]);
		const groups = splitByPayload(input, 3, 400);
		assert.deepEqual(groups.flat(), input);
		for (const g of groups) {
			assert.ok(g.length <= 3);
			if (g.length > 1) assert.ok(Buffer.byteLength(buildPayload(g)) <= 400);
		}
		assert.ok(groups.some((g) => g.length === 1 && g[0]!.image.length === 5000));
	});
});
