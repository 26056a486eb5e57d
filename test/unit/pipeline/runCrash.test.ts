import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { runEmbedding } from "../../../src/core/pipeline/run";
import { startSimulator } from "../../../src/core/simulator/server";
import { captureLogger, clientFor, endpointFor, readEmbeddings, tally, workerScript } from "./runHelpers";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-crash-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** The child: one run, progress on stdout, the key from the environment (never argv). */
const childScript = `
const out = process.env.MII_OUT_ROOT;
const { runEmbedding } = require(out + "/src/core/pipeline/run.js");
const { EndpointClient } = require(out + "/src/core/endpoint/client.js");
const { keyTokenProvider } = require(out + "/src/core/endpoint/auth.js");
const { nullLogger } = require(out + "/src/core/util/logger.js");
const options = JSON.parse(process.env.MII_RUN_OPTIONS);
const key = process.env.MII_TEST_KEY;
const embedder = new EndpointClient(options.endpoint, keyTokenProvider(async () => key), nullLogger);
runEmbedding(options, { embedder, workerScript: process.env.MII_WORKER, logger: nullLogger,
	onProgress: (p) => process.stdout.write("embedded " + p.embedded + "\\n") }, new AbortController().signal)
	.then(() => process.stdout.write("done\\n"), (e) => { process.stderr.write(String(e) + "\\n"); process.exitCode = 3; })
	.finally(() => embedder.dispose());
`;

void it("a run killed with SIGKILL halfway is completed by a re-run: every image once in the store, none accepted twice", async () => {
	const key = "crash-test-key";
	const batchSize = 3;
	const maxConcurrentRequests = 2;
	const sim = await startSimulator({ key, latencyMs: 120 });
	const input = path.join(tmpRoot, "in");
	fs.mkdirSync(path.join(input, "sub"), { recursive: true });
	const count = 60;
	for (let i = 0; i < count; i++) {
		const pixels = new Uint8Array(32 * 32);
		for (let j = 0; j < pixels.length; j++) pixels[j] = (j * (i + 3) + ((j >> 5) * (i % 7)) * 11) & 0xff;
		const bytes = writeDicom({ rows: 32, columns: 32, bitsAllocated: 8, pixelRepresentation: 0, pixels, modality: "OT", instanceNumber: i });
		fs.writeFileSync(path.join(input, i % 2 ? "sub" : "", `img${String(i).padStart(3, "0")}.dcm`), bytes);
	}
	const out = path.join(tmpRoot, "out");
	const endpoint = endpointFor(sim.url, { batchSize, maxConcurrentRequests });
	const options = { inputs: [input], outDir: out, convert: defaultConvertOptions, endpoint, simulated: true, workers: 2 };
	const script = path.join(tmpRoot, "child.js");
	fs.writeFileSync(script, childScript);

	const child = spawn(process.execPath, [script], {
		env: {
			...process.env,
			MII_OUT_ROOT: path.resolve(__dirname, "../../.."),
			MII_RUN_OPTIONS: JSON.stringify(options),
			MII_TEST_KEY: key,
			MII_WORKER: workerScript,
		},
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stderr = "";
	child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
	try {
		const killedAt = await new Promise<number>((resolve, reject) => {
			let buf = "";
			child.stdout.on("data", (d: Buffer) => {
				buf += d.toString();
				const m = [...buf.matchAll(/embedded (\d+)/g)].at(-1);
				if (m && Number(m[1]) >= 15 && child.exitCode === null) {
					child.kill("SIGKILL");
					resolve(Number(m[1]));
				}
			});
			child.on("exit", (code, sig) => {
				if (sig !== "SIGKILL") reject(new Error(`the child ended before it was killed (code ${code}): ${stderr}`));
			});
		});
		await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once("exit", r)));
		const atKill = readEmbeddings(out);
		assert.ok(atKill.length >= killedAt && atKill.length < count, `killed halfway (${atKill.length} of ${count} recorded)`);
		assert.ok(fs.existsSync(path.join(out, ".run.lock")), "the killed run left its lock behind");
		// Requests the killed run had in flight still finish on the server: let them, then count.
		for (const until = Date.now() + 5000; sim.stats.inFlight > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
		assert.equal(sim.stats.inFlight, 0);
		const sentBefore = sim.stats.rows;

		const logger = captureLogger();
		const client = clientFor(endpoint, key, logger);
		const summary = await runEmbedding(options, { embedder: client, workerScript, logger }, new AbortController().signal);
		client.dispose();
		assert.equal(summary.fatal, undefined);
		assert.equal(summary.alreadyDone, atKill.length, "what the killed run recorded is not sent again");
		assert.equal(summary.embedded, count - atKill.length);
		assert.equal(sim.stats.rows - sentBefore, count - atKill.length, "the re-run sent exactly what was missing");

		const emb = readEmbeddings(out);
		assert.equal(emb.length, count);
		assert.deepEqual([...tally(emb.map((r) => r.path)).values()].filter((c) => c !== 1), [], "no path accepted twice");
		assert.deepEqual([...tally(emb.map((r) => r.key)).values()].filter((c) => c !== 1), [], "no key accepted twice");
		// The simulator saw an image twice only if it was in flight (sent, not yet recorded) at the kill.
		const twice = [...sim.stats.perImageSha256Counts.values()].filter((c) => c > 1);
		assert.ok(twice.every((c) => c === 2));
		assert.ok(twice.length <= batchSize * (maxConcurrentRequests + 1), `${twice.length} images sent twice`);
		assert.equal(sim.stats.perImageSha256Counts.size, count);
	} finally {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
		await sim.close();
	}
});
