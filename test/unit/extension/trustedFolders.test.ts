import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { folderKey, maxTrustedFolders, TrustedFolders, trustedFoldersKey, type StateStore } from "../../../src/extension/webview/trustedFolders";

/** A Memento-shaped store over a Map that keeps JSON copies, as VS Code's globalState does. */
function memento(): StateStore & { raw: Map<string, string> } {
	const raw = new Map<string, string>();
	return {
		raw,
		get: <T>(key: string) => (raw.has(key) ? (JSON.parse(raw.get(key) as string) as T) : undefined),
		update: async (key: string, value: unknown) => {
			raw.set(key, JSON.stringify(value));
		},
	};
}

void test("only folders that were added are trusted; a restored state naming another folder is not", async () => {
	const state = memento();
	const t = new TrustedFolders(state);
	await t.add("/work/ws/.medimageinsight/ct");
	assert.equal(t.has("/work/ws/.medimageinsight/ct"), true);
	assert.equal(t.has("/work/ws/.medimageinsight/ct/"), true, "a trailing slash names the same folder");
	assert.equal(t.has("/work/ws/.medimageinsight/ct/../ct"), true);
	assert.equal(t.has("/home/victim/.ssh"), false);
	assert.equal(t.has("/work/ws/.medimageinsight"), false, "a parent of a trusted folder is not trusted");
	assert.equal(t.has("/work/ws/.medimageinsight/ct/sub"), false, "nor a folder inside it");
	// persisted: a new instance over the same state (after a reload) still knows it
	assert.equal(new TrustedFolders(state).has("/work/ws/.medimageinsight/ct"), true);
});

void test("the list is bounded, newest kept; re-adding moves a folder to the newest end", async () => {
	const state = memento();
	const t = new TrustedFolders(state);
	await t.add("/r/first");
	for (let i = 0; i < maxTrustedFolders - 1; i++) await t.add(`/r/${i}`);
	await t.add("/r/first");
	await t.add("/r/one-more");
	assert.equal(t.has("/r/first"), true);
	assert.equal(t.has("/r/0"), false, "the oldest was dropped");
	assert.equal(t.has("/r/one-more"), true);
	assert.equal((state.get<string[]>(trustedFoldersKey) ?? []).length, maxTrustedFolders);
});

void test("a state holding something else than a list of strings trusts nothing", async () => {
	const state = memento();
	await state.update(trustedFoldersKey, { "/etc": true });
	assert.equal(new TrustedFolders(state).has("/etc"), false);
	await state.update(trustedFoldersKey, [42, null, path.resolve("/ok")]);
	assert.equal(new TrustedFolders(state).has("/ok"), true);
	assert.equal(new TrustedFolders(state).has("42"), false);
});

void test("folder keys: resolved; case-insensitive only on Windows", () => {
	assert.equal(folderKey("/A/b/../C", "linux"), path.resolve("/A/C"));
	assert.notEqual(folderKey("/A/C", "linux"), folderKey("/a/c", "linux"));
	assert.equal(folderKey("/A/C", "win32"), folderKey("/a/c", "win32"));
});
