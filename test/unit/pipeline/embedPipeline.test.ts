// EmbedPipeline as a queue worker uses it: one open pipeline (store, worker pool, embedder, batcher)
// and many process() calls, one after another or at the same time, each resolving with its own
// items' outcome. Real DICOM files, real worker threads, the real simulator over 127.0.0.1.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { Converter, stampWorkItem } from "../../../src/core/pipeline/converter";
import { EmbedPipeline } from "../../../src/core/pipeline/embedPipeline";
import type { RunOptions, WorkItem } from "../../../src/core/pipeline/types";
import { WorkerPool } from "../../../src/core/pipeline/workerPool";
import { startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { captureLogger, clientFor, convertDirect, copyInto, endpointFor, haveSharedDicom, imageSha, pydicomFiles, readEmbeddings, readFailures, tally, workerScript } from "./runHelpers";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-pipe-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const key = "pipeline-test-key";
const have = haveSharedDicom("EmbedPipeline");
const never = new AbortController().signal;

const file = (dir: string, name: string): WorkItem => ({ kind: "file", path: name, absPath: path.join(dir, name) });

void describe("EmbedPipeline: many process() calls on one open pipeline", { skip: !have }, () => {
	let sim: SimulatorHandle;
	const input = path.join(tmpRoot, "in");
	/** Image files of the fixture whose pictures all differ, and the sha of each picture as the simulator keys it. */
	const images: string[] = [];
	const pictureOf = new Map<string, string>();

	before(async () => {
		sim = await startSimulator({ key });
		const seen = new Set<string>();
		for (const f of pydicomFiles()) {
			const o = await convertDirect(f);
			if (o.kind !== "image") continue;
			const sha = imageSha(o.png);
			if (seen.has(sha)) continue;
			seen.add(sha);
			images.push(path.basename(f));
			pictureOf.set(path.basename(f), sha);
			if (images.length === 10) break;
		}
		copyInto(
			input,
			images.map((n) => pydicomFiles().find((f) => path.basename(f) === n)!),
		);
	});
	after(async () => {
		await sim?.close();
	});

	const options = (outDir: string, url = sim.url): RunOptions => ({
		inputs: [input],
		outDir,
		convert: { ...defaultConvertOptions, thumbnailSize: 32 },
		endpoint: endpointFor(url),
		simulated: true,
		workers: 2,
	});

	void it("resolves each call with its own items' outcome, keeps the store locked between calls, and releases it on close", async () => {
		assert.ok(images.length >= 6, "the fixture holds at least six distinct pictures");
		const out = path.join(tmpRoot, "out-twice");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const pipeline = await EmbedPipeline.open(options(out), { embedder: client, workerScript, logger });
		try {
			const first = await pipeline.process(
				images.slice(0, 3).map((n) => file(input, n)),
				never,
			);
			assert.deepEqual(first.counts, { found: 3, embedded: 3, alreadyDone: 0, failed: 0, skipped: 0, ignored: 0 });
			assert.equal(first.cancelled, false);
			assert.equal(first.fatal, undefined);
			assert.ok(fs.existsSync(path.join(out, ".run.lock")), "the store stays locked while the pipeline is open");
			// Another call: an async source this time, with a file already done and an ignored entry.
			async function* second() {
				yield { kind: "ignored" as const, absPath: path.join(input, "notes.txt") };
				for (const n of images.slice(3, 6)) yield file(input, n);
				yield file(input, images[0]!);
			}
			const requestsBefore = sim.stats.requests;
			const r2 = await pipeline.process(second(), never);
			assert.deepEqual(r2.counts, { found: 4, embedded: 3, alreadyDone: 1, failed: 0, skipped: 0, ignored: 1 });
			assert.ok(sim.stats.requests > requestsBefore);
		} finally {
			await pipeline.close();
			client.dispose();
		}
		assert.equal(fs.existsSync(path.join(out, ".run.lock")), false, "close releases the lock");
		const emb = readEmbeddings(out);
		assert.deepEqual(emb.map((r) => r.path).sort(), images.slice(0, 6).sort());
		for (const n of images.slice(0, 6)) assert.equal(sim.stats.perImageSha256Counts.get(pictureOf.get(n)!), 1, `${n} sent once`);
	});

	void it("an image whose key was done by an earlier call is copied in a later one, not sent", async () => {
		const out = path.join(tmpRoot, "out-copy");
		const copies = path.join(tmpRoot, "copies");
		copyInto(copies, [path.join(input, images[0]!)], () => "same-content.dcm");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const pipeline = await EmbedPipeline.open(options(out), { embedder: client, workerScript, logger });
		let copied;
		const sentBefore = sim.stats.perImageSha256Counts.get(pictureOf.get(images[0]!)!) ?? 0;
		try {
			const first = await pipeline.process([file(input, images[0]!)], never);
			assert.equal(first.counts.embedded, 1);
			const requests = sim.stats.requests;
			copied = await pipeline.process([{ kind: "file", path: "copies/same-content.dcm", absPath: path.join(copies, "same-content.dcm") }], never);
			assert.equal(sim.stats.requests, requests, "no request for an image already done");
		} finally {
			await pipeline.close();
			client.dispose();
		}
		assert.deepEqual(copied.counts, { found: 1, embedded: 0, alreadyDone: 1, failed: 0, skipped: 0, ignored: 0 });
		assert.equal(sim.stats.perImageSha256Counts.get(pictureOf.get(images[0]!)!), sentBefore + 1, "the picture reached the model once");
		const emb = readEmbeddings(out);
		assert.deepEqual(emb.map((r) => r.path).sort(), [images[0]!, "copies/same-content.dcm"].sort());
		assert.deepEqual(emb[0]!.embedding, emb[1]!.embedding);
		assert.equal(emb[0]!.key, emb[1]!.key);
	});

	void it("concurrent calls each resolve with their own counts; a path in both is recorded once; every picture is sent once", async () => {
		const out = path.join(tmpRoot, "out-concurrent");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const pipeline = await EmbedPipeline.open(options(out), { embedder: client, workerScript, logger });
		const shared = images[9] ?? images.at(-1)!;
		const a = images.slice(0, 5);
		const b = images.slice(5).filter((n) => n !== shared);
		const before = new Map(images.map((n) => [n, sim.stats.perImageSha256Counts.get(pictureOf.get(n)!) ?? 0]));
		let ra, rb;
		try {
			[ra, rb] = await Promise.all([pipeline.process([...a, shared].map((n) => file(input, n)), never), pipeline.process([shared, ...b].map((n) => file(input, n)), never)]);
		} finally {
			await pipeline.close();
			client.dispose();
		}
		assert.equal(ra.counts.found, a.length + 1);
		assert.equal(rb.counts.found, b.length + 1);
		assert.equal(ra.counts.failed + rb.counts.failed, 0);
		assert.equal(ra.counts.embedded + ra.counts.alreadyDone, a.length + 1);
		assert.equal(rb.counts.embedded + rb.counts.alreadyDone, b.length + 1);
		assert.equal(ra.counts.alreadyDone + rb.counts.alreadyDone, 1, "the shared path is done by one call and found done by the other");
		const emb = readEmbeddings(out);
		assert.deepEqual(
			[...tally(emb.map((r) => r.path))].filter(([, c]) => c !== 1),
			[],
			"every path recorded once",
		);
		assert.deepEqual(emb.map((r) => r.path).sort(), [...a, ...b, shared].sort());
		for (const n of new Set([...a, ...b, shared])) assert.equal(sim.stats.perImageSha256Counts.get(pictureOf.get(n)!), before.get(n)! + 1, `${n} sent once`);
	});

	void it("a file item whose file vanished, or is now a folder, ends failed with the reason", async () => {
		const out = path.join(tmpRoot, "out-vanished");
		const logger = captureLogger();
		const client = clientFor(endpointFor(sim.url), key, logger);
		const dir = path.join(tmpRoot, "was-a-file.dcm");
		fs.mkdirSync(dir);
		const pipeline = await EmbedPipeline.open(options(out), { embedder: client, workerScript, logger });
		let r;
		try {
			r = await pipeline.process(
				[{ kind: "file", path: "gone.dcm", absPath: path.join(tmpRoot, "gone.dcm") }, { kind: "file", path: "was-a-file.dcm", absPath: dir }, file(input, images[1]!)],
				never,
			);
		} finally {
			await pipeline.close();
			client.dispose();
		}
		assert.deepEqual(r.counts, { found: 3, embedded: 1, alreadyDone: 0, failed: 2, skipped: 0, ignored: 0 });
		const fail = new Map(readFailures(out).map((f) => [f.path, f]));
		assert.equal(fail.get("gone.dcm")?.stage, "read");
		assert.match(fail.get("gone.dcm")!.error, /the file is gone/);
		assert.match(fail.get("was-a-file.dcm")!.error, /no longer a regular file \(now a folder\)/);
		assert.equal(fail.get("gone.dcm")!.size, undefined, "no stamp: a re-run looks again");
		assert.deepEqual(
			r.failureReasons.map((x) => x.count),
			[1, 1],
		);
	});

	void it("cancelling one call leaves the other to finish every item; the cancelled one records each of its paths at most once", async () => {
		const slow = await startSimulator({ key, latencyMs: 400 });
		const out = path.join(tmpRoot, "out-cancel-one");
		const logger = captureLogger();
		const client = clientFor(endpointFor(slow.url), key, logger);
		const pipeline = await EmbedPipeline.open(options(out, slow.url), { embedder: client, workerScript, logger });
		const ac = new AbortController();
		const a = images.slice(0, 5);
		const b = images.slice(5);
		let ra, rb;
		try {
			const pa = pipeline.process(
				a.map((n) => file(input, n)),
				ac.signal,
			);
			const pb = pipeline.process(
				b.map((n) => file(input, n)),
				never,
			);
			const deadline = Date.now() + 60_000;
			while (slow.stats.inFlight === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
			assert.ok(slow.stats.inFlight > 0, "a request is in flight");
			ac.abort();
			[ra, rb] = await Promise.all([pa, pb]);
		} finally {
			await pipeline.close();
			client.dispose();
			await slow.close();
		}
		assert.equal(ra.cancelled, true);
		assert.equal(ra.fatal, undefined);
		assert.deepEqual(rb.counts, { found: b.length, embedded: b.length, alreadyDone: 0, failed: 0, skipped: 0, ignored: 0 });
		assert.equal(rb.cancelled, false);
		const emb = readEmbeddings(out);
		const paths = tally(emb.map((r) => r.path));
		for (const n of b) assert.equal(paths.get(n), 1, `${n} of the other call is recorded once`);
		const ofA = a.filter((n) => paths.has(n));
		assert.equal(ofA.length, ra.counts.embedded, "what the cancelled call reports embedded is what it recorded");
		for (const n of ofA) assert.equal(paths.get(n), 1);
	});

	void it("a fatal endpoint error (wrong key) stops every call running, each with the reason", async () => {
		const out = path.join(tmpRoot, "out-fatal");
		const logger = captureLogger();
		const wrong = clientFor(endpointFor(sim.url), "not-the-key", logger);
		const pipeline = await EmbedPipeline.open(options(out), { embedder: wrong, workerScript, logger });
		let ra, rb;
		try {
			[ra, rb] = await Promise.all([
				pipeline.process(
					images.slice(0, 5).map((n) => file(input, n)),
					never,
				),
				pipeline.process(
					images.slice(5).map((n) => file(input, n)),
					never,
				),
			]);
		} finally {
			await pipeline.close();
			wrong.dispose();
		}
		for (const r of [ra, rb]) {
			assert.ok(r.fatal, "stopped with a reason");
			assert.equal(r.fatal.code, ra.fatal!.code);
			assert.equal(r.cancelled, false);
			assert.equal(r.counts.embedded, 0);
		}
		assert.equal(readEmbeddings(out).length, 0);
	});

	void it("close() stops a call still running (its requests aborted, not awaited), releases the lock, and refuses further calls", async () => {
		const slow = await startSimulator({ key, latencyMs: 20_000 });
		const out = path.join(tmpRoot, "out-close");
		const logger = captureLogger();
		const client = clientFor(endpointFor(slow.url), key, logger);
		const pipeline = await EmbedPipeline.open(options(out, slow.url), { embedder: client, workerScript, logger });
		let r;
		try {
			const running = pipeline.process(
				images.slice(0, 4).map((n) => file(input, n)),
				never,
			);
			const deadline = Date.now() + 60_000;
			while (slow.stats.inFlight === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
			assert.ok(slow.stats.inFlight > 0, "a request is in flight");
			await pipeline.close();
			r = await running;
			// Every answer takes 20 s: a close that returned before one was delivered did not wait for it.
			assert.equal(slow.stats.rows, 0, "close waited for an answer of the slow endpoint");
		} finally {
			await pipeline.close();
			client.dispose();
			await slow.close();
		}
		assert.equal(r.fatal?.code, "closed");
		assert.equal(r.counts.embedded, 0);
		assert.equal(fs.existsSync(path.join(out, ".run.lock")), false);
		await assert.rejects(pipeline.process([], never), /closed/);
	});
});

void describe("Convert stage", { skip: !haveSharedDicom("Converter") }, () => {
	void it("a file that changed size between its stat and its read fails with the reason and no stamp", async () => {
		const dir = path.join(tmpRoot, "changing");
		const src = pydicomFiles().find((f) => path.basename(f) === "CT_small.dcm")!;
		copyInto(dir, [src]);
		const item: WorkItem = { kind: "file", path: "CT_small.dcm", absPath: path.join(dir, "CT_small.dcm") };
		const { stamp, failure } = await stampWorkItem(item);
		assert.equal(failure, undefined);
		assert.equal(stamp.size, fs.statSync(src).size);
		fs.appendFileSync(item.absPath, Buffer.alloc(64)); // the file changes after it was stat'ed
		const pool = new WorkerPool({ script: workerScript, size: 1 });
		try {
			const converter = new Converter(pool, defaultConvertOptions, () => {
				throw new Error("no DICOMweb here");
			});
			const r = await converter.convert(item, stamp, never);
			assert.equal(r.kind, "failed");
			assert.ok(r.kind === "failed");
			assert.equal(r.stage, "read");
			assert.match(r.error, /changed while it was read/);
			assert.equal(r.stamp?.size, undefined);
		} finally {
			await pool.dispose();
		}
	});

	void it("a skipped link is stamped with the link's own stat; a DICOMweb instance with its URL", async () => {
		const target = path.join(tmpRoot, "target.bin");
		fs.writeFileSync(target, Buffer.alloc(1000));
		const link = path.join(tmpRoot, "a-link.dcm");
		fs.symlinkSync(target, link);
		const { stamp } = await stampWorkItem({ kind: "skipped", path: "a-link.dcm", absPath: link, reason: "not followed" });
		assert.equal(stamp.size, fs.lstatSync(link).size);
		assert.notEqual(stamp.size, 1000);
		const ref = { base: "http://127.0.0.1:1/dicom-web", studyUid: "1.2", seriesUid: "1.2.3", sopInstanceUid: "1.2.3.4", path: "1.2/1.2.3/1.2.3.4" };
		const remote = await stampWorkItem({ kind: "dicomweb", path: ref.path, ref });
		assert.equal(remote.stamp.absPath, "http://127.0.0.1:1/dicom-web/studies/1.2/series/1.2.3/instances/1.2.3.4");
		assert.equal(remote.stamp.sourceUrl, ref.base);
	});
});
