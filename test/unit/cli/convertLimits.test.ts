// `medimageinsight convert` with --max-file-mb and the min–max window, on files written by the
// project's writer, through the built CLI (dist/cli.js).
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { writeDicom } from "../../../src/devtools/dicomWriter";

const repo = path.join(__dirname, "../../../..");
const cli = path.join(repo, "dist/cli.js");
let tmp = "";
before(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-cli-limits-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { code: number | null; stderr: string } {
	const r = spawnSync(process.execPath, [cli, ...args], { cwd: repo, env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir() }, encoding: "utf8", timeout: 120_000 });
	return { code: r.status, stderr: r.stderr };
}

function lines(file: string): Record<string, unknown>[] {
	return fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

void test("convert --max-file-mb refuses a larger file with its reason; a collapsed window is counted and listed", () => {
	const input = path.join(tmp, "in");
	fs.mkdirSync(input);
	fs.writeFileSync(path.join(input, "big.dcm"), writeDicom({ rows: 1024, columns: 1024, bitsAllocated: 16, pixels: new Uint16Array(1024 * 1024).fill(3) }));
	const collapsed = new Array(21).fill(40);
	collapsed[0] = 20;
	collapsed[20] = 60;
	fs.writeFileSync(path.join(input, "flat.dcm"), writeDicom({ rows: 3, columns: 7, bitsAllocated: 8, pixels: collapsed }));
	const out = path.join(tmp, "out");
	const r = run(["convert", input, "--out", out, "--max-file-mb", "1", "--workers", "1"]);
	assert.equal(r.code, 1, r.stderr);
	assert.deepEqual(lines(path.join(out, "failures.jsonl")), [{ path: "big.dcm", stage: "read", error: "file of 2.0 MB is above the 1.0 MB size limit (setting medImageInsight.maxFileSizeMB, CLI --max-file-mb); not read" }]);
	assert.ok(fs.existsSync(path.join(out, "flat.dcm.png")));
	assert.deepEqual(lines(path.join(out, "windows.jsonl")), [{ path: "flat.dcm", window: "min-max" }]);
	assert.match(r.stderr, /1 image had equal 10th and 90th percentiles and was windowed over the min–max range/);
	// Without the limit (default 2048 MB) the big file converts.
	const again = run(["convert", input, "--out", path.join(tmp, "out2"), "--workers", "1"]);
	assert.equal(again.code, 0, again.stderr);
	assert.equal(run(["convert", input, "--out", out, "--max-file-mb", "-1"]).code, 2);
});
