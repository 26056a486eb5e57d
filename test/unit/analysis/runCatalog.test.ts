/** What the Runs view reads of an output folder, and what Delete Results removes, on folders written here. */
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deleteRunOutputs, describeRun, isRunFolder } from "../../../src/core/analysis/runCatalog";

const dirs: string[] = [];
function folder(files: Record<string, string>): string {
	const d = fs.mkdtempSync(path.join(os.tmpdir(), "mii-catalog-"));
	dirs.push(d);
	for (const [name, text] of Object.entries(files)) {
		fs.mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
		fs.writeFileSync(path.join(d, name), text);
	}
	return d;
}
afterEach(() => {
	for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const runJson = (extra: object) =>
	JSON.stringify({ product: { name: "medimageinsight-vscode", version: "0.1.0" }, inputs: ["/data"], startedAt: "2026-11-01T10:00:00.000Z", endedAt: "2026-11-01T10:01:00.000Z", endpoint: { url: "https://x.westeurope.inference.ml.azure.com/score", simulated: false }, counts: { embedded: 3, alreadyDone: 2, failed: 1, skipped: 0, ignored: 4 }, cancelled: false, ...extra });

void test("index.csv and failures.jsonl give the counts when they are current; a failure embedded later does not count", async () => {
	const d = folder({
		"embeddings.jsonl": "{}\n",
		"index.csv": 'row,path,sha256\n0,a.dcm,x\n1,"b,1.dcm",y\n',
		"failures.jsonl": ['{"path":"b,1.dcm","stage":"decode"}', '{"path":"c.dcm","stage":"embed"}', '{"path":"r.dcm","stage":"skipped"}', "{trunc"].join("\n"),
		"run.json": runJson({}),
	});
	// index.csv newer than embeddings.jsonl, run.json last.
	fs.utimesSync(path.join(d, "embeddings.jsonl"), new Date(1000_000), new Date(1000_000));
	const e = await describeRun(d);
	assert.ok(e);
	assert.deepEqual([e.embedded, e.failed, e.skipped, e.ignored], [2, 1, 1, 4]);
	assert.equal(e.state, "failures");
	assert.equal(e.simulated, false);
	assert.equal(e.endpointUrl, "https://x.westeurope.inference.ml.azure.com/score");
	assert.equal(e.canRetry, true);
});

void test("without a current index.csv the counts come from run.json; cancelled and stopped runs say so", async () => {
	const cancelled = await describeRun(folder({ "run.json": runJson({ cancelled: true }) }));
	assert.deepEqual([cancelled?.embedded, cancelled?.failed, cancelled?.state], [5, 1, "cancelled"]);
	const stopped = await describeRun(folder({ "run.json": runJson({ fatal: { code: "unauthorized", message: "401 from the endpoint" } }) }));
	assert.equal(stopped?.state, "stopped");
	assert.equal(stopped?.stopReason, "401 from the endpoint");
	const clean = await describeRun(folder({ "run.json": runJson({ counts: { embedded: 3, failed: 0, skipped: 0 }, endpoint: { url: "http://127.0.0.1:9/score", simulated: true } }) }));
	assert.equal(clean?.state, "finished");
	assert.equal(clean?.simulated, true);
});

void test("a folder whose embeddings.jsonl is newer than its run.json (or has none) is incomplete; a folder with neither is not a run", async () => {
	const d = folder({ "embeddings.jsonl": "{}\n" });
	assert.equal((await describeRun(d))?.state, "incomplete");
	assert.equal(await isRunFolder(d), true);
	const other = folder({ "run.json": '{"name":"some other tool"}', "x.txt": "" });
	assert.equal(await isRunFolder(other), false);
	assert.equal(await describeRun(folder({ "x.txt": "" })), undefined);
});

void test("deleting a run's outputs keeps every other file, and removes the folder only when it is empty", async () => {
	const d = folder({ "embeddings.jsonl": "", "failures.jsonl": "", "run.json": "{}", "index.csv": "", "embeddings.npy": "", "series.csv": "", "thumbnails/a.png": "", "mine.txt": "keep" });
	const r = await deleteRunOutputs(d);
	assert.deepEqual(r, { removedFolder: false, kept: ["mine.txt"] });
	assert.deepEqual(fs.readdirSync(d), ["mine.txt"]);
	const e = folder({ "embeddings.jsonl": "", "thumbnails/b.png": "" });
	assert.equal((await deleteRunOutputs(e)).removedFolder, true);
	assert.ok(!fs.existsSync(e));
});
