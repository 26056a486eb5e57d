/**
 * Whole runs (real DICOM files, real worker threads, real client) against abusive or absent endpoints
 * on 127.0.0.1: the run ends with a plain reason, stores nothing wrong, and says why images failed.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { defaultEndpointSettings, type EndpointSettings } from "../../../src/core/endpoint/types";
import { runEmbedding } from "../../../src/core/pipeline/run";
import type { RunOptions, RunProgress } from "../../../src/core/pipeline/types";
import { captureLogger, clientFor, copyInto, endpointFor, haveSharedDicom, readEmbeddings, readFailures, sharedDicom, workerScript } from "../pipeline/runHelpers";
import { jsonAnswer, startTestServer } from "./helpers";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-run-hardening-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const have = haveSharedDicom("endpoint hardening runs");
const key = "run-hardening-key";
const never = new AbortController().signal;
const guard = { timeout: 120_000 };
const rowsOf = (body: string) => (JSON.parse(body) as { input_data: { data: unknown[] } }).input_data.data.length;
const vectors = (rows: number, dim: number) => Array.from({ length: rows }, (_, r) => ({ image_features: [Array.from({ length: dim }, (_, i) => Math.sin(r + i))] }));

function inputWith(name: string, files: string[]): string {
	const dir = path.join(tmpRoot, name);
	copyInto(dir, files.map((f) => path.join(sharedDicom, "pydicom", f)));
	return dir;
}

function options(inputs: string[], outDir: string, endpoint: EndpointSettings): RunOptions {
	return { inputs, outDir, convert: { ...defaultConvertOptions, thumbnailSize: 0 }, endpoint, simulated: false, workers: 1 };
}

void describe("runs against a hostile or absent endpoint", { skip: !have }, () => {
	void it("a vector of another length than those already in the folder fails with the reason and is not stored; failure reasons are counted", guard, async () => {
		let dim = 8;
		const server = await startTestServer((req, res) => jsonAnswer(res, 200, vectors(rowsOf(req.body), dim)));
		try {
			const input = inputWith("dim-in", ["MR_small.dcm"]);
			const out = path.join(tmpRoot, "dim-out");
			const endpoint = endpointFor(server.url);
			const first = clientFor(endpoint, key, captureLogger());
			const s1 = await runEmbedding(options([input], out, endpoint), { embedder: first, workerScript, logger: captureLogger() }, never);
			first.dispose();
			assert.equal(s1.embedded, 1);
			assert.deepEqual(s1.failureReasons, []);

			// Two more images; the endpoint now answers 4 numbers per image. A new client knows nothing: the folder does.
			copyInto(input, ["CT_small.dcm", "JPEG2000.dcm"].map((f) => path.join(sharedDicom, "pydicom", f)));
			dim = 4;
			const logger = captureLogger();
			const second = clientFor(endpoint, key, logger);
			const s2 = await runEmbedding(options([input], out, endpoint), { embedder: second, workerScript, logger }, never);
			second.dispose();
			assert.equal(s2.embedded, 0);
			assert.equal(s2.failed, 2);
			const reason = "malformed response: vectors of 4 numbers, expected 8 (the length of the embeddings already accepted)";
			assert.deepEqual(s2.failureReasons, [{ reason, count: 2 }]);
			for (const r of readEmbeddings(out)) assert.equal(r.embedding.length, 8);
			assert.equal(readEmbeddings(out).length, 1);
			assert.deepEqual(
				readFailures(out).map((f) => f.error),
				[reason, reason],
			);
			assert.equal(logger.lines.filter((l) => l.startsWith("error") && l.includes(`2 image(s) failed: ${reason}`)).length, 1, logger.lines.join("\n"));
		} finally {
			await server.close();
		}
	});

	void it("nothing listening at the URL: the run stops within a few attempts with a plain fatal reason, in the summary and run.json", guard, async () => {
		const probe = http.createServer();
		await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
		const port = (probe.address() as AddressInfo).port;
		await new Promise<void>((r) => probe.close(() => r()));
		const url = `http://127.0.0.1:${port}/score`;
		const input = inputWith("dead-in", ["MR_small.dcm", "CT_small.dcm"]);
		const out = path.join(tmpRoot, "dead-out");
		// The default retry settings (8 attempts, 2–60 s apart).
		const endpoint: EndpointSettings = { ...defaultEndpointSettings, url, batchSize: 1 };
		const logger = captureLogger();
		const client = clientFor(endpoint, key, logger);
		const s = await runEmbedding(options([input], out, endpoint), { embedder: client, workerScript, logger }, never);
		client.dispose();
		const plain = `Cannot reach the endpoint at ${url}: nothing is listening at 127.0.0.1:${port} (connection refused). Check the URL and that the endpoint is running.`;
		assert.deepEqual(s.fatal, { code: "unreachable", message: plain });
		assert.equal(s.embedded, 0);
		assert.equal(s.failed, 0, "no image is failed for the endpoint's sake: the next run sends them");
		const runJson = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { fatal?: { code: string; message: string } };
		assert.deepEqual(runJson.fatal, { code: "unreachable", message: plain });
	});

	void it("Retry-After: 86400 on every answer: the run reports paused, then ends with a paused-too-long fatal instead of hanging", guard, async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 503, { message: "maintenance" }, { "Retry-After": "86400" }));
		try {
			const input = inputWith("refuse-in", ["MR_small.dcm", "CT_small.dcm"]);
			const out = path.join(tmpRoot, "refuse-out");
			const endpoint = endpointFor(server.url, { retries: 3, minRetryDelayMs: 20, maxRetryDelayMs: 100, maxPauseMs: 1000 });
			const logger = captureLogger();
			const client = clientFor(endpoint, key, logger);
			const seen: RunProgress["client"]["state"][] = [];
			const s = await runEmbedding(options([input], out, endpoint), { embedder: client, workerScript, logger, onProgress: (p) => seen.push(p.client.state) }, never);
			client.dispose();
			assert.equal(s.fatal?.code, "paused-too-long");
			assert.match(s.fatal?.message ?? "", /The endpoint has refused requests for \d+ s \(longer than the allowed 1 s\); the run stops\. Last answer: .*503/);
			assert.ok(seen.includes("paused"), "progress said paused");
			assert.equal(s.embedded + s.failed, 0);
		} finally {
			await server.close();
		}
	});

	void it("the URL's credentials never reach run.json's fatal message or the log (HTTP 404)", guard, async () => {
		const server = await startTestServer((_req, res) => jsonAnswer(res, 404, { message: "no deployment here" }));
		try {
			const url = `${server.url}?code=FUNCTION-CODE-7c1&api-version=1`;
			const input = inputWith("redact-in", ["MR_small.dcm"]);
			const out = path.join(tmpRoot, "redact-out");
			const endpoint = endpointFor(url);
			const logger = captureLogger();
			const client = clientFor(endpoint, key, logger);
			const s = await runEmbedding(options([input], out, endpoint), { embedder: client, workerScript, logger }, never);
			client.dispose();
			assert.equal(s.fatal?.code, "not-found");
			assert.ok(s.fatal?.message.includes(`${server.url}?code=redacted&api-version=1`), s.fatal?.message);
			for (const f of fs.readdirSync(out)) {
				const p = path.join(out, f);
				if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p, "utf8").includes("FUNCTION-CODE-7c1"), `${f} holds the URL's code`);
			}
			for (const l of logger.lines) assert.ok(!l.includes("FUNCTION-CODE-7c1"), l);
		} finally {
			await server.close();
		}
	});
});
