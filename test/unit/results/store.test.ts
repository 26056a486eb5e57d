import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { readRetryPaths } from "../../../src/core/results/retryList";
import { ResumeKeys } from "../../../src/core/results/resumeKey";
import { ResultsStore, serializeEmbeddingRecord } from "../../../src/core/results/store";
import type { EmbeddingRecord, FailureRecord } from "../../../src/core/results/types";
import { defaultConvertOptions } from "../../../src/core/dicom/types";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-store-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(tmpRoot, `out${n++}`);

/** A float32 vector with values that need all 9 significant digits. */
function vector(seed: number, dim = 16): Float32Array {
	const v = new Float32Array(dim);
	for (let i = 0; i < dim; i++) v[i] = Math.sin(seed * 7.13 + i * 1.37) / 3 + 1e-7 * i;
	return v;
}

function record(i: number, config: string, extra: Partial<EmbeddingRecord> = {}): EmbeddingRecord {
	return {
		path: `dir/file${i}.dcm`,
		sha256: (i.toString(16).padStart(2, "0") + "ab").repeat(16),
		sopInstanceUid: `1.2.3.${i}`,
		seriesInstanceUid: "1.2.3",
		studyInstanceUid: "1.2",
		modality: "CT",
		embedding: Array.from(vector(i)),
		key: `key${i}x`.padEnd(64, "0"),
		time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
		size: 1000 + i,
		mtimeMs: 1_700_000_000_000 + i,
		config,
		...extra,
	};
}

function lines(file: string): string[] {
	return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
}

void describe("results store", () => {
	const config = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:1/score" }).config;

	void it("writes each record as one line with the embedding last, exact to float32", () => {
		const r = record(3, config);
		const line = serializeEmbeddingRecord(r);
		assert.ok(line.endsWith("]}\n"));
		assert.ok(line.indexOf('"embedding":[') > line.indexOf('"config":'), "embedding is the last field");
		const back = JSON.parse(line) as EmbeddingRecord;
		const original = vector(3);
		assert.equal(back.embedding.length, original.length);
		for (let i = 0; i < original.length; i++) assert.equal(Math.fround(back.embedding[i]!), original[i]);
		assert.equal(back.path, r.path);
		assert.equal(back.key, r.key);

		const edge = Float32Array.from([0, -0.5, 1, 1.17549435e-38, 1.4e-45, -3.4028235e38, 123456.789, 1e-7]);
		const edgeBack = JSON.parse(serializeEmbeddingRecord({ ...r, embedding: Array.from(edge) })) as EmbeddingRecord;
		assert.deepEqual(edgeBack.embedding.map(Math.fround), Array.from(edge));
		assert.throws(() => serializeEmbeddingRecord({ ...r, embedding: [0, Number.NaN] }), /not a finite number/);
	});

	void it("keeps appended records across a reopen and answers resume questions from them", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		await store.append({ embeddings: [record(1, config), record(2, config)] });
		await store.append({ failures: [{ path: "dir/sr.dcm", stage: "skipped", error: "holds no image (SR)", time: new Date().toISOString(), size: 77, mtimeMs: 5, config }] });
		await store.close();

		const again = await ResultsStore.open(dir, { config });
		assert.deepEqual(again.loaded, { embeddings: 2, failures: 1, torn: 0, corrupt: 0 });
		assert.equal(again.statusOf("dir/file1.dcm", 1001, 1_700_000_000_001), "embedded");
		assert.equal(again.statusOf("dir/file1.dcm", 1002, 1_700_000_000_001), undefined, "another size is another file");
		assert.equal(again.statusOf("dir/file1.dcm", 1001, 1_700_000_000_002), undefined, "another mtime is another file");
		assert.equal(again.statusOf("dir/sr.dcm", 77, 5), "skipped");
		assert.equal(again.hasKey(record(2, config).key), true);
		assert.equal(again.hasKey("f".repeat(64)), false);
		const back = await again.readByKey(record(2, config).key);
		assert.ok(back);
		assert.equal(back.path, "dir/file2.dcm");
		const original = vector(2);
		for (let i = 0; i < original.length; i++) assert.equal(Math.fround(back.embedding[i]!), original[i]);
		await again.close();
	});

	void it("does not count records made with other settings or another endpoint as done", async () => {
		const dir = freshDir();
		const other = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:2/score" }).config;
		assert.notEqual(other, config);
		const store = await ResultsStore.open(dir, { config: other });
		await store.append({ embeddings: [record(1, other)] });
		await store.close();
		const again = await ResultsStore.open(dir, { config });
		assert.equal(again.statusOf("dir/file1.dcm", 1001, 1_700_000_000_001), undefined);
		assert.equal(again.hasKey(record(1, other).key), false);
		await again.close();
	});

	void it("cuts off a last line torn by a crash and appends cleanly after it", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		await store.append({ embeddings: [record(1, config), record(2, config)] });
		await store.close();
		const file = path.join(dir, "embeddings.jsonl");
		const torn = serializeEmbeddingRecord(record(3, config));
		fs.appendFileSync(file, torn.slice(0, Math.floor(torn.length / 2)));
		fs.appendFileSync(path.join(dir, "failures.jsonl"), '{"path":"x.dcm","stage":"par');

		const warnings: string[] = [];
		const logger = { trace() {}, debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
		const again = await ResultsStore.open(dir, { config, logger });
		assert.equal(again.loaded.torn, 2);
		assert.equal(again.loaded.embeddings, 2);
		assert.equal(again.hasKey(record(3, config).key), false, "the torn record is not done");
		assert.ok(warnings.some((w) => w.includes("incomplete last line")));
		await again.append({ embeddings: [record(4, config)] });
		await again.close();
		const all = lines(file).map((l) => JSON.parse(l) as EmbeddingRecord);
		assert.deepEqual(
			all.map((r) => r.path),
			["dir/file1.dcm", "dir/file2.dcm", "dir/file4.dcm"],
		);
		assert.equal(fs.readFileSync(path.join(dir, "failures.jsonl"), "utf8"), "");
	});

	void it("writes concurrent appends completely, each record on its own line (group commit)", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		const jobs: Promise<void>[] = [];
		for (let i = 0; i < 300; i++) {
			if (i % 3 === 0) jobs.push(store.append({ failures: [{ path: `f${i}.dcm`, stage: "decode", error: "bad", time: "t" }] }));
			else jobs.push(store.append({ embeddings: [record(i, config, { key: `k${i}x`.padEnd(64, "1") })] }));
		}
		await Promise.all(jobs);
		for (let i = 0; i < 300; i++) if (i % 3 !== 0) assert.equal(store.hasKey(`k${i}x`.padEnd(64, "1")), true);
		const spot = await store.readByKey("k151x".padEnd(64, "1"));
		assert.equal(spot?.path, "dir/file151.dcm");
		await store.close();
		const emb = lines(path.join(dir, "embeddings.jsonl")).map((l) => JSON.parse(l) as EmbeddingRecord);
		const fail = lines(path.join(dir, "failures.jsonl")).map((l) => JSON.parse(l) as FailureRecord);
		assert.equal(emb.length, 200);
		assert.equal(fail.length, 100);
		assert.equal(new Set(emb.map((r) => r.key)).size, 200);
	});

	void it("refuses a second writer on the same folder and takes over a lock left by a dead process", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		await assert.rejects(ResultsStore.open(dir, { config }), /Another run is writing to/);
		await store.close();

		// A lock file naming a process that has exited (a run killed by SIGKILL leaves one).
		const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
		const deadPid = Number(child.stdout);
		assert.ok(deadPid > 0);
		fs.writeFileSync(path.join(dir, ".run.lock"), `${deadPid}\n`);
		const again = await ResultsStore.open(dir, { config });
		await again.close();
		assert.equal(fs.existsSync(path.join(dir, ".run.lock")), false, "the lock is released on close");
	});

	void it("saves thumbnails under thumbnails/ named by the file hash", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
		const rel = await store.saveThumbnail("0123456789abcdef0123456789abcdef", png);
		await store.close();
		assert.match(rel, /^thumbnails\/0123456789abcdef[0-9a-f]*\.png$/);
		assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(dir, rel))), png);
	});

	void it("lists for retry the files whose latest outcome is a failure, not the skipped or since embedded ones", async () => {
		const dir = freshDir();
		const store = await ResultsStore.open(dir, { config });
		const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
		await store.append({
			failures: [
				{ path: "dir/file1.dcm", stage: "embed", error: "HTTP 500", time: t(1) },
				{ path: "still-bad.dcm", stage: "decode", error: "bad", time: t(1) },
				{ path: "sr.dcm", stage: "skipped", error: "no image", time: t(1) },
				{ path: "later-skipped.dcm", stage: "parse", error: "bad", time: t(1) },
				{ path: "later-skipped.dcm", stage: "skipped", error: "no image", time: t(2) },
				{ path: "dir/file9.dcm", stage: "embed", error: "HTTP 500", time: t(20) },
			],
		});
		await store.append({ embeddings: [record(1, config, { time: t(5) }), record(9, config, { time: t(9) })] });
		await store.close();
		const retry = await readRetryPaths(dir);
		assert.deepEqual([...retry].sort(), ["dir/file9.dcm", "still-bad.dcm"]);
	});
});
