/**
 * Same-name inputs (issue 9, item 1): different files never share a recorded path, every embedded
 * image reaches embeddings.jsonl, index.csv, embeddings.npy and the results view, and resume takes a
 * file as done only when it is the same file (not another one with the same path, size and mtime).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { runEmbedding } from "../../../src/core/pipeline/run";
import type { RunOptions } from "../../../src/core/pipeline/types";
import { readResults } from "../../../src/core/results/reader";
import { defaultSimulatorOptions, startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { SimulatedModel } from "../../../src/core/simulator/simulatedModel";
import { captureLogger, clientFor, convertDirect, endpointFor, haveSharedDicom, readEmbeddings, readFailures, sharedDicom, workerScript } from "./runHelpers";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-samenames-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const key = "same-names-key-31c9";
const have = haveSharedDicom("same-name inputs");
const never = new AbortController().signal;
const model = new SimulatedModel(defaultSimulatorOptions.seed);

/** Rows of an embeddings.npy (float32, little-endian, C order), parsed here from its bytes. */
function readNpy(file: string): { shape: number[]; rows: Float32Array[] } {
	const buf = fs.readFileSync(file);
	assert.equal(buf.subarray(0, 6).toString("latin1"), "\x93NUMPY");
	const headerLen = buf.readUInt16LE(8);
	const header = buf.subarray(10, 10 + headerLen).toString("latin1");
	assert.match(header, /'descr': '<f4'/);
	const m = /'shape': \((\d+), (\d+)\)/.exec(header);
	assert.ok(m, header);
	const [n, d] = [Number(m[1]), Number(m[2])];
	const data = buf.subarray(10 + headerLen);
	assert.equal(data.length, n * d * 4);
	const rows: Float32Array[] = [];
	for (let i = 0; i < n; i++) {
		const row = new Float32Array(d);
		for (let j = 0; j < d; j++) row[j] = data.readFloatLE((i * d + j) * 4);
		rows.push(row);
	}
	return { shape: [n, d], rows };
}

/** Splits a CSV line of index.csv (no quoted fields in these fixtures). */
const cells = (line: string) => line.split(",");

void describe("runEmbedding with same-name inputs (real worker pool, real simulator over 127.0.0.1)", { skip: !have }, () => {
	let sim: SimulatorHandle;
	before(async () => {
		sim = await startSimulator({ key });
	});
	after(async () => {
		await sim?.close();
	});

	const options = (inputs: string[], outDir: string): RunOptions => ({
		inputs,
		outDir,
		convert: { ...defaultConvertOptions, thumbnailSize: 32 },
		endpoint: endpointFor(sim.url, { batchSize: 3 }),
		simulated: true,
		workers: 2,
	});

	void it("folders siteA/data and siteB/data with IM1.dcm each, and two files named IM9.dcm: four rows everywhere, each with its own vector", async () => {
		const top = path.join(tmpRoot, "sites");
		const sources: Record<string, string> = {
			"siteA/data/IM1.dcm": "CT_small.dcm",
			"siteB/data/IM1.dcm": "MR_small.dcm",
			"p/IM9.dcm": "SC_rgb_small_odd.dcm",
			"q/IM9.dcm": "SC_ybr_full_422_uncompressed.dcm",
		};
		for (const [rel, src] of Object.entries(sources)) {
			fs.mkdirSync(path.dirname(path.join(top, rel)), { recursive: true });
			fs.copyFileSync(path.join(sharedDicom, "pydicom", src), path.join(top, rel));
		}
		const pngs = new Map<string, Uint8Array>();
		for (const [rel, src] of Object.entries(sources)) {
			const o = await convertDirect(path.join(sharedDicom, "pydicom", src));
			assert.equal(o.kind, "image", src);
			if (o.kind === "image") pngs.set(rel, o.png);
		}
		const out = path.join(tmpRoot, "out-sites");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const inputs = [path.join(top, "siteA/data"), path.join(top, "siteB/data"), path.join(top, "p/IM9.dcm"), path.join(top, "q/IM9.dcm")];
		const summary = await runEmbedding(options(inputs, out), { embedder: client, workerScript, logger }, never);
		client.dispose();
		assert.equal(summary.embedded, 4);
		assert.equal(summary.failed + summary.skipped, 0);

		const want = Object.keys(sources).sort();
		const emb = readEmbeddings(out);
		assert.deepEqual(emb.map((r) => r.path).sort(), want, "paths relative to the inputs' common folder");
		const vectorOf = (rel: string) => model.embedImage(Buffer.from(pngs.get(rel)!).toString("base64"));

		const csv = fs.readFileSync(path.join(out, "index.csv"), "utf8").trim().split("\n");
		const rows = csv.slice(1).map(cells);
		assert.deepEqual(rows.map((r) => r[1]).sort(), want, "index.csv holds every embedded image");
		const npy = readNpy(path.join(out, "embeddings.npy"));
		assert.deepEqual(npy.shape, [4, 1024], "embeddings.npy holds every embedded image");
		for (const [i, row] of rows.entries()) {
			assert.equal(row[0], String(i));
			assert.deepEqual(Array.from(npy.rows[i]!), Array.from(vectorOf(row[1]!)), `npy row ${i} is the vector of ${row[1]}`);
		}

		const view = await readResults(out);
		assert.deepEqual(view.rows.map((r) => r.path).sort(), want, "the results view holds every embedded image");
		assert.equal(view.vectors.length, 4 * view.dim);
		for (const [i, r] of view.rows.entries()) {
			const v = vectorOf(r.path);
			const norm = Math.hypot(...v);
			for (let j = 0; j < view.dim; j += 97) assert.ok(Math.abs(view.vectors[i * view.dim + j]! - v[j]! / norm) < 1e-6, `view row ${r.path}[${j}]`);
		}
	});

	void it("a different file with the same recorded path, size and mtime is read and embedded, not taken as done", async () => {
		const a = path.join(tmpRoot, "ident", "a", "series1");
		const b = path.join(tmpRoot, "ident", "b", "series1");
		fs.mkdirSync(a, { recursive: true });
		fs.mkdirSync(b, { recursive: true });
		const original = fs.readFileSync(path.join(sharedDicom, "pydicom", "CT_small.dcm"));
		// Same size, other pixels: the last 4 KB of pixel data reversed.
		const other = Buffer.from(original);
		other.subarray(other.length - 4096).reverse();
		fs.writeFileSync(path.join(a, "IM1.dcm"), original);
		fs.writeFileSync(path.join(b, "IM1.dcm"), other);
		const t = new Date("2024-03-01T10:00:00Z");
		fs.utimesSync(path.join(a, "IM1.dcm"), t, t);
		fs.utimesSync(path.join(b, "IM1.dcm"), t, t);
		const pngB = await convertDirect(path.join(b, "IM1.dcm"));
		assert.equal(pngB.kind, "image");
		const pngA = await convertDirect(path.join(a, "IM1.dcm"));
		assert.ok(pngA.kind === "image" && pngB.kind === "image" && Buffer.compare(Buffer.from(pngA.png), Buffer.from(pngB.png)) !== 0, "the two files are different images");

		// One output folder used for both selections (as a fixed outputFolder setting or --out would).
		const out = path.join(tmpRoot, "out-ident");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const first = await runEmbedding(options([a], out), { embedder: client, workerScript, logger }, never);
		assert.equal(first.embedded, 1);
		const requests = sim.stats.requests;
		const second = await runEmbedding(options([b], out), { embedder: client, workerScript, logger }, never);
		client.dispose();
		assert.equal(second.alreadyDone, 0, "the other file is not taken as done");
		assert.equal(second.embedded, 1);
		assert.ok(sim.stats.requests > requests, "the other image was sent");
		const emb = readEmbeddings(out);
		const latest = emb.filter((r) => r.path === "IM1.dcm").at(-1)!;
		assert.equal(latest.sha256, (await import("node:crypto")).createHash("sha256").update(other).digest("hex"));
		assert.deepEqual(latest.embedding.map(Math.fround), Array.from(model.embedImage(Buffer.from(pngB.kind === "image" ? pngB.png : new Uint8Array()).toString("base64"))));
		// The same file again is taken as done without being read.
		const again = clientFor(endpointFor(sim.url), key, logger);
		const third = await runEmbedding(options([b], out), { embedder: again, workerScript, logger }, never);
		again.dispose();
		assert.equal(third.alreadyDone, 1);
		assert.equal(third.embedded, 0);
	});

	void it("records a symbolic link that points outside the selection as skipped with the reason, and follows one inside", async () => {
		const top = path.join(tmpRoot, "links");
		const inside = path.join(top, "sel");
		const outside = path.join(top, "elsewhere");
		fs.mkdirSync(path.join(inside, "real"), { recursive: true });
		fs.mkdirSync(outside, { recursive: true });
		fs.copyFileSync(path.join(sharedDicom, "pydicom", "MR_small.dcm"), path.join(inside, "real", "IM1.dcm"));
		fs.copyFileSync(path.join(sharedDicom, "pydicom", "CT_small.dcm"), path.join(outside, "IM2.dcm"));
		fs.symlinkSync(path.join(outside, "IM2.dcm"), path.join(inside, "out.dcm"));
		fs.symlinkSync(path.join(inside, "real"), path.join(inside, "alias"));
		const out = path.join(tmpRoot, "out-links");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const summary = await runEmbedding(options([inside], out), { embedder: client, workerScript, logger }, never);
		assert.equal(summary.skipped, 1);
		assert.equal(summary.ignored, 0, "a link is never counted as a non-DICOM file");
		assert.deepEqual(readEmbeddings(out).map((r) => r.path).sort(), ["alias/IM1.dcm", "real/IM1.dcm"]);
		const fail = readFailures(out);
		assert.equal(fail.length, 1);
		assert.equal(fail[0]!.path, "out.dcm");
		assert.equal(fail[0]!.stage, "skipped");
		assert.match(fail[0]!.error, /symbolic link .*outside the selected folders/);
		// A re-run does not record the link again.
		const again = await runEmbedding(options([inside], out), { embedder: client, workerScript, logger }, never);
		client.dispose();
		assert.equal(again.skipped, 1);
		assert.equal(readFailures(out).length, 1);
	});
});
