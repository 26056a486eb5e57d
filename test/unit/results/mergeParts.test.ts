/**
 * mergeParts: the final files of a distributed run from its workers' parts, written by the real
 * ResultsStore (as the workers write them), read back by the results view's reader and numpy's
 * layout. Expectations are written out by hand from the records each part was given.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { mergeParts, listParts } from "../../../src/core/results/mergeParts";
import { readResults } from "../../../src/core/results/reader";
import { ResultsStore } from "../../../src/core/results/store";
import type { EmbeddingRecord, FailureRecord } from "../../../src/core/results/types";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-merge-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const config = "c".repeat(64);

function emb(p: string, values: number[], time: string, extra: Partial<EmbeddingRecord> = {}): EmbeddingRecord {
	return {
		path: p,
		sha256: p.replace(/[^a-z0-9]/gi, "").padEnd(64, "0").slice(0, 64),
		sopInstanceUid: `1.2.${p.length}`,
		seriesInstanceUid: "1.2",
		studyInstanceUid: "1",
		modality: "CT",
		key: `key-${p}`,
		time,
		config,
		...extra,
		embedding: values,
	};
}

function fail(p: string, stage: string, error: string, time: string, extra: Partial<FailureRecord> = {}): FailureRecord {
	return { path: p, stage, error, time, config, ...extra };
}

async function writePart(dir: string, records: { embeddings?: EmbeddingRecord[]; failures?: FailureRecord[] }, thumbnails: Record<string, Uint8Array> = {}): Promise<void> {
	const store = await ResultsStore.open(dir, { config });
	try {
		for (const [sha, png] of Object.entries(thumbnails)) await store.saveThumbnail(sha, png);
		await store.append(records);
	} finally {
		await store.close();
	}
}

function jsonl(file: string): Record<string, unknown>[] {
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.trim())
		.map((l) => JSON.parse(l) as Record<string, unknown>);
}

function npyRows(file: string): { rows: number; dim: number; values: Float32Array } {
	const buf = fs.readFileSync(file);
	const headerLen = buf.readUInt16LE(8);
	const m = /'shape': \((\d+), (\d+)\)/.exec(buf.toString("latin1", 10, 10 + headerLen));
	assert.ok(m, "npy header has a 2-D shape");
	const data = buf.subarray(10 + headerLen);
	return { rows: Number(m[1]), dim: Number(m[2]), values: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

void describe("mergeParts", () => {
	void it("keeps one embedding per path (the latest), drops failures superseded by an embedding, keeps skips", async () => {
		const out = path.join(tmpRoot, "a");
		// An earlier local run in the folder itself: x.dcm embedded, y.dcm failed.
		await writePart(out, {
			embeddings: [emb("x.dcm", [1, 0, 0], "2026-01-01T00:00:00.000Z")],
			failures: [fail("y.dcm", "embed", "HTTP 500", "2026-01-01T00:00:01.000Z")],
		});
		const thumbA = Buffer.from("PNG-of-b");
		// Worker A: embedded b.dcm (with a thumbnail) and y.dcm (the earlier failure is superseded); c.dcm failed.
		await writePart(
			path.join(out, "parts", "worker-a"),
			{
				embeddings: [emb("b.dcm", [0, 1, 0], "2026-01-02T00:00:00.000Z", { thumbnail: `thumbnails/${"b".repeat(20)}.png` }), emb("y.dcm", [0, 0, 1], "2026-01-02T00:00:01.000Z")],
				failures: [fail("c.dcm", "embed", "HTTP 503 for too long", "2026-01-02T00:00:02.000Z")],
			},
			{ ["b".repeat(20)]: thumbA },
		);
		// Worker B got b.dcm again (a stalled job run twice): a later record of the same path wins; c.dcm
		// embedded after its failure in A; s.dcm is no image (skipped); d.dcm failed for good.
		await writePart(path.join(out, "parts", "worker-b"), {
			embeddings: [emb("b.dcm", [0, 2, 0], "2026-01-02T00:00:05.000Z"), emb("c.dcm", [3, 3, 3], "2026-01-02T00:00:06.000Z")],
			failures: [fail("s.dcm", "skipped", "no pixel data (a structured report)", "2026-01-02T00:00:03.000Z"), fail("d.dcm", "decode", "truncated pixel data", "2026-01-02T00:00:04.000Z")],
		});
		assert.deepEqual(await listParts(out), ["worker-a", "worker-b"]);

		const r = await mergeParts(out);
		assert.equal(r.embedded, 4);
		assert.equal(r.failed, 1);
		assert.equal(r.skipped, 1);
		assert.equal(r.duplicates, 1);
		assert.equal(r.supersededFailures, 2);
		assert.deepEqual(r.parts, [
			{ id: "worker-a", embedded: 1, failed: 0, skipped: 0 },
			{ id: "worker-b", embedded: 2, failed: 1, skipped: 1 },
		]);

		const embeddings = jsonl(path.join(out, "embeddings.jsonl"));
		assert.deepEqual(
			embeddings.map((e) => [e["path"], e["embedding"]]),
			[
				["x.dcm", [1, 0, 0]],
				["y.dcm", [0, 0, 1]],
				["b.dcm", [0, 2, 0]],
				["c.dcm", [3, 3, 3]],
			],
		);
		const failures = jsonl(path.join(out, "failures.jsonl"));
		assert.deepEqual(
			failures.map((f) => [f["path"], f["stage"]]),
			[
				["s.dcm", "skipped"],
				["d.dcm", "decode"],
			],
		);
		const npy = npyRows(path.join(out, "embeddings.npy"));
		assert.equal(npy.rows, 4);
		assert.equal(npy.dim, 3);
		assert.deepEqual(Array.from(npy.values), [1, 0, 0, 0, 0, 1, 0, 2, 0, 3, 3, 3]);
		const index = fs.readFileSync(path.join(out, "index.csv"), "utf8").trim().split("\n");
		assert.deepEqual(
			index.slice(1).map((l) => l.split(",").slice(0, 2).join(",")),
			["0,x.dcm", "1,y.dcm", "2,b.dcm", "3,c.dcm"],
		);

		// The results view reads the merged folder like a local run's.
		const model = await readResults(out);
		assert.deepEqual(model.rows.map((row) => row.path).sort(), ["b.dcm", "c.dcm", "x.dcm", "y.dcm"]);
		assert.deepEqual(model.failures.map((f) => f.path).sort(), ["d.dcm", "s.dcm"]);
		assert.equal(model.problems.length, 0);
	});

	void it("copies a part's thumbnail into the folder and drops a thumbnail the part does not have", async () => {
		const out = path.join(tmpRoot, "thumbs");
		const png = Buffer.from("a thumbnail");
		await writePart(
			path.join(out, "parts", "w1"),
			{
				embeddings: [
					emb("t.dcm", [1, 2], "2026-01-02T00:00:00.000Z", { thumbnail: `thumbnails/${"t".repeat(20)}.png` }),
					emb("u.dcm", [2, 1], "2026-01-02T00:00:00.000Z", { thumbnail: `thumbnails/${"u".repeat(20)}.png` }),
					emb("v.dcm", [2, 2], "2026-01-02T00:00:00.000Z", { thumbnail: "../../../etc/passwd" }),
				],
			},
			{ ["t".repeat(20)]: png },
		);
		await mergeParts(out);
		const byPath = new Map(jsonl(path.join(out, "embeddings.jsonl")).map((e) => [e["path"], e]));
		assert.equal(byPath.get("t.dcm")?.["thumbnail"], `thumbnails/${"t".repeat(20)}.png`);
		assert.deepEqual(fs.readFileSync(path.join(out, "thumbnails", `${"t".repeat(20)}.png`)), png);
		assert.equal(byPath.get("u.dcm")?.["thumbnail"], undefined);
		assert.equal(byPath.get("v.dcm")?.["thumbnail"], undefined);
		assert.deepEqual(byPath.get("u.dcm")?.["embedding"], [2, 1]);
	});

	void it("is idempotent: merging again gives the same files, also after a part grew", async () => {
		const out = path.join(tmpRoot, "again");
		await writePart(path.join(out, "parts", "p"), { embeddings: [emb("a.dcm", [0.1, 0.2], "2026-01-02T00:00:00.000Z"), emb("b.dcm", [0.3, 0.4], "2026-01-02T00:00:01.000Z")] });
		await mergeParts(out);
		const first = ["embeddings.jsonl", "failures.jsonl", "embeddings.npy", "index.csv"].map((f) => fs.readFileSync(path.join(out, f)));
		await mergeParts(out);
		const second = ["embeddings.jsonl", "failures.jsonl", "embeddings.npy", "index.csv"].map((f) => fs.readFileSync(path.join(out, f)));
		assert.deepEqual(second, first);

		await writePart(path.join(out, "parts", "q"), { embeddings: [emb("c.dcm", [0.5, 0.6], "2026-01-03T00:00:00.000Z")], failures: [fail("a.dcm", "embed", "later failure, same settings", "2026-01-04T00:00:00.000Z")] });
		const r = await mergeParts(out);
		assert.equal(r.embedded, 3);
		// a.dcm stays embedded: a failure of the same image with the same settings does not undo it.
		assert.equal(r.failed, 0);
		assert.deepEqual(
			jsonl(path.join(out, "embeddings.jsonl")).map((e) => e["path"]),
			["a.dcm", "b.dcm", "c.dcm"],
		);
	});

	void it("records an image whose vector has another length than the others as failed, with the reason", async () => {
		const out = path.join(tmpRoot, "dims");
		await writePart(path.join(out, "parts", "a"), { embeddings: [emb("a.dcm", [1, 2, 3], "2026-01-02T00:00:00.000Z"), emb("b.dcm", [4, 5, 6], "2026-01-02T00:00:01.000Z")] });
		await writePart(path.join(out, "parts", "b"), { embeddings: [emb("c.dcm", [7, 8], "2026-01-02T00:00:02.000Z")] });
		const r = await mergeParts(out);
		assert.equal(r.embedded, 2);
		assert.equal(r.failed, 1);
		assert.equal(r.duplicates, 0);
		assert.deepEqual(jsonl(path.join(out, "embeddings.jsonl")).map((e) => e["path"]), ["a.dcm", "b.dcm"]);
		const failures = jsonl(path.join(out, "failures.jsonl"));
		assert.deepEqual(failures.map((f) => [f["path"], f["stage"], f["error"]]), [["c.dcm", "embed", "the endpoint returned a vector of 2 numbers, expected 3 like the other images of this folder"]]);
		assert.equal(failures[0]!["key"], "key-c.dcm");
		const npy = npyRows(path.join(out, "embeddings.npy"));
		assert.deepEqual([npy.rows, npy.dim], [2, 3]);
	});

	void it("keeps a failure recorded after an embedding made with other settings (as the results view shows it)", async () => {
		const out = path.join(tmpRoot, "other-config");
		await writePart(out, { embeddings: [emb("a.dcm", [1, 1], "2026-01-01T00:00:00.000Z", { config: "o".repeat(64) })] });
		await writePart(path.join(out, "parts", "p"), { failures: [fail("a.dcm", "embed", "HTTP 401", "2026-01-02T00:00:00.000Z")] });
		const r = await mergeParts(out);
		assert.equal(r.embedded, 1);
		assert.equal(r.failed, 1);
	});

	void it("writes run.json with the merged counts and the parts when given the run's information, and refuses while another process holds the folder", async () => {
		const out = path.join(tmpRoot, "runjson");
		await writePart(path.join(out, "parts", "w"), { embeddings: [emb("a.dcm", [1], "2026-01-02T00:00:00.000Z")], failures: [fail("b.dcm", "decode", "bad", "2026-01-02T00:00:00.000Z")] });
		const info = {
			startedAt: "2026-01-02T00:00:00.000Z",
			endedAt: "2026-01-02T00:01:00.000Z",
			durationMs: 60000,
			imagesPerSecond: 0.02,
			inputs: ["/data"],
			outDir: out,
			retryFailedOnly: false,
			workers: 1,
			endpoint: { url: "http://127.0.0.1:1/score", simulated: false, batchSize: 10, maxConcurrentRequests: 3, rateLimit: { calls: 60, periodSeconds: 60 }, retries: 8, minRetryDelayMs: 2000, maxRetryDelayMs: 60000, requestTimeoutMs: 90000, maxPayloadBytes: 1, maxPauseMs: 1 },
			convert: { pngCompressionLevel: 6, thumbnailSize: 128, maxPixels: 1, grayscalePng: true },
			config,
			counts: { found: 2, ignored: 5, alreadyDone: 0 },
			cancelled: false,
			queue: { runId: "r1", queue: "redis://127.0.0.1:6379", jobs: 1 },
		};
		await mergeParts(out, { run: info });
		const run = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as Record<string, unknown>;
		assert.deepEqual(run["counts"], { found: 2, ignored: 5, alreadyDone: 0, embedded: 1, failed: 1, skipped: 0 });
		assert.deepEqual(run["queue"], { runId: "r1", queue: "redis://127.0.0.1:6379", jobs: 1, parts: [{ id: "w", embedded: 1, failed: 1, skipped: 0 }] });
		assert.deepEqual(run["exports"], { rows: 1, dim: 1 });

		// A local run holding the folder: the merge is refused, nothing is rewritten.
		const store = await ResultsStore.open(out, { config });
		try {
			await assert.rejects(mergeParts(out), /another run is writing there/);
		} finally {
			await store.close();
		}
	});
});
