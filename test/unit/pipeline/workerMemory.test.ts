// The memory budget with the real conversion worker and real files written by the project's writer:
// an image over the per-conversion budget fails before decoding, and a file built to exhaust the
// JS heap (millions of elements) fails before parsing; the other files convert and the worker lives
// on. (A worker that does run out of heap is replaced: workerPool.test.ts, with a planted worker.)
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import type { FileConversion } from "../../../src/core/pipeline/types";
import { WorkerPool } from "../../../src/core/pipeline/workerPool";
import { manyElements } from "../helpers/hostileDicom";

const realWorker = path.join(__dirname, "../../../src/workers/convertWorker.js");
let dir = "";
before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-wmem-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function put(name: string, bytes: Uint8Array): string {
	const file = path.join(dir, name);
	fs.writeFileSync(file, bytes);
	return file;
}

const small = (i: number) => writeDicom({ rows: 32, columns: 32, bitsAllocated: 16, pixels: Array.from({ length: 1024 }, (_, k) => (k * (i + 3)) % 977) });

function errorOf(c: FileConversion): string {
	assert.equal(c.outcome.kind, "failed", `expected a failed outcome, got ${c.outcome.kind}`);
	return c.outcome.kind === "failed" ? `${c.outcome.stage}: ${c.outcome.error}` : "";
}

void test("an image over the worker's memory budget fails with a reason before it is decoded; the other files convert", async () => {
	const files = [put("a.dcm", small(1)), put("huge.dcm", writeDicom({ rows: 1024, columns: 1024, bitsAllocated: 16, pixels: new Uint16Array(1024 * 1024) })), put("b.dcm", small(2))];
	const pool = new WorkerPool({ script: realWorker, size: 1, memoryBudgetMb: 8 });
	try {
		const [a, huge, b] = await Promise.all(files.map((f) => pool.convertFile(f, defaultConvertOptions)));
		assert.match(errorOf(huge!), /^decode: converting this 1024×1024 image needs about \d+ MB, over the memory budget of 8 MB per conversion worker$/);
		assert.equal(a!.outcome.kind, "image");
		assert.equal(b!.outcome.kind, "image");
		assert.equal(pool.replacedWorkers, 0, "refused before allocating: the worker did not die");
	} finally {
		await pool.dispose();
	}
});

void test("a file of millions of tiny elements (a JS-heap hog) fails with a reason before parsing; only that file; the worker lives on", async () => {
	const hog = put("hog.dcm", manyElements(1_100_000, { rows: 8, columns: 8, bitsAllocated: 8, pixels: new Array(64).fill(1) }));
	const files = [put("a.dcm", small(1)), hog, put("b.dcm", small(2)), put("c.dcm", small(3))];
	const pool = new WorkerPool({ script: realWorker, size: 1 });
	try {
		const results = await Promise.all(files.map((f) => pool.convertFile(f, defaultConvertOptions)));
		assert.match(errorOf(results[1]!), /^parse: the data set holds more than 1,000,000 elements, items and fragments, more than any image header needs; refused before parsing/);
		for (const i of [0, 2, 3]) assert.equal(results[i]!.outcome.kind, "image", files[i]);
		assert.equal(pool.replacedWorkers, 0, "refused before it could exhaust the heap (a worker dying of a large allocation can abort the process)");
	} finally {
		await pool.dispose();
	}
});
