// run.json records what a run sent (images, requests, PNG bytes, request-body bytes, mean per image),
// checked against the bytes a loopback proxy in front of the real simulator actually received; a gray
// run sends fewer bytes than an RGB run of the same files, and the two are different resume settings.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { runEmbedding } from "../../../src/core/pipeline/run";
import type { UploadInfo } from "../../../src/core/pipeline/uploadStats";
import { ResumeKeys } from "../../../src/core/results/resumeKey";
import { startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { captureLogger, clientFor, endpointFor, readEmbeddings, workerScript } from "../pipeline/runHelpers";

const key = "upload-bytes-key";
const never = new AbortController().signal;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-upload-"));

/** A loopback HTTP proxy that forwards POSTs to `target` and counts the request-body bytes it received. */
async function countingProxy(target: string): Promise<{ url: string; bytes: () => number; requests: () => number; close: () => Promise<void> }> {
	let bytes = 0;
	let requests = 0;
	const server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => {
			const body = Buffer.concat(chunks);
			bytes += body.length;
			requests++;
			const headers: Record<string, string> = {};
			for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "content-length" && k !== "connection") headers[k] = v;
			fetch(target, { method: req.method ?? "POST", headers, body })
				.then(async (r) => {
					const text = Buffer.from(await r.arrayBuffer());
					const out: Record<string, string> = {};
					r.headers.forEach((v, k) => {
						if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection" && k !== "content-encoding") out[k] = v;
					});
					res.writeHead(r.status, out).end(text);
				})
				.catch(() => res.writeHead(502).end());
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.address() as AddressInfo).port;
	return {
		url: `http://127.0.0.1:${port}/score`,
		bytes: () => bytes,
		requests: () => requests,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

interface RunJson {
	convert: { grayscalePng: boolean };
	config: string;
	counts: { embedded: number };
	upload: UploadInfo;
}

void describe("run.json: bytes sent", () => {
	let sim: SimulatorHandle;
	const input = path.join(tmp, "in");
	before(async () => {
		sim = await startSimulator({ key });
		fs.mkdirSync(input, { recursive: true });
		for (let n = 0; n < 7; n++) {
			const rows = 64 + n * 8;
			const columns = 96;
			const pixels = Array.from({ length: rows * columns }, (_, i) => Math.round(1500 + 900 * Math.sin((i % columns) / (5 + n)) * Math.cos(Math.floor(i / columns) / 11) + ((i * 7919) % 50)));
			fs.writeFileSync(path.join(input, `ct${n}.dcm`), writeDicom({ rows, columns, bitsAllocated: 16, bitsStored: 12, pixels, modality: "CT" }));
		}
		const colour = Array.from({ length: 40 * 50 * 3 }, (_, i) => (i * 29 + (i >> 7)) & 0xff);
		fs.writeFileSync(path.join(input, "us.dcm"), writeDicom({ rows: 40, columns: 50, bitsAllocated: 8, samplesPerPixel: 3, pixels: colour, modality: "US" }));
	});
	after(async () => {
		await sim?.close();
		fs.rmSync(tmp, { recursive: true, force: true });
	});

	async function runOnce(outDir: string, grayscalePng: boolean): Promise<{ run: RunJson; received: number; requests: number }> {
		const proxy = await countingProxy(sim.url);
		const endpoint = endpointFor(proxy.url, { batchSize: 3 });
		const logger = captureLogger();
		const client = clientFor(endpoint, key, logger);
		try {
			const summary = await runEmbedding({ inputs: [input], outDir, convert: { ...defaultConvertOptions, grayscalePng }, endpoint, simulated: true, workers: 1 }, { embedder: client, workerScript, logger }, never);
			assert.equal(summary.embedded, 8, logger.lines.join("\n"));
		} finally {
			client.dispose();
			await proxy.close();
		}
		const run = JSON.parse(fs.readFileSync(path.join(outDir, "run.json"), "utf8")) as RunJson;
		return { run, received: proxy.bytes(), requests: proxy.requests() };
	}

	void it("records images, requests and request bytes equal to what the endpoint received; gray sends fewer bytes than RGB for the same vectors", async () => {
		const grayOut = path.join(tmp, "out-gray");
		const rgbOut = path.join(tmp, "out-rgb");
		const gray = await runOnce(grayOut, true);
		const rgb = await runOnce(rgbOut, false);
		for (const r of [gray, rgb]) {
			assert.equal(r.run.upload.images, 8);
			assert.equal(r.run.upload.requests, r.requests, "one request per batch, no retries here");
			assert.equal(r.run.upload.requestBytes, r.received, "request bytes = body bytes the endpoint received");
			assert.equal(r.run.upload.meanRequestBytesPerImage, Math.round(r.received / 8));
			assert.ok(r.run.upload.pngBytes > 0 && r.run.upload.pngBytes < r.run.upload.requestBytes);
		}
		assert.equal(gray.run.convert.grayscalePng, true);
		assert.equal(rgb.run.convert.grayscalePng, false);
		assert.ok(gray.received < 0.8 * rgb.received, `gray ${gray.received} B vs RGB ${rgb.received} B`);
		assert.notEqual(gray.run.config, rgb.run.config, "a gray run and an RGB run are different settings");
		// The simulated model turns gray into RGB: the same vector for every image in both runs.
		const byPath = (dir: string) => new Map(readEmbeddings(dir).map((e) => [e.path, e.embedding]));
		const a = byPath(grayOut);
		const b = byPath(rgbOut);
		assert.equal(a.size, 8);
		for (const [p, v] of a) assert.deepEqual(v, b.get(p), p);
	});

	void it("a re-run in the same mode sends nothing and records zero bytes sent", async () => {
		const out = path.join(tmp, "out-rerun");
		await runOnce(out, true);
		const again = await (async () => {
			const proxy = await countingProxy(sim.url);
			const endpoint = endpointFor(proxy.url, { batchSize: 3 });
			const logger = captureLogger();
			const client = clientFor(endpoint, key, logger);
			try {
				const s = await runEmbedding({ inputs: [input], outDir: out, convert: { ...defaultConvertOptions, grayscalePng: true }, endpoint, simulated: true, workers: 1 }, { embedder: client, workerScript, logger }, never);
				assert.equal(s.alreadyDone, 8);
			} finally {
				client.dispose();
				await proxy.close();
			}
			return { run: JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as RunJson, received: proxy.bytes() };
		})();
		assert.equal(again.received, 0);
		assert.deepEqual(again.run.upload, { images: 0, requests: 0, pngBytes: 0, requestBytes: 0, meanRequestBytesPerImage: 0 });
	});

	void it("resume keys: the RGB and gray modes differ, and neither takes results of the converter before revision 2 as done", () => {
		const endpoint = { url: "https://a.example/score" };
		const sha = "ef".repeat(32);
		const rgb = new ResumeKeys({ ...defaultConvertOptions, grayscalePng: false }, endpoint);
		const gray = new ResumeKeys(defaultConvertOptions, endpoint);
		assert.notEqual(rgb.key(sha), gray.key(sha));
		assert.notEqual(rgb.config, gray.config);
		// The key of results written by the converter before revision 2 (its pictures may be wrong): sha256 of this JSON.
		const before = createHash("sha256")
			.update(JSON.stringify({ version: 1, sha256: sha, pixels: { pipeline: "first-frame, percentile 10/90 clip, uint8 scale, RGB" }, endpoint: { url: "https://a.example/score", deployment: "" } }))
			.digest("hex");
		assert.notEqual(rgb.key(sha), before);
		assert.notEqual(gray.key(sha), before);
		// Revision 2's RGB key: the same JSON with the decoder revision.
		const now = createHash("sha256")
			.update(JSON.stringify({ version: 1, sha256: sha, pixels: { pipeline: "first-frame, percentile 10/90 clip, uint8 scale, RGB", decoder: 2 }, endpoint: { url: "https://a.example/score", deployment: "" } }))
			.digest("hex");
		assert.equal(rgb.key(sha), now);
	});
});
