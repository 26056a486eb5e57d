/** Helpers for the endpoint and simulator tests: real PNGs, a capturing logger, a loopback HTTP server. */
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PNG } from "pngjs";
import { defaultEndpointSettings, type EndpointSettings } from "../../../src/core/endpoint/types";
import type { Logger } from "../../../src/core/util/logger";

/** An RGB PNG of w×h whose pixel (x, y) has grey value f(x, y) (0–255). */
export function makePng(w: number, h: number, f: (x: number, y: number) => number): Uint8Array {
	const png = new PNG({ width: w, height: h, colorType: 2, inputColorType: 2, inputHasAlpha: false });
	const data = Buffer.alloc(w * h * 3);
	for (let y = 0; y < h; y++) {
		for (let x = 0; x < w; x++) {
			const v = Math.max(0, Math.min(255, Math.round(f(x, y))));
			data[(y * w + x) * 3] = v;
			data[(y * w + x) * 3 + 1] = v;
			data[(y * w + x) * 3 + 2] = v;
		}
	}
	png.data = data;
	return new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
}

/** `n` distinct small PNGs (different gradients and blobs). */
export function distinctPngs(n: number, size = 32): Uint8Array[] {
	return Array.from({ length: n }, (_, i) => makePng(size, size, (x, y) => ((x * (i + 1) + y * (i % 7)) * 7 + i * 13) % 256));
}

export interface CapturedLog {
	logger: Logger;
	lines: string[];
}

/** A Logger that keeps every message and argument as text. */
export function captureLogger(): CapturedLog {
	const lines: string[] = [];
	const put = (level: string) => (message: string | Error, ...args: unknown[]) => {
		const text = message instanceof Error ? `${message.message} ${message.stack ?? ""}` : message;
		lines.push(`${level} ${text} ${args.map((a) => (a instanceof Error ? `${a.message} ${a.stack ?? ""}` : JSON.stringify(a))).join(" ")}`);
	};
	return { lines, logger: { trace: put("trace"), debug: put("debug"), info: put("info"), warn: put("warn"), error: put("error") } };
}

export interface SeenRequest {
	t: number;
	method: string;
	url: string;
	headers: http.IncomingHttpHeaders;
	body: string;
}

export interface TestServer {
	url: string;
	requests: SeenRequest[];
	close(): Promise<void>;
}

/** A loopback HTTP server whose answers `handler` writes; it records every request (arrival time, headers, body). */
export async function startTestServer(handler: (req: SeenRequest, res: http.ServerResponse, n: number) => void): Promise<TestServer> {
	const requests: SeenRequest[] = [];
	const sockets = new Set<Socket>();
	const server = http.createServer((req, res) => {
		const t = Date.now();
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const seen: SeenRequest = { t, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
			requests.push(seen);
			handler(seen, res, requests.length - 1);
		});
	});
	server.on("connection", (s) => {
		sockets.add(s);
		s.on("close", () => sockets.delete(s));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.address() as AddressInfo).port;
	return {
		url: `http://127.0.0.1:${port}/score`,
		requests,
		close: () =>
			new Promise<void>((resolve) => {
				server.close(() => resolve());
				for (const s of sockets) s.destroy();
			}),
	};
}

/** Client settings with small delays so the suite stays fast. */
export function fastSettings(url: string, over: Partial<EndpointSettings> = {}): EndpointSettings {
	return {
		...defaultEndpointSettings,
		url,
		rateLimit: { calls: 10000, periodSeconds: 1 },
		retries: 4,
		minRetryDelayMs: 10,
		maxRetryDelayMs: 60,
		requestTimeoutMs: 3000,
		maxPauseMs: 20000,
		...over,
	};
}

/** A JSON answer with one `[[...]]` vector per row, vectors chosen by the test. */
export function jsonAnswer(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	res.writeHead(status, { "Content-Type": "application/json", ...headers });
	res.end(typeof body === "string" ? body : JSON.stringify(body));
}
