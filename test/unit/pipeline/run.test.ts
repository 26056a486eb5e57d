import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { runEmbedding } from "../../../src/core/pipeline/run";
import type { RunOptions, RunProgress } from "../../../src/core/pipeline/types";
import { defaultSimulatorOptions, startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { SimulatedModel } from "../../../src/core/simulator/simulatedModel";
import {
	captureLogger,
	clientFor,
	convertDirect,
	copyInto,
	endpointFor,
	haveSharedDicom,
	imageSha,
	pydicomFiles,
	readEmbeddings,
	readFailures,
	sharedDicom,
	tally,
	workerScript,
} from "./runHelpers";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-run-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const canaryKey = "canary-KEY-4f1d9c2e7b-do-not-leak";
const have = haveSharedDicom("embedding run");
const never = new AbortController().signal;

function havePythonNumpy(): boolean {
	const r = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
	if (r.status === 0) return true;
	console.log("\n*** SKIPPED: python3 with numpy is not available, embeddings.npy is not checked with numpy.load ***\n");
	return false;
}

/** Every file (recursively) under dir, with its bytes. */
function allFiles(dir: string): { file: string; bytes: Buffer }[] {
	const out: { file: string; bytes: Buffer }[] = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...allFiles(p));
		else out.push({ file: p, bytes: fs.readFileSync(p) });
	}
	return out;
}

void describe("runEmbedding (real worker pool, real simulator over 127.0.0.1)", { skip: !have }, () => {
	let sim: SimulatorHandle;
	const mixed = path.join(tmpRoot, "mixed");
	/** What the converter says of each DICOM of the mixed folder, by recorded path (computed directly). */
	const expected = new Map<string, { kind: string; png?: Uint8Array }>();

	before(async () => {
		sim = await startSimulator({ key: canaryKey });
		const files = pydicomFiles();
		copyInto(path.join(mixed, "a"), files);
		// Identical content under another name: must be recorded for both paths but sent once.
		copyInto(path.join(mixed, "b"), [path.join(sharedDicom, "pydicom", "CT_small.dcm")], () => "CT_copy.dcm");
		// A file that says DICM but is garbage after it: must end failed with a reason.
		const broken = Buffer.alloc(600, 0x5a);
		broken.fill(0, 0, 128);
		broken.write("DICM", 128, "latin1");
		fs.writeFileSync(path.join(mixed, "b", "broken.dcm"), broken);
		fs.writeFileSync(path.join(mixed, "notes.txt"), "not an image\n");
		fs.writeFileSync(path.join(mixed, "photo.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]));
		fs.writeFileSync(path.join(mixed, ".DS_Store"), "junk");
		for (const f of files) {
			const o = await convertDirect(f);
			expected.set(`a/${path.basename(f)}`, o.kind === "image" ? { kind: o.kind, png: o.png } : { kind: o.kind });
		}
		expected.set("b/CT_copy.dcm", expected.get("a/CT_small.dcm")!);
		expected.set("b/broken.dcm", { kind: (await convertDirect(path.join(mixed, "b", "broken.dcm"))).kind });
	});
	after(async () => {
		await sim?.close();
	});

	const options = (outDir: string, over: Partial<RunOptions> = {}): RunOptions => ({
		inputs: [mixed],
		outDir,
		convert: { ...defaultConvertOptions, thumbnailSize: 48 },
		endpoint: endpointFor(sim.url),
		simulated: true,
		workers: 2,
		...over,
	});

	const mixedOut = path.join(tmpRoot, "out-mixed");
	const mixedLog = captureLogger();

	void it("records every DICOM of a mixed folder exactly once, each with the embedding the endpoint computed for its own image", async () => {
		const client = clientFor(endpointFor(sim.url), canaryKey, mixedLog);
		const progress: RunProgress[] = [];
		const summary = await runEmbedding(options(mixedOut), { embedder: client, workerScript, logger: mixedLog, onProgress: (p) => progress.push(p) }, never);
		client.dispose();

		const images = [...expected].filter(([, e]) => e.kind === "image");
		const skipped = [...expected].filter(([, e]) => e.kind === "skipped");
		const failed = [...expected].filter(([, e]) => e.kind === "failed");
		assert.ok(images.length >= 20 && skipped.length >= 2 && failed.length >= 1, "the fixture holds images, non-image objects and broken files");
		assert.equal(summary.found, expected.size);
		assert.equal(summary.ignored, 3);
		assert.equal(summary.embedded + summary.alreadyDone, images.length);
		assert.equal(summary.alreadyDone, 1, "the identical copy is not sent");
		assert.equal(summary.skipped, skipped.length);
		assert.equal(summary.failed, failed.length);
		assert.equal(summary.cancelled, false);
		assert.equal(summary.fatal, undefined);

		const emb = readEmbeddings(mixedOut);
		const fail = readFailures(mixedOut);
		// Every DICOM exactly once across the two files.
		const all = [...emb.map((r) => r.path), ...fail.map((r) => r.path)].sort();
		assert.deepEqual(all, [...expected.keys()].sort());
		for (const r of fail) assert.equal(r.stage === "skipped" ? "skipped" : "failed", expected.get(r.path)!.kind, r.path);

		// Each stored embedding is the simulator's embedding of THAT file's own picture.
		const model = new SimulatedModel(defaultSimulatorOptions.seed);
		for (const r of emb) {
			const png = expected.get(r.path)!.png!;
			const want = model.embedImage(Buffer.from(png).toString("base64"));
			assert.equal(r.embedding.length, want.length);
			for (let i = 0; i < want.length; i++) assert.equal(Math.fround(r.embedding[i]!), want[i], `${r.path}[${i}]`);
			assert.ok(r.thumbnail && fs.readFileSync(path.join(mixedOut, r.thumbnail)).subarray(1, 4).toString() === "PNG", `${r.path} has its thumbnail`);
			assert.match(r.sha256, /^[0-9a-f]{64}$/);
		}
		// Each distinct file reached the model once: a picture is sent as often as there are distinct
		// files with that picture (several encodings of MR_small decode to the same pixels), the copy never.
		const wantSends = tally(images.filter(([p]) => p !== "b/CT_copy.dcm").map(([, e]) => imageSha(e.png!)));
		assert.deepEqual(new Map([...sim.stats.perImageSha256Counts].sort()), new Map([...wantSends].sort()));

		// Progress: recorded before reported, ends complete.
		const last = progress[progress.length - 1]!;
		assert.equal(last.discoveryDone, true);
		assert.equal(last.embedded + last.alreadyDone + last.failed + last.skipped, expected.size);
		for (const p of progress) assert.ok(p.embedded <= summary.embedded && p.elapsedMs >= 0);

		// index.csv and embeddings.npy: one row per embedded path, rows in the same order.
		const csv = fs.readFileSync(path.join(mixedOut, "index.csv"), "utf8").trim().split("\n");
		assert.equal(csv[0], "row,path,sha256,sopInstanceUid,seriesInstanceUid,studyInstanceUid,modality");
		const rows = csv.slice(1).map((l) => l.split(","));
		assert.deepEqual(rows.map((r) => r[1]).sort(), emb.map((r) => r.path).sort());
		if (havePythonNumpy()) {
			const script = "import sys, json, numpy\na = numpy.load(sys.argv[1])\nprint(json.dumps({'shape': list(a.shape), 'dtype': a.dtype.str, 'rows': [[float(x) for x in row] for row in a]}))";
			const r = spawnSync("python3", ["-c", script, path.join(mixedOut, "embeddings.npy")], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
			assert.equal(r.status, 0, r.stderr);
			const npy = JSON.parse(r.stdout) as { shape: number[]; dtype: string; rows: number[][] };
			assert.deepEqual(npy.shape, [emb.length, 1024]);
			assert.equal(npy.dtype, "<f4");
			for (const [i, row] of rows.entries()) {
				const png = expected.get(row[1]!)!.png!;
				assert.deepEqual(npy.rows[i], Array.from(model.embedImage(Buffer.from(png).toString("base64"))), `npy row ${i} is ${row[1]}`);
			}
		}

		// run.json: settings and counts, and nowhere (outputs or logs) the key.
		const run = JSON.parse(fs.readFileSync(path.join(mixedOut, "run.json"), "utf8")) as Record<string, unknown> & { endpoint: Record<string, unknown>; counts: Record<string, number> };
		assert.equal(run.endpoint["url"], sim.url);
		assert.equal(run.endpoint["simulated"], true);
		assert.equal(run.endpoint["batchSize"], 4);
		assert.deepEqual(run.counts, { found: expected.size, ignored: 3, embedded: summary.embedded, alreadyDone: 1, failed: failed.length, skipped: skipped.length });
		assert.equal(typeof run["node"], "string");
		assert.equal((run["product"] as { version: string }).version, JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../../../package.json"), "utf8")).version);
		for (const { file, bytes } of allFiles(mixedOut)) assert.equal(bytes.includes(canaryKey), false, `${file} holds the key`);
		assert.ok(mixedLog.lines.length > 0);
		for (const line of mixedLog.lines) assert.equal(line.includes(canaryKey), false, `log line holds the key: ${line}`);
	});

	void it("sends nothing when run again, also after a file was touched or a torn line was left", async () => {
		const before = sim.stats.requests;
		const lines0 = readEmbeddings(mixedOut).length;
		const client = clientFor(endpointFor(sim.url), canaryKey, mixedLog);
		const again = await runEmbedding(options(mixedOut), { embedder: client, workerScript, logger: mixedLog }, never);
		assert.equal(sim.stats.requests, before, "no request on a re-run");
		assert.equal(again.embedded, 0);
		assert.equal(again.alreadyDone + again.failed + again.skipped, expected.size);
		assert.equal(readEmbeddings(mixedOut).length, lines0, "nothing appended for unchanged files");

		// Touch one file (same content, new mtime) and leave a torn line: it is read again, not sent.
		const touched = path.join(mixed, "a", "MR_small.dcm");
		const t = new Date(Date.now() + 5000);
		fs.utimesSync(touched, t, t);
		fs.appendFileSync(path.join(mixedOut, "embeddings.jsonl"), '{"path":"a/half.dcm","sha256":"ab');
		const third = await runEmbedding(options(mixedOut), { embedder: client, workerScript, logger: mixedLog }, never);
		client.dispose();
		assert.equal(sim.stats.requests, before, "a touched file with the same content is not sent");
		assert.equal(third.embedded, 0);
		const emb = readEmbeddings(mixedOut); // parses every line: the torn one is gone
		assert.equal(emb.length, lines0 + 1);
		assert.equal(emb[emb.length - 1]!.path, "a/MR_small.dcm");
		const csv = fs.readFileSync(path.join(mixedOut, "index.csv"), "utf8").trim().split("\n");
		assert.equal(csv.length - 1, lines0, "the export keeps one row per path");
	});

	void it("rides out a storm of HTTP 500 and ends with no failures", async () => {
		const storm = await startSimulator({ key: canaryKey, fault: (info) => (info.n < 10 ? "500" : undefined) });
		try {
			const input = path.join(tmpRoot, "storm-in");
			copyInto(
				input,
				pydicomFiles().filter((f) => /^(MR_small|CT_small|SC_rgb)/.test(path.basename(f))),
			);
			const out = path.join(tmpRoot, "out-storm");
			const logger = captureLogger();
			const client = clientFor(endpointFor(storm.url), canaryKey, logger);
			const summary = await runEmbedding(options(out, { inputs: [input], endpoint: endpointFor(storm.url) }), { embedder: client, workerScript, logger }, never);
			client.dispose();
			assert.ok(storm.stats.faultsInjected >= 10, "the storm happened");
			assert.equal(summary.failed, 0);
			assert.ok(summary.embedded >= 8);
			assert.equal(readFailures(out).filter((f) => f.stage !== "skipped").length, 0);
			assert.deepEqual([...tally(readEmbeddings(out).map((r) => r.path)).values()].filter((c) => c !== 1), []);
		} finally {
			await storm.close();
		}
	});

	void it("stops at once on HTTP 401 with fatal set, loses nothing, and a re-run with the right key completes", async () => {
		const input = path.join(tmpRoot, "auth-in");
		copyInto(
			input,
			pydicomFiles().filter((f) => /^(MR_small|CT_small)/.test(path.basename(f))),
		);
		const out = path.join(tmpRoot, "out-auth");
		const logger = captureLogger();
		const wrong = clientFor(endpointFor(sim.url), "wrong-key", logger);
		const stopped = await runEmbedding(options(out, { inputs: [input] }), { embedder: wrong, workerScript, logger }, never);
		wrong.dispose();
		assert.equal(stopped.fatal?.code, "unauthorized");
		assert.equal(stopped.cancelled, false);
		assert.equal(stopped.embedded, 0);
		assert.equal(readFailures(out).filter((f) => f.stage === "embed").length, 0, "no image is failed because of the key");
		assert.ok(fs.existsSync(path.join(out, "run.json")));
		assert.equal((JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { fatal?: { code: string } }).fatal?.code, "unauthorized");

		const right = clientFor(endpointFor(sim.url), canaryKey, logger);
		const done = await runEmbedding(options(out, { inputs: [input] }), { embedder: right, workerScript, logger }, never);
		right.dispose();
		assert.equal(done.fatal, undefined);
		const images = fs.readdirSync(input).length - done.failed - done.skipped;
		assert.equal(done.embedded + done.alreadyDone, images);
		assert.deepEqual([...tally(readEmbeddings(out).map((r) => r.path)).values()].filter((c) => c !== 1), []);
		assert.equal(readEmbeddings(out).length, images);
	});

	void it("cancel aborts the requests in flight instead of waiting for their answers, keeps what was done, and writes the exports", async () => {
		const slow = await startSimulator({ key: canaryKey, latencyMs: 20_000 });
		try {
			const out = path.join(tmpRoot, "out-cancel");
			const logger = captureLogger();
			const client = clientFor(endpointFor(slow.url), canaryKey, logger);
			const ac = new AbortController();
			const run = runEmbedding(options(out, { endpoint: endpointFor(slow.url) }), { embedder: client, workerScript, logger }, ac.signal);
			const deadline = Date.now() + 15_000;
			while (slow.stats.inFlight === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
			assert.ok(slow.stats.inFlight > 0, "a request is in flight");
			ac.abort();
			const summary = await run;
			// Every answer takes 20 s: a run that resolved before the first one was delivered did not wait for them.
			const answered = slow.stats.rows;
			client.dispose();
			assert.equal(answered, 0, "the run waited for an answer of the slow endpoint");
			assert.equal(summary.cancelled, true);
			assert.equal(summary.embedded, 0);
			assert.ok(fs.existsSync(path.join(out, "embeddings.npy")));
			assert.equal((JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { cancelled: boolean }).cancelled, true);
			assert.equal(fs.existsSync(path.join(out, ".run.lock")), false);
		} finally {
			await slow.close();
		}
	});

	void it("retries only the failed files when asked, and they end embedded exactly once", async () => {
		const input = path.join(tmpRoot, "retry-in");
		const files = pydicomFiles().filter((f) => /^(MR_small|CT_small|SC_rgb_small)/.test(path.basename(f)));
		copyInto(input, files);
		const victim = await convertDirect(path.join(input, "CT_small.dcm"));
		assert.equal(victim.kind, "image");
		const victimSha = victim.kind === "image" ? imageSha(victim.png) : "";
		let poison = true;
		const flaky = await startSimulator({ key: canaryKey, fault: (info) => (poison && info.imageSha256.includes(victimSha) ? "nan" : undefined) });
		try {
			const out = path.join(tmpRoot, "out-retry");
			const logger = captureLogger();
			const endpoint = endpointFor(flaky.url, { retries: 2 });
			const client = clientFor(endpoint, canaryKey, logger);
			const first = await runEmbedding(options(out, { inputs: [input], endpoint }), { embedder: client, workerScript, logger }, never);
			assert.equal(first.failed, 1);
			const failure = readFailures(out).find((f) => f.stage === "embed");
			assert.equal(failure?.path, "CT_small.dcm");
			assert.ok(failure.error.length > 0);

			poison = false;
			const rowsBefore = flaky.stats.rows;
			const retry = await runEmbedding(options(out, { inputs: [input], endpoint, retryFailedOnly: true }), { embedder: client, workerScript, logger }, never);
			client.dispose();
			assert.equal(retry.found, 1);
			assert.equal(retry.embedded, 1);
			assert.equal(flaky.stats.rows - rowsBefore, 1, "only the failed image was sent");
			const emb = readEmbeddings(out);
			assert.equal(emb.filter((r) => r.path === "CT_small.dcm").length, 1);
			assert.deepEqual([...tally(emb.map((r) => r.path)).values()].filter((c) => c !== 1), []);
		} finally {
			await flaky.close();
		}
	});

	void it("records before it reports, prefixes paths by folder with several inputs, and sends identical files once", async () => {
		const one = path.join(tmpRoot, "multi", "one");
		const two = path.join(tmpRoot, "multi", "two");
		const pick = (re: RegExp) => pydicomFiles().filter((f) => re.test(path.basename(f)));
		copyInto(one, pick(/^(MR_small\.dcm|CT_small\.dcm|SC_rgb_small_odd\.dcm)$/));
		copyInto(two, pick(/^(MR_small\.dcm|SC_ybr_full_422_uncompressed\.dcm|SC_rgb_jpeg_dcmtk\.dcm)$/));
		const loose = path.join(tmpRoot, "multi", "loose.dcm");
		fs.copyFileSync(path.join(one, "MR_small.dcm"), loose);
		const out = path.join(tmpRoot, "out-multi");
		const logger = captureLogger();
		const endpoint = endpointFor(sim.url, { batchSize: 2 });
		const client = clientFor(endpoint, canaryKey, logger);
		const rowsBefore = sim.stats.rows;
		let checked = 0;
		const summary = await runEmbedding(
			options(out, { inputs: [one, two, loose], endpoint }),
			{
				embedder: client,
				workerScript,
				logger,
				onProgress: (p) => {
					// Whatever progress says is done is already on disk.
					assert.ok(readEmbeddings(out).length >= p.embedded + p.alreadyDone, "reported before recorded");
					assert.ok(readFailures(out).length >= p.failed + p.skipped, "reported before recorded");
					checked++;
				},
			},
			never,
		);
		client.dispose();
		assert.ok(checked > 0);
		const paths = readEmbeddings(out)
			.map((r) => r.path)
			.sort();
		assert.deepEqual(paths, ["loose.dcm", "one/CT_small.dcm", "one/MR_small.dcm", "one/SC_rgb_small_odd.dcm", "two/MR_small.dcm", "two/SC_rgb_jpeg_dcmtk.dcm", "two/SC_ybr_full_422_uncompressed.dcm"]);
		assert.equal(summary.alreadyDone, 2, "two/MR_small.dcm and loose.dcm are copies of one/MR_small.dcm");
		assert.equal(sim.stats.rows - rowsBefore, 5, "each distinct file sent once");
	});

	void it("refuses bad options with a one-line error before touching anything", async () => {
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), canaryKey, logger);
		const out = path.join(tmpRoot, "out-bad");
		await assert.rejects(runEmbedding(options(out, { inputs: [] }), { embedder: client, workerScript, logger }, never), /^Error: Nothing to embed/);
		await assert.rejects(runEmbedding(options(out, { inputs: [path.join(tmpRoot, "nope")] }), { embedder: client, workerScript, logger }, never), /Input not found/);
		await assert.rejects(runEmbedding(options(out, { endpoint: endpointFor(sim.url, { batchSize: 0 }) }), { embedder: client, workerScript, logger }, never), /batch size/);
		client.dispose();
		assert.equal(fs.existsSync(out), false);
	});
});
