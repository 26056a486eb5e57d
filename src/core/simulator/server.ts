/**
 * The simulated endpoint (PRODUCT.md §7): a local HTTP server on 127.0.0.1 that speaks the scoring
 * contract of PRODUCT.md §2, checks the key, enforces a rate limit with 429 + Retry-After, refuses
 * with "Too many pending requests" above its capacity, adds latency and injects faults. It is a
 * simulation, not MedImageInsight, and says so in every answer (header `x-medimageinsight-simulation`)
 * and at `GET /`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "../util/logger";
import { nullLogger } from "../util/logger";
import { SimulatedModel, simulatedDimension } from "./simulatedModel";

/**
 * Faults the simulator can inject into a scoring request:
 * `500`, `503` (+ Retry-After), `429` (rate-limit style, + Retry-After), `424-503` / `424-400` (424 with
 * that model status in `ms-azureml-model-error-statuscode`), `drop` (socket destroyed), `slow` (answers
 * after `slowMs`), `malformed` (cut-off JSON), `wrong-rows` (one row missing), `nan` (a NaN in a vector,
 * written as Python's json does), `413`.
 */
export type SimulatorFault = "500" | "503" | "429" | "424-503" | "424-400" | "drop" | "slow" | "malformed" | "wrong-rows" | "nan" | "413";

export const simulatorFaults: readonly SimulatorFault[] = ["500", "503", "429", "424-503", "424-400", "drop", "slow", "malformed", "wrong-rows", "nan", "413"];

/** What a fault chooser sees of a request. `n` counts scoring requests that got past the key check, from 0. */
export interface SimulatorRequestInfo {
	n: number;
	rows: number;
	/** sha256 (hex) of each row's base64 image ("" for a text row). */
	imageSha256: string[];
	texts: string[];
	/** ms since the server started. */
	elapsedMs: number;
}

export interface SimulatorOptions {
	/** TCP port on 127.0.0.1; 0 picks a free one. */
	port: number;
	/** The key clients must send as `Authorization: Bearer <key>`. */
	key: string;
	/**
	 * At most `calls` accepted requests in any window of `periodSeconds` (sliding, counted at arrival);
	 * undefined = no limit. Refused with 429, `Retry-After` (seconds) and `retry-after-ms` (exact).
	 */
	rate?: { calls: number; periodSeconds: number } | undefined;
	/** Fixed latency per request and extra latency per row, in ms. */
	latencyMs: number;
	latencyPerImageMs: number;
	/** Requests in flight above which the server answers 429 "Too many pending requests". */
	capacity: number;
	/** Probability (0–1) that a request gets a random fault from `faultKinds`. */
	failRate: number;
	faultKinds: readonly SimulatorFault[];
	/** Deterministic faults: `schedule[n]` is injected into request `n` (see SimulatorRequestInfo). */
	schedule?: readonly (SimulatorFault | undefined | null)[];
	/** Deterministic faults decided per request (after `schedule`, before `failRate`). */
	fault?: (info: SimulatorRequestInfo) => SimulatorFault | undefined;
	/** Request bodies above this size get 413. */
	maxBodyBytes: number;
	/** How long a `slow` fault waits before answering. */
	slowMs: number;
	/** Retry-After (seconds) on injected 429/503 faults. */
	retryAfterSeconds: number;
	/** Seed of the random projection and of the fault dice. */
	seed: number;
	logger?: Logger;
}

export const defaultSimulatorOptions: Readonly<SimulatorOptions> = Object.freeze({
	port: 0,
	key: "simulator-key",
	rate: undefined,
	latencyMs: 0,
	latencyPerImageMs: 0,
	capacity: 64,
	failRate: 0,
	faultKinds: Object.freeze(["500", "503", "429", "drop", "malformed"] as SimulatorFault[]),
	maxBodyBytes: 50 * 1024 * 1024,
	slowMs: 120_000,
	retryAfterSeconds: 1,
	seed: 20240601,
});

export interface SimulatorStats {
	/** Every POST to /score. */
	requests: number;
	/** Rows answered with a valid embedding. */
	rows: number;
	rejected401: number;
	rejected413: number;
	/** 429s from the rate limit (not injected faults). */
	rejected429: number;
	/** 429 "Too many pending requests" (over capacity). */
	rejectedPending: number;
	faultsInjected: number;
	inFlight: number;
	inFlightMax: number;
	/** How many times each image (sha256 of its base64 PNG) reached the model, failed or not. */
	perImageSha256Counts: Map<string, number>;
	/** How many times each image was answered with a valid embedding. */
	embeddedSha256Counts: Map<string, number>;
	/** Arrival time (ms since epoch) and answer status of every scoring request, in order (capped at 200 000). */
	log: { t: number; status: number; rows: number; fault?: SimulatorFault }[];
}

export interface SimulatorHandle {
	url: string;
	port: number;
	stats: SimulatorStats;
	close(): Promise<void>;
}

/** One line that says what the simulator does, for the CLI and the log. */
export function describeSimulator(o: Partial<SimulatorOptions> = {}): string {
	const opts = { ...defaultSimulatorOptions, ...o };
	const rate = opts.rate ? `${opts.rate.calls} calls / ${opts.rate.periodSeconds} s` : "no rate limit";
	const latency = `${opts.latencyMs} ms${opts.latencyPerImageMs ? ` + ${opts.latencyPerImageMs} ms/image` : ""} latency`;
	const faults = opts.failRate > 0 ? `${Math.round(opts.failRate * 1000) / 10} % faults (${opts.faultKinds.join(", ")})` : "no faults";
	return `Simulated endpoint (a simulation, NOT MedImageInsight): ${rate}, capacity ${opts.capacity} in flight, ${latency}, ${faults}.`;
}

const simulationHeader = { "x-medimageinsight-simulation": "true" };

/** Body bytes of an unauthenticated request dropped before its connection is cut. */
const unauthenticatedDropBytes = 1024 * 1024;

interface ScoringRequest {
	rows: { image: string; text: string }[];
	getScalingFactor: boolean;
}

function parseScoringRequest(body: string): ScoringRequest | string {
	let data: unknown;
	try {
		data = JSON.parse(body);
	} catch {
		return "the request body is not JSON";
	}
	const input = (data as { input_data?: unknown } | null)?.input_data as { columns?: unknown; index?: unknown; data?: unknown } | undefined;
	if (!input || typeof input !== "object") return 'the request has no "input_data" object';
	const cols = input.columns;
	if (!Array.isArray(cols) || cols.length !== 2 || cols[0] !== "image" || cols[1] !== "text") return '"input_data.columns" must be ["image", "text"]';
	if (!Array.isArray(input.data)) return '"input_data.data" must be a list of rows';
	if (!Array.isArray(input.index) || input.index.length !== input.data.length) return '"input_data.index" must have one entry per row';
	const rows: { image: string; text: string }[] = [];
	for (const r of input.data as unknown[]) {
		if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== "string" || typeof r[1] !== "string") return 'each row of "input_data.data" must be [image, text] strings';
		rows.push({ image: r[0], text: r[1] });
	}
	const params = (data as { params?: unknown }).params;
	const getScalingFactor = !(params && typeof params === "object" && (params as Record<string, unknown>)["get_scaling_factor"] === false);
	return { rows, getScalingFactor };
}

/** Starts the simulated endpoint on 127.0.0.1; `close()` stops it and drops every connection. */
export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle> {
	const opts: SimulatorOptions = { ...defaultSimulatorOptions, ...options };
	const logger = opts.logger ?? nullLogger;
	const model = new SimulatedModel(opts.seed);
	const startedAt = Date.now();
	let dice = opts.seed >>> 0;
	const roll = () => {
		dice = (Math.imul(dice, 1664525) + 1013904223) >>> 0;
		return dice / 4294967296;
	};
	/** Image vectors already written as JSON, by sha256 of the base64 PNG (retries and repeats cost nothing). */
	const cache = new Map<string, string>();
	const arrivals: number[] = [];
	const timers = new Set<NodeJS.Timeout>();
	const sockets = new Set<Socket>();
	let scoringN = 0;
	const stats: SimulatorStats = {
		requests: 0,
		rows: 0,
		rejected401: 0,
		rejected413: 0,
		rejected429: 0,
		rejectedPending: 0,
		faultsInjected: 0,
		inFlight: 0,
		inFlightMax: 0,
		perImageSha256Counts: new Map(),
		embeddedSha256Counts: new Map(),
		log: [],
	};

	const wait = (ms: number) =>
		new Promise<void>((resolve) => {
			if (ms <= 0) return resolve();
			const t = setTimeout(() => {
				timers.delete(t);
				resolve();
			}, ms);
			timers.add(t);
		});

	const expectedAuth = Buffer.from(`Bearer ${opts.key}`);
	/** Constant-time comparison of the Authorization header with the key. */
	const keyMatches = (header: string | undefined): boolean => {
		const got = Buffer.from(header ?? "");
		return got.length === expectedAuth.length && timingSafeEqual(got, expectedAuth);
	};

	const send = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
		if (res.destroyed || res.writableEnded) return;
		res.writeHead(status, { "Content-Type": "application/json", ...simulationHeader, ...headers });
		res.end(body);
	};

	/** The row's vector as a JSON array. */
	const embedRow = (image: string, text: string, sha: string): string => {
		if (image === "") {
			if (text === "") throw new Error("the row has neither an image nor a text");
			return JSON.stringify(Array.from(model.embedText(text)));
		}
		let v = cache.get(sha);
		if (!v) {
			v = JSON.stringify(Array.from(model.embedImage(image)));
			if (cache.size >= 4096) cache.delete(cache.keys().next().value as string);
			cache.set(sha, v);
		}
		return v;
	};

	const handleScore = async (req: http.IncomingMessage, res: http.ServerResponse, body: string, tooLarge: boolean, entry: SimulatorStats["log"][number]) => {
		// The rate limit counts arrivals (request line received), like a gateway does.
		const now = entry.t;
		if (opts.rate) {
			const period = opts.rate.periodSeconds * 1000;
			while (arrivals.length > 0 && (arrivals[0] as number) <= now - period) arrivals.shift();
			if (arrivals.length >= opts.rate.calls) {
				stats.rejected429++;
				entry.status = 429;
				// Retry-After in whole seconds (HTTP), and the exact wait in retry-after-ms (as Azure services do).
				const waitMs = Math.max(1, (arrivals[0] as number) + period - now);
				return send(res, 429, JSON.stringify({ message: "simulated endpoint: rate limit exceeded" }), { "Retry-After": String(Math.ceil(waitMs / 1000)), "retry-after-ms": String(Math.ceil(waitMs)) });
			}
			// Bodies finish in any order: keep the arrival times sorted.
			let at = arrivals.length;
			while (at > 0 && (arrivals[at - 1] as number) > now) at--;
			arrivals.splice(at, 0, now);
		}
		if (stats.inFlight >= opts.capacity) {
			stats.rejectedPending++;
			entry.status = 429;
			return send(res, 429, JSON.stringify({ message: "Too many pending requests (simulated endpoint over capacity)" }));
		}
		if (tooLarge) {
			stats.rejected413++;
			entry.status = 413;
			return send(res, 413, JSON.stringify({ message: `simulated endpoint: request body above ${opts.maxBodyBytes} bytes` }));
		}
		const parsed = parseScoringRequest(body);
		if (typeof parsed === "string") {
			entry.status = 400;
			return send(res, 400, JSON.stringify({ message: `simulated endpoint: ${parsed}` }));
		}
		entry.rows = parsed.rows.length;
		const shas = parsed.rows.map((r) => (r.image ? createHash("sha256").update(r.image).digest("hex") : ""));
		for (const s of shas) if (s) stats.perImageSha256Counts.set(s, (stats.perImageSha256Counts.get(s) ?? 0) + 1);
		const info: SimulatorRequestInfo = { n: scoringN++, rows: parsed.rows.length, imageSha256: shas, texts: parsed.rows.map((r) => r.text), elapsedMs: now - startedAt };
		const fault = opts.schedule?.[info.n] ?? opts.fault?.(info) ?? (opts.failRate > 0 && roll() < opts.failRate ? opts.faultKinds[Math.floor(roll() * opts.faultKinds.length)] : undefined);

		stats.inFlight++;
		stats.inFlightMax = Math.max(stats.inFlightMax, stats.inFlight);
		try {
			if (fault) {
				stats.faultsInjected++;
				entry.fault = fault;
			}
			if (fault === "drop") {
				entry.status = 0;
				req.socket.destroy();
				return;
			}
			await wait(fault === "slow" ? opts.slowMs : opts.latencyMs + opts.latencyPerImageMs * parsed.rows.length);
			const retryAfter = { "Retry-After": String(opts.retryAfterSeconds) };
			switch (fault) {
				case "500":
					entry.status = 500;
					return send(res, 500, JSON.stringify({ message: "simulated internal server error" }));
				case "503":
					entry.status = 503;
					return send(res, 503, JSON.stringify({ message: "simulated: service unavailable" }), retryAfter);
				case "429":
					entry.status = 429;
					return send(res, 429, JSON.stringify({ message: "simulated: rate limit exceeded" }), retryAfter);
				case "424-503":
				case "424-400": {
					const modelStatus = fault === "424-503" ? "503" : "400";
					entry.status = 424;
					return send(res, 424, JSON.stringify({ message: `simulated model error ${modelStatus}` }), { "ms-azureml-model-error-statuscode": modelStatus });
				}
				case "413":
					entry.status = 413;
					return send(res, 413, JSON.stringify({ message: "simulated: request entity too large" }));
			}
			const vectors: string[] = [];
			for (let i = 0; i < parsed.rows.length; i++) {
				const row = parsed.rows[i] as { image: string; text: string };
				try {
					vectors.push(embedRow(row.image, row.text, shas[i] as string));
				} catch (e) {
					// What Azure ML does when the model raises: 424 with the model's status.
					entry.status = 424;
					const why = e instanceof Error ? e.message : String(e);
					return send(res, 424, JSON.stringify({ message: `simulated model error: row ${i}: ${why}` }), { "ms-azureml-model-error-statuscode": "400" });
				}
			}
			const field = (i: number) => (parsed.rows[i]?.image ? "image_features" : "text_features");
			const parts = vectors.map((v, i) => {
				const sf = parsed.getScalingFactor ? `,"scaling_factor":4.5` : "";
				return `{"${field(i)}":[${v}]${sf}}`;
			});
			if (fault === "wrong-rows") parts.pop();
			let out = `[${parts.join(",")}]`;
			if (fault === "nan") out = out.replace(/\[\[-?[0-9.e-]+/, "[[NaN");
			if (fault === "malformed") out = out.slice(0, Math.max(1, Math.floor(out.length / 2)));
			entry.status = 200;
			if (!fault) {
				stats.rows += parsed.rows.length;
				for (const s of shas) if (s) stats.embeddedSha256Counts.set(s, (stats.embeddedSha256Counts.get(s) ?? 0) + 1);
			}
			return send(res, 200, out);
		} finally {
			stats.inFlight--;
		}
	};

	const server = http.createServer((req, res) => {
		const path = (req.url ?? "/").split("?")[0];
		if (req.method === "GET" && path === "/") {
			send(res, 200, JSON.stringify({ simulation: true, description: "simulation, not MedImageInsight", details: describeSimulator(opts), scoringPath: "/score", dimension: simulatedDimension }, null, 2));
			req.resume();
			return;
		}
		if (path !== "/score") {
			req.resume();
			send(res, 404, JSON.stringify({ message: "simulated endpoint: not found (the scoring path is /score)" }));
			return;
		}
		if (req.method !== "POST") {
			req.resume();
			send(res, 405, JSON.stringify({ message: "simulated endpoint: use POST" }), { Allow: "POST" });
			return;
		}
		stats.requests++;
		const entry: SimulatorStats["log"][number] = { t: Date.now(), status: 0, rows: 0 };
		if (stats.log.length < 200_000) stats.log.push(entry);
		// The key is checked on the headers, before a byte of the body is read: an unauthenticated
		// client is answered at once, and what it still sends is dropped unread (and cut off when large).
		if (!keyMatches(req.headers.authorization)) {
			stats.rejected401++;
			entry.status = 401;
			let dropped = 0;
			req.on("data", (c: Buffer) => {
				dropped += c.length;
				if (dropped > unauthenticatedDropBytes) req.socket.destroy();
			});
			req.on("error", () => undefined);
			send(res, 401, JSON.stringify({ message: "simulated endpoint: missing or wrong key (Authorization: Bearer <key>)" }));
			return;
		}
		const chunks: Buffer[] = [];
		let size = 0;
		req.on("data", (c: Buffer) => {
			size += c.length;
			if (size <= opts.maxBodyBytes) chunks.push(c);
		});
		req.on("error", () => undefined);
		req.on("end", () => {
			const tooLarge = size > opts.maxBodyBytes;
			const body = tooLarge ? "" : Buffer.concat(chunks).toString("utf8");
			handleScore(req, res, body, tooLarge, entry).catch((e: unknown) => {
				logger.error(`simulated endpoint: ${e instanceof Error ? e.message : String(e)}`);
				send(res, 500, JSON.stringify({ message: "simulated endpoint: internal error" }));
			});
		});
	});
	server.on("connection", (s) => {
		sockets.add(s);
		s.on("close", () => sockets.delete(s));
	});
	server.on("clientError", (_e, socket) => socket.destroy());

	await new Promise<void>((resolve, reject) => {
		server.once("error", reject);
		server.listen(opts.port, "127.0.0.1", () => {
			server.off("error", reject);
			resolve();
		});
	});
	const port = (server.address() as AddressInfo).port;
	const url = `http://127.0.0.1:${port}/score`;
	logger.info(`${describeSimulator(opts)} Listening at ${url}.`);
	return {
		url,
		port,
		stats,
		close: () =>
			new Promise<void>((resolve) => {
				for (const t of timers) clearTimeout(t);
				timers.clear();
				server.close(() => resolve());
				for (const s of sockets) s.destroy();
			}),
	};
}
