/**
 * The client against an abusive or absent endpoint (issues 9 and 13): redirects, wrong vector lengths,
 * endless bodies, absurd Retry-After values, dead URLs and TLS failures. Real loopback servers only.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { keyTokenProvider } from "../../../src/core/endpoint/auth";
import { EndpointClient } from "../../../src/core/endpoint/client";
import { defaultEndpointSettings, FatalEndpointError, type ClientStatus } from "../../../src/core/endpoint/types";
import { nullLogger } from "../../../src/core/util/logger";
import { maxTimerDelayMs, timerDelay } from "../../../src/core/util/timers";
import { freePort } from "../helpers/debianPackage";
import { captureLogger, distinctPngs, fastSettings, jsonAnswer, makePng, startTestServer } from "./helpers";

const key = "hardening-key-31";
const tokens = keyTokenProvider(async () => key);
const items = (pngs: Uint8Array[]) => pngs.map((png, i) => ({ id: `img${i}`, png }));
const vec = (seed: number, n: number) => Array.from({ length: n }, (_, i) => seed + i / 1000);
const rowsOf = (body: string) => (JSON.parse(body) as { input_data: { data: unknown[] } }).input_data.data.length;
const never = () => new AbortController().signal;
/** Hang guard only: every test here ends in well under a second when the client behaves. */
const guard = { timeout: 60_000 };

void describe("redirects are never followed", () => {
	for (const status of [301, 302, 303, 307, 308]) {
		void it(`HTTP ${status} to another origin is fatal, names the (redacted) Location, and the other origin receives nothing`, guard, async () => {
			const elsewhere = await startTestServer((_req, res) => jsonAnswer(res, 200, [{ image_features: [vec(1, 4)] }]));
			const location = `${elsewhere.url}?sig=SECRET-SIG-value&x=1`;
			const server = await startTestServer((_req, res) => jsonAnswer(res, status, { moved: true }, { Location: location }));
			try {
				const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
				await assert.rejects(client.embedImages(items(distinctPngs(2)), never()), (e: unknown) => {
					assert.ok(e instanceof FatalEndpointError, String(e));
					assert.equal(e.code, "redirect");
					assert.equal(e.status, status);
					assert.ok(e.message.includes(new URL(elsewhere.url).host), e.message);
					assert.ok(!e.message.includes("SECRET-SIG-value"), e.message);
					assert.match(e.message, /sig=redacted/);
					return true;
				});
				assert.equal(server.requests.length, 1, "one request, no retry");
				assert.equal(elsewhere.requests.length, 0, "nothing reached the other origin");
				client.dispose();
			} finally {
				await server.close();
				await elsewhere.close();
			}
		});
	}
});

void describe("responses are checked", () => {
	void it("a vector of another length than expectedDim is malformed: retried, then the image fails with the reason", guard, async () => {
		const server = await startTestServer((req, res) => jsonAnswer(res, 200, Array.from({ length: rowsOf(req.body) }, (_, i) => ({ image_features: [vec(i, 4)] }))));
		try {
			const client = new EndpointClient(fastSettings(server.url, { retries: 6 }), tokens, nullLogger);
			const [r] = await client.embedImages(items([makePng(3, 3, () => 9)]), never(), { expectedDim: 1024 });
			assert.ok(r && !r.ok);
			assert.match(r.error, /4 numbers, expected 1024/);
			assert.equal(server.requests.length, 3);
		} finally {
			await server.close();
		}
	});

	void it("without expectedDim, the first accepted length holds for every later answer", guard, async () => {
		const server = await startTestServer((req, res, n) => jsonAnswer(res, 200, Array.from({ length: rowsOf(req.body) }, (_, i) => ({ image_features: [vec(i, n === 0 ? 8 : 5)] }))));
		try {
			const client = new EndpointClient(fastSettings(server.url, { retries: 6 }), tokens, nullLogger);
			const [first] = await client.embedImages(items(distinctPngs(1)), never());
			assert.ok(first?.ok);
			assert.equal(first.embedding.length, 8);
			const [second] = await client.embedImages(items(distinctPngs(1, 9)), never());
			assert.ok(second && !second.ok);
			assert.match(second.error, /5 numbers, expected 8/);
		} finally {
			await server.close();
		}
	});

	for (const sf of [0, -4.5, 1e9]) {
		void it(`a scaling_factor of ${sf} is malformed`, guard, async () => {
			const server = await startTestServer((_req, res) => jsonAnswer(res, 200, [{ image_features: [vec(1, 4)], scaling_factor: sf }]));
			try {
				const client = new EndpointClient(fastSettings(server.url), tokens, nullLogger);
				const [r] = await client.embedImages(items(distinctPngs(1)), never());
				assert.ok(r && !r.ok);
				assert.match(r.error, /scaling_factor .* outside the plausible range/);
			} finally {
				await server.close();
			}
		});
	}

	void it("an endless body is cut off: the client stops reading far below the total, and the image fails as malformed", guard, async () => {
		const total = 800 * 1024 * 1024;
		const written: number[] = [];
		const chunk = Buffer.alloc(64 * 1024, 0x20);
		const server = await startTestServer((_req, res) => {
			const slot = written.push(0) - 1;
			res.writeHead(200, { "Content-Type": "application/json" });
			res.write("[");
			let closed = false;
			res.on("close", () => (closed = true));
			const pump = () => {
				while (!closed && written[slot]! < total) {
					written[slot]! += chunk.length;
					if (!res.write(chunk)) return void res.once("drain", pump);
				}
				if (!closed) res.end("]");
			};
			pump();
		});
		try {
			const client = new EndpointClient(fastSettings(server.url, { retries: 6 }), tokens, nullLogger);
			const [r] = await client.embedImages(items([makePng(3, 3, () => 1)]), never());
			assert.ok(r && !r.ok);
			assert.match(r.error, /malformed response: the body is larger than \d+ bytes/);
			assert.equal(written.length, 3, "three attempts at a malformed answer");
			// One row may take 64 KB + 1 MB; what the server managed to push (socket buffers included) is far below 800 MB.
			for (const w of written) assert.ok(w < 64 * 1024 * 1024, `the server wrote ${w} bytes before the client hung up`);
		} finally {
			await server.close();
		}
	});

	void it("a Content-Length above the cap is refused without reading the body", guard, async () => {
		const server = await startTestServer((_req, res) => {
			res.writeHead(200, { "Content-Type": "application/json", "Content-Length": String(800 * 1024 * 1024) });
			res.write("[");
		});
		try {
			const client = new EndpointClient(fastSettings(server.url, { retries: 6 }), tokens, nullLogger);
			const [r] = await client.embedImages(items(distinctPngs(1)), never());
			assert.ok(r && !r.ok);
			assert.match(r.error, /larger than/);
		} finally {
			await server.close();
		}
	});
});

void describe("Retry-After is bounded", () => {
	void it("Retry-After: 86400 on every answer: the client says paused and stops at maxPause with a clear fatal error", guard, async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 503, { message: "come back tomorrow" }, { "Retry-After": "86400" }));
		try {
			const client = new EndpointClient(fastSettings(server.url, { retries: 3, minRetryDelayMs: 10, maxRetryDelayMs: 100, maxPauseMs: 600 }), tokens, nullLogger);
			const statuses: ClientStatus[] = [];
			client.onDidChangeStatus((s) => statuses.push(s));
			await assert.rejects(client.embedImages(items(distinctPngs(2)), never()), (e: unknown) => {
				assert.ok(e instanceof FatalEndpointError);
				assert.equal(e.code, "paused-too-long");
				assert.match(e.message, /refused requests for \d+ s \(longer than the allowed 1 s\)/);
				return true;
			});
			const paused = statuses.filter((s) => s.state === "paused");
			assert.ok(paused.length > 0, "the client reported paused");
			for (const p of paused) assert.ok(p.state === "paused" && /503/.test(p.reason));
			assert.ok(server.requests.length >= 2, "it probed again after the bounded wait");
		} finally {
			await server.close();
		}
	});

	void it("one Retry-After: 86400, then answers: a request waits at most retryMaxDelay and the image is embedded", guard, async () => {
		const server = await startTestServer((req, res, n) => {
			if (n === 0) return jsonAnswer(res, 429, { message: "throttled" }, { "Retry-After": "86400" });
			jsonAnswer(res, 200, Array.from({ length: rowsOf(req.body) }, (_, i) => ({ image_features: [vec(i, 4)] })));
		});
		try {
			const client = new EndpointClient(fastSettings(server.url, { maxRetryDelayMs: 200 }), tokens, nullLogger);
			const statuses: ClientStatus["state"][] = [];
			client.onDidChangeStatus((s) => statuses.push(s.state));
			const [r] = await client.embedImages(items(distinctPngs(1)), never());
			assert.ok(r?.ok);
			assert.equal(server.requests.length, 2);
			const firstPause = statuses.indexOf("paused");
			assert.ok(firstPause >= 0 && statuses.indexOf("running", firstPause) > firstPause, `paused then running: ${statuses.join(",")}`);
		} finally {
			await server.close();
		}
	});

	void it("delays past setTimeout's limit are clamped instead of firing at once", guard, async () => {
		assert.equal(timerDelay(2 ** 40), maxTimerDelayMs);
		assert.equal(maxTimerDelayMs, 2 ** 31 - 1);
		assert.equal(timerDelay(Number.NaN), 0);
		assert.equal(timerDelay(-5), 0);
		assert.equal(timerDelay(1500), 1500);
		// A per-request timeout of 2^40 ms must not abort the request at once (Node fires overflowing timers after 1 ms).
		const server = await startTestServer((req, res) => setTimeout(() => jsonAnswer(res, 200, Array.from({ length: rowsOf(req.body) }, (_, i) => ({ image_features: [vec(i, 4)] }))), 50));
		try {
			const client = new EndpointClient(fastSettings(server.url, { requestTimeoutMs: 2 ** 40, retries: 1 }), tokens, nullLogger);
			const [r] = await client.embedImages(items(distinctPngs(1)), never());
			assert.ok(r?.ok, r && !r.ok ? r.error : "");
		} finally {
			await server.close();
		}
	});
});

void describe("a dead or wrong endpoint is said at once", () => {
	void it("nothing listening: a few quick attempts, then a fatal 'unreachable' error that says why (default backoff settings)", guard, async () => {
		const port = await freePort();
		const url = `http://127.0.0.1:${port}/score`;
		const { logger, lines } = captureLogger();
		// The default settings: 8 attempts, 2 s to 60 s apart. Minutes, unless the first contact is treated apart.
		const client = new EndpointClient({ ...defaultEndpointSettings, url }, tokens, logger);
		const batches = [0, 1, 2].map((b) => client.embedImages(items(distinctPngs(2, 8 + b)), never()));
		const settled = await Promise.allSettled(batches);
		for (const s of settled) {
			assert.equal(s.status, "rejected");
			const e = (s as PromiseRejectedResult).reason as unknown;
			assert.ok(e instanceof FatalEndpointError, String(e));
			assert.equal(e.code, "unreachable");
			assert.equal(e.message, `Cannot reach the endpoint at ${url}: nothing is listening at 127.0.0.1:${port} (connection refused). Check the URL and that the endpoint is running.`);
		}
		assert.ok(lines.some((l) => /ECONNREFUSED/.test(l)), "the technical detail is in the log");
		client.dispose();
	});

	void it("an endpoint that worked and then drops out for a while gets retries and a pause, and every image is embedded", guard, async () => {
		let answered = 0;
		const sockets = new Set<Socket>();
		const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
			const chunks: Buffer[] = [];
			req.on("data", (c: Buffer) => chunks.push(c));
			req.on("end", () => {
				answered++;
				jsonAnswer(res, 200, Array.from({ length: rowsOf(Buffer.concat(chunks).toString()) }, (_, i) => ({ image_features: [vec(i, 4)] })));
			});
		};
		const listen = async (port: number) => {
			const s = http.createServer(handler);
			s.on("connection", (c) => {
				sockets.add(c);
				c.on("close", () => sockets.delete(c));
			});
			await new Promise<void>((r) => s.listen(port, "127.0.0.1", r));
			return s;
		};
		const stop = (s: http.Server) =>
			new Promise<void>((r) => {
				s.close(() => r());
				for (const c of sockets) c.destroy();
			});
		let server = await listen(0);
		const port = (server.address() as AddressInfo).port;
		const url = `http://127.0.0.1:${port}/score`;
		try {
			const client = new EndpointClient(fastSettings(url, { retries: 3, minRetryDelayMs: 20, maxRetryDelayMs: 80, maxPauseMs: 30_000 }), tokens, nullLogger);
			const [first] = await client.embedImages(items(distinctPngs(1)), never());
			assert.ok(first?.ok);
			await stop(server);
			const statuses: ClientStatus["state"][] = [];
			client.onDidChangeStatus((s) => statuses.push(s.state));
			const later = client.embedImages(items(distinctPngs(3, 12)), never());
			// Back once the client has given up retrying and paused.
			await new Promise<void>((resolve) => {
				const sub = client.onDidChangeStatus((s) => {
					if (s.state === "paused") {
						sub.dispose();
						resolve();
					}
				});
			});
			server = await listen(port);
			const results = await later;
			for (const r of results) assert.ok(r.ok, r.ok ? "" : r.error);
			assert.ok(statuses.includes("paused"));
			assert.equal(answered, 2);
		} finally {
			await stop(server);
		}
	});

	void it("a self-signed certificate is a fatal TLS error that says what to check", guard, async (t) => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-tls-"));
		t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
		const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { encoding: "utf8" });
		assert.equal(made.status, 0, `openssl (needed to make a test certificate) failed: ${made.error?.message ?? made.stderr}`);
		let requests = 0;
		const server = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) }, (_req, res) => {
			requests++;
			jsonAnswer(res, 200, [{ image_features: [vec(1, 4)] }]);
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
		try {
			const { logger, lines } = captureLogger();
			const client = new EndpointClient(fastSettings(url), tokens, logger);
			await assert.rejects(client.embedImages(items(distinctPngs(1)), never()), (e: unknown) => {
				assert.ok(e instanceof FatalEndpointError, String(e));
				assert.equal(e.code, "tls");
				assert.match(e.message, /^Cannot reach the endpoint at https:\/\/127\.0\.0\.1:\d+\/score: the server presents a self-signed TLS certificate/);
				assert.match(e.message, /NODE_EXTRA_CA_CERTS/);
				return true;
			});
			assert.equal(requests, 0, "no request was served over the untrusted connection");
			assert.ok(lines.some((l) => /self-signed/.test(l)));
		} finally {
			server.closeAllConnections();
			await new Promise<void>((r) => server.close(() => r()));
		}
	});
});

void describe("redaction", () => {
	void it("the 404 message and every log line hold the URL without its credentials", guard, async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 404, { message: "no such deployment" }));
		const u = new URL(server.url);
		u.searchParams.set("code", "FUNCTION-CODE-secret");
		try {
			// A URL with a user name and password is refused before anything is sent (fetch would refuse it too).
			const withUser = new URL(u.href);
			withUser.username = "user";
			withUser.password = "PASSWORD-in-url";
			assert.throws(() => new EndpointClient(fastSettings(withUser.href), tokens, nullLogger), (e: unknown) => {
				assert.ok(e instanceof FatalEndpointError && e.code === "config");
				assert.ok(!e.message.includes("PASSWORD-in-url"), e.message);
				return true;
			});
			const { logger, lines } = captureLogger();
			const client = new EndpointClient(fastSettings(u.href), tokens, logger);
			await assert.rejects(client.embedImages(items(distinctPngs(1)), never()), (e: unknown) => {
				assert.ok(e instanceof FatalEndpointError);
				assert.equal(e.code, "not-found");
				assert.ok(e.message.includes(`${server.url}?code=redacted`), e.message);
				lines.push(e.message);
				return true;
			});
			assert.ok(lines.length > 1);
			for (const l of lines) assert.ok(!/PASSWORD-in-url|FUNCTION-CODE-secret/.test(l), `leaked: ${l}`);
		} finally {
			await server.close();
		}
	});
});
