import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveOutDir, selectionName } from "../../../src/extension/ui/outputLocation";

void test("a folder selection is named after the folder, a file after its parent folder", () => {
	assert.equal(selectionName([{ path: "/data/CT chest", isDirectory: true }]), "CT chest");
	assert.equal(selectionName([{ path: "/data/series1/img.dcm", isDirectory: false }]), "series1");
});

void test("several inputs add +N, so the same selection finds the same folder again", () => {
	assert.equal(selectionName([{ path: "/a/x", isDirectory: true }, { path: "/a/y", isDirectory: true }, { path: "/a/z.dcm", isDirectory: false }]), "x+2");
});

void test("unsafe characters and leading dots cannot escape or hide the folder", () => {
	assert.equal(selectionName([{ path: "/a/..", isDirectory: true }]), "_");
	assert.equal(selectionName([{ path: "/a/we:ird*name", isDirectory: true }]), "we_ird_name");
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
