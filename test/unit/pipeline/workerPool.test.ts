import { sharedDicomDir } from "../helpers/sharedDicom";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { PNG } from "pngjs";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import type { FileConversion } from "../../../src/core/pipeline/types";
import { WorkerPool } from "../../../src/core/pipeline/workerPool";

const hostile = path.join(__dirname, "../../fixtures/hostileWorker.js");
const realWorker = path.join(__dirname, "../../../src/workers/convertWorker.js");
const shared = sharedDicomDir() ?? path.resolve(__dirname, "../../../../../shared/dicom");
const opts = { ...defaultConvertOptions };

function errorOf(c: FileConversion): string {
	assert.equal(c.outcome.kind, "failed", `expected a failed outcome, got ${c.outcome.kind}`);
	return c.outcome.kind === "failed" ? `${c.outcome.stage}: ${c.outcome.error}` : "";
}

async function withPool<T>(options: Partial<ConstructorParameters<typeof WorkerPool>[0]>, fn: (pool: WorkerPool) => Promise<T>): Promise<T> {
	const pool = new WorkerPool({ script: hostile, size: 1, ...options });
	try {
		return await fn(pool);
	} finally {
		await pool.dispose();
	}
}

void describe("WorkerPool with a hostile worker", () => {
	void it("delivers the PNG as a non-empty Uint8Array moved across the thread boundary", async () => {
		await withPool({ size: 2 }, async (pool) => {
			const results = await Promise.all(["/x/ok-1", "/x/ok-2", "/x/ok-3"].map((p) => pool.convertFile(p, opts)));
			for (const [i, r] of results.entries()) {
				assert.equal(r.outcome.kind, "image");
				if (r.outcome.kind !== "image") continue;
				assert.ok(r.outcome.png instanceof Uint8Array);
				assert.equal(r.outcome.png.byteLength, 64);
				assert.equal(r.outcome.png[0], 0x89);
				assert.equal(r.outcome.meta.sopInstanceUid, `ok-${i + 1}`, "each result belongs to its own request");
			}
			assert.ok(pool.workers <= 2);
		});
	});

	void it("starts no worker before the first file", async () => {
		await withPool({ size: 2 }, async (pool) => {
			assert.equal(pool.workers, 0);
			await pool.convertFile("/x/ok-1", opts);
			assert.equal(pool.workers, 1);
		});
	});

	void it("a worker that exits fails only its file; it is replaced and the others go on", async () => {
		await withPool({}, async (pool) => {
			const files = ["/x/ok-1", "/x/crash-a", "/x/ok-2", "/x/ok-3"];
			const results = await Promise.all(files.map((p) => pool.convertFile(p, opts)));
			assert.match(errorOf(results[1]!), /^decode: worker exited unexpectedly \(code 3\)/);
			for (const i of [0, 2, 3]) assert.equal(results[i]!.outcome.kind, "image", files[i]);
			// The file before and the files after the crash ran in different threads.
			assert.notEqual(results[0]!.sha256, results[2]!.sha256);
			assert.equal(pool.replacedWorkers, 1);
			assert.equal(pool.workers, 1);
		});
	});

	void it("an uncaught exception in the worker fails that file with the reason", async () => {
		await withPool({}, async (pool) => {
			const [bad, good] = await Promise.all([pool.convertFile("/x/throw-1", opts), pool.convertFile("/x/ok-1", opts)]);
			assert.match(errorOf(bad!), /worker crashed \(planted failure\)/);
			assert.equal(good!.outcome.kind, "image");
		});
	});

	void it("an exception reported by the worker fails that file and replaces the worker", async () => {
		await withPool({}, async (pool) => {
			const first = await pool.convertFile("/x/ok-1", opts);
			const bad = await pool.convertFile("/x/report-1", opts);
			const after = await pool.convertFile("/x/ok-2", opts);
			assert.match(errorOf(bad), /worker threw \(planted exception\)/);
			assert.equal(after.outcome.kind, "image");
			assert.notEqual(first.sha256, after.sha256, "a fresh thread converts the next file");
		});
	});

	void it("a malformed reply is treated as a crash", async () => {
		await withPool({}, async (pool) => {
			assert.match(errorOf(await pool.convertFile("/x/garbage-1", opts)), /unexpected message/);
			assert.equal((await pool.convertFile("/x/ok-1", opts)).outcome.kind, "image");
		});
	});

	void it("a file that runs past the timeout fails with 'timed out after N s' and the pool recovers", async () => {
		// The timeout also runs while the replacement worker boots: generous, so a loaded machine does not fail the good file.
		await withPool({ taskTimeoutMs: 3000 }, async (pool) => {
			const [hung, next] = await Promise.all([pool.convertFile("/x/hang-1", opts), pool.convertFile("/x/ok-1", opts)]);
			assert.match(errorOf(hung!), /^decode: worker timed out after 3 s/);
			assert.equal(next!.outcome.kind, "image");
			assert.equal(pool.replacedWorkers, 1);
		});
	});

	void it("a worker that runs out of memory fails its file and is replaced", async () => {
		await withPool({ maxOldGenerationSizeMb: 48 }, async (pool) => {
			const [oom, next] = await Promise.all([pool.convertFile("/x/oom-1", opts), pool.convertFile("/x/ok-1", opts)]);
			assert.match(errorOf(oom!), /^decode: worker ran out of memory \(.*memory limit.*; its heap limit is 48 MB\) while converting this file$/);
			assert.equal(next!.outcome.kind, "image");
		});
	});

	void it("abort rejects running and queued files with an AbortError at once and empties the queue", async () => {
		await withPool({ size: 1, maxQueue: 10 }, async (pool) => {
			const ac = new AbortController();
			const started = Date.now();
			const promises = ["/x/slow-5000-a", "/x/slow-5000-b", "/x/slow-5000-c"].map((p) => pool.convertFile(p, opts, ac.signal));
			assert.equal(pool.queued, 2);
			setTimeout(() => ac.abort(), 50);
			const settled = await Promise.allSettled(promises);
			for (const s of settled) {
				assert.equal(s.status, "rejected");
				if (s.status === "rejected") assert.equal((s.reason as Error).name, "AbortError");
			}
			assert.ok(Date.now() - started < 4000, "did not wait for the 5 s conversion");
			assert.equal(pool.queued, 0);
			await assert.rejects(pool.convertFile("/x/ok-1", opts, ac.signal), { name: "AbortError" });
		});
	});

	void it("never holds more than maxQueue tasks in its queue, and waitForCapacity waits for room", async () => {
		await withPool({ size: 1, maxQueue: 2 }, async (pool) => {
			let maxSeen = 0;
			const sample = setInterval(() => (maxSeen = Math.max(maxSeen, pool.queued)), 1);
			const promises: Promise<FileConversion>[] = [];
			for (let i = 0; i < 12; i++) {
				promises.push(pool.convertFile(`/x/slow-15-${i}`, opts));
				maxSeen = Math.max(maxSeen, pool.queued);
			}
			assert.equal(pool.queued, 2);
			assert.equal(pool.pending, 12);
			let roomAt = -1;
			const room = pool.waitForCapacity().then(() => (roomAt = pool.pending));
			const results = await Promise.all(promises);
			await room;
			clearInterval(sample);
			assert.ok(maxSeen <= 2, `queue held ${maxSeen}`);
			assert.ok(roomAt >= 0 && roomAt <= 3, `room came when ${roomAt} were pending`);
			assert.deepEqual(
				results.map((r) => (r.outcome.kind === "image" ? r.outcome.meta.sopInstanceUid : "?")),
				Array.from({ length: 12 }, (_, i) => `slow-15-${i}`),
			);
		});
	});

	void it("rejects after dispose and refuses a missing worker script with a clear error", async () => {
		const pool = new WorkerPool({ script: hostile, size: 1 });
		const slow = pool.convertFile("/x/slow-3000-a", opts);
		const queued = pool.convertFile("/x/ok-1", opts);
		const rejected = Promise.all([assert.rejects(slow, /disposed/), assert.rejects(queued, /disposed/)]);
		await pool.dispose();
		await rejected;
		await assert.rejects(pool.convertFile("/x/ok-2", opts), /disposed/);
		assert.throws(() => new WorkerPool({ script: "/nonexistent/worker.js" }), /worker script not found: \/nonexistent\/worker\.js/);
	});
});

interface ManifestEntry {
	path: string;
	sha256_file: string;
	reference: { ok: boolean; shape?: number[] };
}

void describe("WorkerPool with the real conversion worker", () => {
	const haveShared = existsSync(path.join(shared, "reference/manifest.json"));
	if (!haveShared) console.log(`\n!!! SKIPPING real-file worker pool tests: ${shared} is missing !!!\n`);

	void it("converts the real files of ../shared/dicom: right hash, right size, no crash", { skip: !haveShared }, async () => {
		const manifest = JSON.parse(readFileSync(path.join(shared, "reference/manifest.json"), "utf8")) as { files: ManifestEntry[] };
		const pool = new WorkerPool({ script: realWorker, size: 2 });
		try {
			const results = await Promise.all(manifest.files.map((f) => pool.convertFile(path.join(shared, f.path), opts)));
			let images = 0;
			for (const [i, f] of manifest.files.entries()) {
				const r = results[i]!;
				assert.equal(r.sha256, f.sha256_file, `${f.path}: sha256 of the file`);
				if (r.outcome.kind === "failed") assert.doesNotMatch(r.outcome.error, /worker (crashed|timed out|exited|threw)/, f.path);
				if (r.outcome.kind !== "image" || !f.reference.ok || !f.reference.shape) continue;
				images++;
				const png = PNG.sync.read(Buffer.from(r.outcome.png));
				assert.deepEqual([png.height, png.width], f.reference.shape.slice(0, 2), `${f.path}: PNG size`);
				assert.equal(r.outcome.width, png.width);
			}
			assert.ok(images >= manifest.files.filter((f) => f.reference.ok).length / 2, `only ${images} images converted`);
		} finally {
			await pool.dispose();
		}
	});

	void it("a file that cannot be read fails at stage read, not as a crash", async () => {
		const pool = new WorkerPool({ script: realWorker, size: 1 });
		try {
			const r = await pool.convertFile("/nonexistent/file.dcm", opts);
			assert.match(errorOf(r), /^read: .*ENOENT/);
			assert.equal(r.sha256, undefined);
		} finally {
			await pool.dispose();
		}
	});
});

