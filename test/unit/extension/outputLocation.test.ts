import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { legacySelectionName, resolveOutDir, selectionName } from "../../../src/extension/ui/outputLocation";

const hashed = (name: string) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9a-f]{8}$`);

void test("a folder selection is named after the folder, a file after its parent folder, plus a short hash of the path", () => {
	assert.match(selectionName([{ path: "/data/CT chest", isDirectory: true }]), hashed("CT chest"));
	assert.match(selectionName([{ path: "/data/series1/img.dcm", isDirectory: false }]), hashed("series1"));
});

void test("folders of the same name in different places get different output folders; the same selection the same one", () => {
	const a = selectionName([{ path: "/data/a/series1", isDirectory: true }]);
	const b = selectionName([{ path: "/data/b/series1", isDirectory: true }]);
	assert.match(a, hashed("series1"));
	assert.match(b, hashed("series1"));
	assert.notEqual(a, b);
	assert.equal(selectionName([{ path: "/data/a/series1", isDirectory: true }]), a);
	const x = { path: "/a/x", isDirectory: true };
	const y = { path: "/a/y", isDirectory: true };
	assert.equal(selectionName([x, y]).replace(/^x\+1/, ""), selectionName([y, x]).replace(/^y\+1/, ""), "the hash does not depend on the order");
});

void test("several inputs add +N", () => {
	assert.match(selectionName([{ path: "/a/x", isDirectory: true }, { path: "/a/y", isDirectory: true }, { path: "/a/z.dcm", isDirectory: false }]), hashed("x+2"));
});

void test("unsafe characters and leading dots cannot escape or hide the folder", () => {
	assert.match(selectionName([{ path: "/a/..", isDirectory: true }]), hashed("_"));
	assert.match(selectionName([{ path: "/a/we:ird*name", isDirectory: true }]), hashed("we_ird_name"));
	assert.equal(selectionName([]), "selection");
});

void test("the default is <workspace>/.medimageinsight/<name>", () => {
	assert.equal(resolveOutDir({ name: "ct", workspaceFolder: "/ws", globalStorage: "/gs", outputFolder: "" }), "/ws/.medimageinsight/ct");
});

void test("without a workspace the results go to global storage", () => {
	assert.equal(resolveOutDir({ name: "ct", globalStorage: "/gs", outputFolder: "" }), "/gs/results/ct");
});

void test("outputFolder: absolute as is, relative to the workspace folder, the name appended", () => {
	assert.equal(resolveOutDir({ name: "ct", workspaceFolder: "/ws", globalStorage: "/gs", outputFolder: "/big/disk" }), "/big/disk/ct");
	assert.equal(resolveOutDir({ name: "ct", workspaceFolder: "/ws", globalStorage: "/gs", outputFolder: "results" }), "/ws/results/ct");
});

void test("a folder an earlier version made for the same selection (no hash in its name) is used until a new one exists", () => {
	const ws = fs.mkdtempSync(path.join(os.tmpdir(), "mii-outloc-"));
	try {
		const series = path.join(ws, "data", "series1");
		const inputs = [{ path: series, isDirectory: true }];
		const legacy = path.join(ws, ".medimageinsight", legacySelectionName(inputs));
		assert.equal(path.basename(legacy), "series1");
		fs.mkdirSync(legacy, { recursive: true });
		const params = { name: selectionName(inputs), workspaceFolder: ws, globalStorage: "/gs", outputFolder: "", inputs: [series] };
		const fresh = path.join(ws, ".medimageinsight", selectionName(inputs));
		// No run.json: not known to be this selection's.
		assert.equal(resolveOutDir(params), fresh);
		fs.writeFileSync(path.join(legacy, "run.json"), JSON.stringify({ inputs: [path.join(ws, "other", "series1")] }));
		assert.equal(resolveOutDir(params), fresh, "another folder named series1 does not get its results");
		fs.writeFileSync(path.join(legacy, "run.json"), JSON.stringify({ inputs: [series] }));
		assert.equal(resolveOutDir(params), legacy, "the same selection finds its earlier results");
		fs.mkdirSync(fresh);
		assert.equal(resolveOutDir(params), fresh);

		// Inputs in different parent folders were recorded under other paths then: not reused.
		const multi = [path.join(ws, "a", "series1"), path.join(ws, "b", "series2")];
		const sel = multi.map((m) => ({ path: m, isDirectory: true }));
		const old = path.join(ws, ".medimageinsight", legacySelectionName(sel));
		fs.mkdirSync(old, { recursive: true });
		fs.writeFileSync(path.join(old, "run.json"), JSON.stringify({ inputs: multi }));
		assert.equal(resolveOutDir({ ...params, name: selectionName(sel), inputs: multi }), path.join(ws, ".medimageinsight", selectionName(sel)));
	} finally {
		fs.rmSync(ws, { recursive: true, force: true });
	}
});
