// The embedding record says when the picture was windowed over min–max (percentiles collapsed):
// a real run (real worker pool, real simulator on 127.0.0.1) on files written by the project's writer.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { runEmbedding } from "../../../src/core/pipeline/run";
import { startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { captureLogger, clientFor, endpointFor, readEmbeddings, workerScript } from "./runHelpers";

const key = "window-test-key";
let sim: SimulatorHandle;
let dir = "";
before(async () => {
	sim = await startSimulator({ key });
	dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-runwin-"));
});
after(async () => {
	await sim?.close();
	fs.rmSync(dir, { recursive: true, force: true });
});

void test('a collapsed window is recorded as "window": "min-max"; ordinary and constant images carry no such field', async () => {
	const input = path.join(dir, "in");
	fs.mkdirSync(input);
	const flat = new Array(21).fill(500);
	flat[4] = 100;
	fs.writeFileSync(path.join(input, "flat.dcm"), writeDicom({ rows: 3, columns: 7, bitsAllocated: 16, pixels: flat }));
	fs.writeFileSync(path.join(input, "ramp.dcm"), writeDicom({ rows: 3, columns: 7, bitsAllocated: 16, pixels: Array.from({ length: 21 }, (_, i) => i * 10) }));
	fs.writeFileSync(path.join(input, "constant.dcm"), writeDicom({ rows: 3, columns: 7, bitsAllocated: 16, pixels: new Array(21).fill(9) }));
	const logger = captureLogger();
	const endpoint = endpointFor(sim.url);
	const client = clientFor(endpoint, key, logger);
	const outDir = path.join(dir, "out");
	try {
		const summary = await runEmbedding({ inputs: [input], outDir, convert: defaultConvertOptions, endpoint, simulated: true, workers: 1 }, { embedder: client, workerScript, logger }, new AbortController().signal);
		assert.equal(summary.embedded, 3);
	} finally {
		client.dispose();
	}
	const byPath = new Map(readEmbeddings(outDir).map((r) => [r.path, r]));
	assert.equal(byPath.get("flat.dcm")?.window, "min-max");
	assert.equal(byPath.get("ramp.dcm")?.window, undefined);
	assert.equal(byPath.get("constant.dcm")?.window, undefined);
	assert.ok(!("window" in byPath.get("ramp.dcm")!));
});
