import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { EndpointClient } from "../../../src/core/endpoint/client";
import { keyTokenProvider } from "../../../src/core/endpoint/auth";
import { FatalEndpointError, type ClientStatus, type EmbedItemResult } from "../../../src/core/endpoint/types";
import { nullLogger } from "../../../src/core/util/logger";
import { startSimulator, type SimulatorFault } from "../../../src/core/simulator/server";
import { captureLogger, distinctPngs, fastSettings, jsonAnswer, makePng, startTestServer } from "./helpers";

const key = "test-key-0123";
const tokens = keyTokenProvider(async () => key);
const b64 = (p: Uint8Array) => Buffer.from(p).toString("base64");
const sha = (p: Uint8Array) => createHash("sha256").update(b64(p)).digest("hex");
const items = (pngs: Uint8Array[]) => pngs.map((png, i) => ({ id: `img${i}`, png }));
/** Incompressible pixels, so that a PNG's size is predictable from its dimensions. */
const noise = (x: number, y: number) => (Math.abs(Math.sin(x * 12.9898 + y * 78.233) * 43758.5453) % 1) * 256;
const vec = (seed: number, n = 4) => Array.from({ length: n }, (_, i) => seed + i / 10);

function assertAllOk(results: EmbedItemResult[], n: number): void {
	assert.equal(results.length, n);
	for (const r of results) assert.ok(r.ok, `expected ${r.id} embedded, got ${r.ok ? "" : r.error}`);
}

void describe("EndpointClient request contract", () => {
	void it("sends POST with JSON content type, bearer key, deployment header and the exact body, byte for byte", async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 200, [{ image_features: [vec(1)], scaling_factor: 4.2 }, { image_features: [vec(2)], scaling_factor: 4.2 }]));
		try {
			const pngs = [makePng(4, 3, (x) => x * 60), makePng(5, 2, (x, y) => x * 40 + y)];
			const client = new EndpointClient(fastSettings(server.url, { deployment: "mii-blue" }), tokens, nullLogger);
			const results = await client.embedImages(items(pngs), new AbortController().signal);
			assert.equal(server.requests.length, 1);
			const req = server.requests[0]!;
			assert.equal(req.method, "POST");
			assert.equal(req.url, "/score");
			assert.equal(req.headers["content-type"], "application/json");
			assert.equal(req.headers["authorization"], `Bearer ${key}`);
			assert.equal(req.headers["azureml-model-deployment"], "mii-blue");
			const expected = `{"input_data":{"columns":["image","text"],"index":[0,1],"data":[["${b64(pngs[0]!)}",""],["${b64(pngs[1]!)}",""]]},"params":{}}`;
			assert.equal(req.body, expected);
			assert.deepEqual(
				results.map((r) => r.id),
				["img0", "img1"],
			);
			const r0 = results[0]!;
			assert.ok(r0.ok);
			assert.ok(r0.embedding instanceof Float32Array);
			assert.deepEqual(Array.from(r0.embedding), Array.from(new Float32Array(vec(1))));
			assert.equal(r0.scalingFactor, 4.2);
			client.dispose();
		} finally {
			await server.close();
		}
	});

	void it("returns results in input order with the caller's ids, even repeated ones", async () => {
		const server = await startTestServer((req, res) => {
			const rows = (JSON.parse(req.body) as { input_data: { data: unknown[] } }).input_data.data.length;
			jsonAnswer(res, 200, Array.from({ length: rows }, (_, i) => ({ image_features: [vec(i)] })));
		});
		try {
			const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
			const pngs = distinctPngs(3);
			const results = await client.embedImages([{ id: "a", png: pngs[0]! }, { id: "a", png: pngs[1]! }, { id: "b", png: pngs[2]! }], new AbortController().signal);
			assert.deepEqual(
				results.map((r) => r.id),
				["a", "a", "b"],
			);
			results.forEach((r, i) => {
				assert.ok(r.ok);
				assert.deepEqual(Array.from(r.embedding), Array.from(new Float32Array(vec(i))));
			});
		} finally {
			await server.close();
		}
	});

	void it("sends no deployment header when none is set, and accepts a flat image_features vector without scaling_factor", async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 200, [{ image_features: vec(7) }]));
		try {
			const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
			const [r] = await client.embedImages(items([makePng(2, 2, () => 9)]), new AbortController().signal);
			assert.equal(server.requests[0]!.headers["azureml-model-deployment"], undefined);
			assert.ok(r?.ok);
			assert.deepEqual(Array.from(r.embedding), Array.from(new Float32Array(vec(7))));
			assert.equal(r.scalingFactor, undefined);
		} finally {
			await server.close();
		}
	});

	void it("embeds texts as rows [\"\", text] and reads text_features", async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 200, [{ text_features: [vec(3)], scaling_factor: 4.5 }, { text_features: [vec(4)], scaling_factor: 4.5 }]));
		try {
			const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
			const out = await client.embedTexts(["x-ray chest anteroposterior Atelectasis", 'a "quoted" label'], new AbortController().signal);
			assert.equal(server.requests[0]!.body, `{"input_data":{"columns":["image","text"],"index":[0,1],"data":[["","x-ray chest anteroposterior Atelectasis"],["","a \\"quoted\\" label"]]},"params":{}}`);
			assert.equal(out.embeddings.length, 2);
			assert.deepEqual(Array.from(out.embeddings[1]!), Array.from(new Float32Array(vec(4))));
			assert.equal(out.scalingFactor, 4.5);
		} finally {
			await server.close();
		}
	});

	void it("cuts a batch to stay under maxPayloadBytes, and fails an image too large for the cap without sending it", async () => {
		const pngs = distinctPngs(10, 24);
		const server = await startTestServer((req, res) => {
			const rows = (JSON.parse(req.body) as { input_data: { data: unknown[] } }).input_data.data.length;
			jsonAnswer(res, 200, Array.from({ length: rows }, () => ({ image_features: [vec(1)] })));
		});
		try {
			const cap = 3 * b64(pngs[0]!).length + 200;
			const big = makePng(120, 120, noise);
			const client = new EndpointClient(fastSettings(server.url, { maxPayloadBytes: cap }), tokens, nullLogger);
			const results = await client.embedImages(items([...pngs, big]), new AbortController().signal);
			assert.ok(server.requests.length >= 4, `expected the batch cut into >= 4 requests, got ${server.requests.length}`);
			for (const r of server.requests) assert.ok(Buffer.byteLength(r.body) <= cap, `body of ${Buffer.byteLength(r.body)} bytes above the cap ${cap}`);
			assertAllOk(results.slice(0, 10), 10);
			const last = results[10]!;
			assert.ok(!last.ok && /too large/.test(last.error));
			assert.ok(!server.requests.some((r) => r.body.includes(b64(big))));
		} finally {
			await server.close();
		}
	});
});

void describe("EndpointClient response validation", () => {
	const bad: [string, string][] = [
		["a wrong row count", JSON.stringify([{ image_features: [vec(1)] }, { image_features: [vec(1)] }])],
		["a NaN in a vector", `[{"image_features": [[0.1, NaN, 0.3]]}]`],
		["a null in a vector", `[{"image_features": [[0.1, null, 0.3]]}]`],
		["a body that is not JSON", `<html>gateway</html>`],
		["an object instead of an array", JSON.stringify({ image_features: [vec(1)] })],
		["no image_features", JSON.stringify([{ text_features: [vec(1)] }])],
		["a non-numeric scaling_factor", JSON.stringify([{ image_features: [vec(1)], scaling_factor: "4.5" }])],
	];
	for (const [what, body] of bad) {
		void it(`fails the image after 3 attempts on ${what}`, async () => {
			const server = await startTestServer((_req, res) => jsonAnswer(res, 200, body));
			try {
				const client = new EndpointClient(fastSettings(server.url, { retries: 6 }), tokens, nullLogger);
				const [r] = await client.embedImages(items([makePng(3, 3, () => 1)]), new AbortController().signal);
				assert.ok(r && !r.ok);
				assert.match(r.error, /malformed response/);
				assert.equal(server.requests.length, 3);
			} finally {
				await server.close();
			}
		});
	}

	void it("fails a batch whose vectors differ in length, then retries its images one by one", async () => {
		const server = await startTestServer((req, res) => {
			const rows = (JSON.parse(req.body) as { input_data: { data: unknown[] } }).input_data.data.length;
			if (rows > 1) return jsonAnswer(res, 200, [{ image_features: [vec(1, 4)] }, { image_features: [vec(1, 5)] }]);
			jsonAnswer(res, 200, [{ image_features: [vec(2, 4)] }]);
		});
		try {
			const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
			const results = await client.embedImages(items(distinctPngs(2)), new AbortController().signal);
			assertAllOk(results, 2);
			assert.equal(server.requests.length, 3 + 2);
		} finally {
			await server.close();
		}
	});
});

void describe("EndpointClient retries and faults", () => {
	const kinds: SimulatorFault[] = ["500", "503", "429", "424-503", "drop", "slow", "malformed", "wrong-rows", "nan"];
	for (const fault of kinds) {
		void it(`recovers from a "${fault}" fault: every image embedded exactly once`, async () => {
			const sim = await startSimulator({ key, schedule: [fault], slowMs: 5000, retryAfterSeconds: 0 });
			try {
				const pngs = distinctPngs(3);
				const client = new EndpointClient(fastSettings(sim.url, { requestTimeoutMs: 400 }), tokens, nullLogger);
				const results = await client.embedImages(items(pngs), new AbortController().signal);
				assertAllOk(results, 3);
				assert.equal(sim.stats.requests, 2);
				assert.equal(sim.stats.faultsInjected, 1);
				for (const p of pngs) assert.equal(sim.stats.embeddedSha256Counts.get(sha(p)), 1);
				client.dispose();
			} finally {
				await sim.close();
			}
		});
	}

	void it("a 429 with Retry-After: 2 waits ≥ 2 s before the next request when retryMaxDelay allows it (server-side timestamps)", async () => {
		const server = await startTestServer((_req, res, n) => {
			if (n === 0) return jsonAnswer(res, 429, { message: "slow down" }, { "Retry-After": "2" });
			jsonAnswer(res, 200, [{ image_features: [vec(1)] }]);
		});
		try {
			const client = new EndpointClient(fastSettings(server.url, { maxRetryDelayMs: 5000 }), tokens, nullLogger);
			const [r] = await client.embedImages(items([makePng(2, 2, () => 3)]), new AbortController().signal);
			assert.ok(r?.ok);
			assert.equal(server.requests.length, 2);
			const gap = server.requests[1]!.t - server.requests[0]!.t;
			assert.ok(gap >= 2000, `second request came ${gap} ms after the 429`);
		} finally {
			await server.close();
		}
	});

	void it("a 424 whose model status is 503 is retried; one whose model status is 400 is not", async () => {
		for (const [modelStatus, expectRequests, expectOk] of [["503", 2, true], ["400", 1, false]] as const) {
			const server = await startTestServer((_req, res, n) => {
				if (n === 0) return jsonAnswer(res, 424, { message: "model error" }, { "ms-azureml-model-error-statuscode": modelStatus });
				jsonAnswer(res, 200, [{ image_features: [vec(1)] }]);
			});
			try {
				const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
				const [r] = await client.embedImages(items([makePng(2, 2, () => 3)]), new AbortController().signal);
				assert.equal(server.requests.length, expectRequests, `model status ${modelStatus}`);
				assert.equal(r?.ok, expectOk);
				if (r && !r.ok) assert.match(r.error, /424/);
			} finally {
				await server.close();
			}
		}
	});

	void it("a poison image fails alone: the failed batch is retried image by image", async () => {
		const sim = await startSimulator({ key });
		try {
			const good = distinctPngs(4);
			const poison = new Uint8Array(Buffer.from("this is not a PNG at all"));
			const client = new EndpointClient(fastSettings(sim.url), tokens, nullLogger);
			const results = await client.embedImages(items([good[0]!, good[1]!, poison, good[2]!, good[3]!]), new AbortController().signal);
			assert.deepEqual(
				results.map((r) => r.ok),
				[true, true, false, true, true],
			);
			const failed = results[2]!;
			assert.ok(!failed.ok && /424/.test(failed.error) && /400/.test(failed.error));
			assert.equal(sim.stats.requests, 1 + 5);
			for (const p of good) assert.equal(sim.stats.embeddedSha256Counts.get(sha(p)), 1);
		} finally {
			await sim.close();
		}
	});

	void it("a 413 splits the batch in halves until it fits; a single image answered 413 fails as too large", async () => {
		const pngs = distinctPngs(10, 24);
		const sim = await startSimulator({ key, maxBodyBytes: 3 * b64(pngs[0]!).length + 200 });
		try {
			const huge = makePng(120, 120, noise);
			const client = new EndpointClient(fastSettings(sim.url), tokens, nullLogger);
			const results = await client.embedImages(items([...pngs, huge]), new AbortController().signal);
			assertAllOk(results.slice(0, 10), 10);
			const last = results[10]!;
			assert.ok(!last.ok);
			assert.equal(last.error, "image too large for the endpoint (HTTP 413)");
			assert.ok(sim.stats.rejected413 >= 3);
			for (const p of pngs) assert.equal(sim.stats.embeddedSha256Counts.get(sha(p)), 1);
		} finally {
			await sim.close();
		}
	});

	void it("a request that never answers times out after requestTimeoutMs and the image fails after the retries", async () => {
		const server = await startTestServer(() => undefined);
		try {
			const client = new EndpointClient(fastSettings(server.url, { requestTimeoutMs: 150, retries: 2 }), tokens, nullLogger);
			const [r] = await client.embedImages(items([makePng(2, 2, () => 3)]), new AbortController().signal);
			assert.ok(r && !r.ok);
			assert.match(r.error, /timeout/);
			assert.equal(server.requests.length, 2);
		} finally {
			await server.close();
		}
	});

	void it("stays under the client-side rate limit: zero 429s from a simulator with the same limit", async () => {
		const sim = await startSimulator({ key, rate: { calls: 5, periodSeconds: 0.5 } });
		try {
			const pngs = distinctPngs(15);
			const client = new EndpointClient(fastSettings(sim.url, { batchSize: 1, maxConcurrentRequests: 4, rateLimit: { calls: 5, periodSeconds: 0.5 } }), tokens, nullLogger);
			const results = await Promise.all(pngs.map((p, i) => client.embedImages([{ id: String(i), png: p }], new AbortController().signal)));
			assertAllOk(results.flat(), 15);
			assert.equal(sim.stats.rejected429, 0);
			assert.equal(sim.stats.requests, 15);
		} finally {
			await sim.close();
		}
	});
});

void describe("EndpointClient fatal errors", () => {
	const cases: [number, string, RegExp][] = [
		[401, "unauthorized", /key/],
		[403, "forbidden", /access/],
		[404, "not-found", /scoring URL/],
		[400, "bad-request", /400/],
	];
	for (const [status, code, says] of cases) {
		void it(`HTTP ${status} stops at once with FatalEndpointError "${code}" and no retry`, async () => {
			const server = await startTestServer((_req, res) => jsonAnswer(res, status, { message: "no" }));
			try {
				const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
				await assert.rejects(client.embedImages(items(distinctPngs(3)), new AbortController().signal), (e: unknown) => {
					assert.ok(e instanceof FatalEndpointError);
					assert.equal(e.code, code);
					assert.equal(e.status, status);
					assert.match(e.message, says);
					return true;
				});
				assert.equal(server.requests.length, 1);
				// Later batches are refused at once too, without a request.
				await assert.rejects(client.embedImages(items(distinctPngs(1)), new AbortController().signal), FatalEndpointError);
				assert.equal(server.requests.length, 1);
			} finally {
				await server.close();
			}
		});
	}

	void it("the simulator's 401 for a wrong key is fatal with zero retries", async () => {
		const sim = await startSimulator({ key: "right-key" });
		try {
			const client = new EndpointClient(fastSettings(sim.url), keyTokenProvider(async () => "wrong-key"), nullLogger);
			await assert.rejects(client.embedImages(items(distinctPngs(2)), new AbortController().signal), (e: unknown) => e instanceof FatalEndpointError && e.code === "unauthorized");
			assert.equal(sim.stats.requests, 1);
			assert.equal(sim.stats.rejected401, 1);
		} finally {
			await sim.close();
		}
	});
});

void describe("EndpointClient cancellation", () => {
	void it("an abort rejects with AbortError, aborting in-flight and pending requests", async () => {
		const sim = await startSimulator({ key, latencyMs: 10_000 });
		try {
			const client = new EndpointClient(fastSettings(sim.url, { maxConcurrentRequests: 1, requestTimeoutMs: 30_000 }), tokens, nullLogger);
			const ac = new AbortController();
			const pending = [0, 1, 2].map((i) => client.embedImages(items(distinctPngs(2, 8 + i)), ac.signal));
			await new Promise((r) => setTimeout(r, 300));
			assert.equal(sim.stats.inFlight, 1);
			ac.abort();
			// Without the abort, the simulator's answer (after 10 s) would fulfil the first call: rejections mean the abort ended them.
			const settled = await Promise.allSettled(pending);
			for (const s of settled) {
				assert.equal(s.status, "rejected");
				assert.equal((s as PromiseRejectedResult).reason.name, "AbortError");
			}
			assert.equal(sim.stats.requests, 1);
			await new Promise((r) => setTimeout(r, 100));
			assert.equal(client.status.state === "running" && client.status.inFlight, 0);
		} finally {
			await sim.close();
		}
	});
});

void describe("EndpointClient endpoint-wide refusal", () => {
	void it("pauses while the endpoint refuses everything, probes, resumes, and fails no image", async () => {
		const latencyMs = 60;
		// The first 14 requests are refused: more than the 4 batches × 3 attempts, so a pause must come, whatever the machine's load.
		const sim = await startSimulator({ key, latencyMs, retryAfterSeconds: 0, fault: (info) => (info.n < 14 ? "503" : undefined) });
		try {
			const { logger, lines } = captureLogger();
			const client = new EndpointClient(fastSettings(sim.url, { retries: 3, minRetryDelayMs: 20, maxRetryDelayMs: 200, maxPauseMs: 10_000 }), tokens, logger);
			const statuses: ClientStatus[] = [];
			const pauses: [number, number][] = [];
			client.onDidChangeStatus((s) => {
				statuses.push(s);
				const open = pauses[pauses.length - 1];
				if (s.state === "paused" && (!open || open[1] !== Infinity)) pauses.push([Date.now(), Infinity]);
				if (s.state === "running" && open && open[1] === Infinity) open[1] = Date.now();
			});
			const batches = [0, 1, 2, 3].map((b) => items(distinctPngs(3, 10 + b)));
			const results = await Promise.all(batches.map((b) => client.embedImages(b, new AbortController().signal)));
			assertAllOk(results.flat(), 12);
			const firstPause = statuses.findIndex((s) => s.state === "paused");
			assert.ok(firstPause >= 0, "expected a paused status");
			assert.ok(statuses.slice(firstPause).some((s) => s.state === "running"), "expected a resume");
			assert.ok(lines.some((l) => /Paused/.test(l)));
			// While paused, one probe at a time: requests arriving during a pause (after those already on
			// their way when it began) are at least one answer (latency) apart.
			let probes = 0;
			for (const [from, to] of pauses) {
				const during = sim.stats.log.map((e) => e.t).filter((t) => t > from + 30 && t < to);
				probes += during.length;
				for (let i = 1; i < during.length; i++) assert.ok(during[i]! - during[i - 1]! >= latencyMs - 5, `two requests ${during[i]! - during[i - 1]!} ms apart while paused`);
			}
			assert.ok(probes >= 1, "expected probes while paused");
			for (const b of batches) for (const it of b) assert.equal(sim.stats.embeddedSha256Counts.get(sha(it.png)), 1);
		} finally {
			await sim.close();
		}
	});

	void it("stops with FatalEndpointError paused-too-long when the refusal outlasts maxPauseMs", async () => {
		const sim = await startSimulator({ key, retryAfterSeconds: 0, fault: () => "503" });
		try {
			const client = new EndpointClient(fastSettings(sim.url, { retries: 2, minRetryDelayMs: 20, maxRetryDelayMs: 100, maxPauseMs: 800 }), tokens, nullLogger);
			const t0 = Date.now();
			await assert.rejects(client.embedImages(items(distinctPngs(2)), new AbortController().signal), (e: unknown) => e instanceof FatalEndpointError && e.code === "paused-too-long");
			const took = Date.now() - t0;
			// A lower bound only (it cannot flake on a loaded machine): it did wait for the whole allowed pause.
			assert.ok(took >= 800, `took ${took} ms`);
		} finally {
			await sim.close();
		}
	});

	void it("backs off on 'Too many pending requests' (AIMD) and still embeds everything", async () => {
		const sim = await startSimulator({ key, capacity: 2, latencyMs: 80 });
		try {
			const client = new EndpointClient(fastSettings(sim.url, { maxConcurrentRequests: 8, batchSize: 1, retries: 8 }), tokens, nullLogger);
			const seen: number[] = [];
			client.onDidChangeStatus((s) => {
				if (s.state === "running") seen.push(s.concurrency);
			});
			const pngs = distinctPngs(24);
			const results = await Promise.all(pngs.map((p, i) => client.embedImages([{ id: String(i), png: p }], new AbortController().signal)));
			assertAllOk(results.flat(), 24);
			assert.ok(sim.stats.rejectedPending > 0);
			assert.ok(Math.min(...seen) <= 2, `lowest concurrency seen ${Math.min(...seen)}`);
			assert.ok(Math.max(...seen) <= 8);
			for (const p of pngs) assert.equal(sim.stats.embeddedSha256Counts.get(sha(p)), 1);
		} finally {
			await sim.close();
		}
	});
});

void describe("EndpointClient secrets", () => {
	void it("the canary key never appears in a logged message, an error or a result", async () => {
		const canary = "CANARY-9f2c7e1b-key";
		const server = await startTestServer((req, res, n) => {
			const auth = String(req.headers["authorization"]);
			// A hostile server that echoes the credential everywhere it can.
			if (n === 0) return jsonAnswer(res, 500, { message: `internal: ${auth}` });
			if (n === 1) return jsonAnswer(res, 503, { message: `busy ${auth}` }, { "Retry-After": "0" });
			if (n === 2) return jsonAnswer(res, 424, { message: `model ${auth}` }, { "ms-azureml-model-error-statuscode": "400" });
			if (n < 6) return jsonAnswer(res, 200, `not json ${auth}`);
			return jsonAnswer(res, 400, { message: `bad request from ${auth}` });
		});
		try {
			const { logger, lines } = captureLogger();
			const client = new EndpointClient(fastSettings(server.url, { retries: 8 }), keyTokenProvider(async () => canary), logger);
			const texts: string[] = [];
			const first = await client.embedImages(items(distinctPngs(1)), new AbortController().signal);
			const second = await client.embedImages(items(distinctPngs(1, 7)), new AbortController().signal);
			assert.ok(!first[0]?.ok && !second[0]?.ok);
			texts.push(JSON.stringify(first), JSON.stringify(second));
			await assert.rejects(client.embedImages(items(distinctPngs(1, 9)), new AbortController().signal), (e: unknown) => {
				assert.ok(e instanceof FatalEndpointError);
				texts.push(e.message, String(e.stack));
				return true;
			});
			assert.equal(server.requests.length, 7);
			assert.ok(lines.length > 0);
			for (const t of [...lines, ...texts]) assert.ok(!t.includes(canary), `canary leaked: ${t}`);
		} finally {
			await server.close();
		}
	});
});
