/**
 * The results panel host in the real extension host: a restored panel is shown only for a folder the
 * extension opened or produced (issue 9 item 12), and refreshIfOpen re-reads the folder of an open panel.
 * The panels are real VS Code webview panels; the folders hold records in the store's own format.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { serializeEmbeddingRecord } from "../../src/core/results/store";
import { ResultsPanel, restoreResultsPanel, resultsViewType, type ResultsViewDeps } from "../../src/extension/webview/resultsPanel";
import { TrustedFolders, type StateStore } from "../../src/extension/webview/trustedFolders";
import { extensionId } from "./helpers";

function memento(): StateStore {
	const raw = new Map<string, string>();
	return {
		get: <T>(key: string) => (raw.has(key) ? (JSON.parse(raw.get(key) as string) as T) : undefined),
		update: async (key: string, value: unknown) => {
			raw.set(key, JSON.stringify(value));
		},
	};
}

function writeFolder(dir: string, paths: string[]): void {
	fs.mkdirSync(dir, { recursive: true });
	const lines = paths.map((p, i) =>
		serializeEmbeddingRecord({ path: p, sha256: `sha${i}`, key: `key${i}`, sopInstanceUid: `1.2.${i}`, seriesInstanceUid: "1.2.3", studyInstanceUid: "1.2", modality: "CT", time: "2026-11-29T10:00:00.000Z", embedding: [Math.cos(i), Math.sin(i), 0.5] }),
	);
	fs.appendFileSync(path.join(dir, "embeddings.jsonl"), lines.join(""));
}

describe("Results panel host", function () {
	const logs: string[] = [];
	const deps: ResultsViewDeps = {
		log: { trace() {}, debug() {}, info: (m: string) => logs.push(`info ${m}`), warn: (m: string) => logs.push(`warn ${m}`), error: (m: string) => logs.push(`error ${m}`) },
		createEmbedder: async () => {
			throw new Error("no text embeddings in this test");
		},
	};
	let context: vscode.ExtensionContext;
	let root = "";

	before(function () {
		const ext = vscode.extensions.getExtension(extensionId);
		assert.ok(ext);
		context = { extensionUri: ext.extensionUri } as vscode.ExtensionContext;
		root = fs.mkdtempSync(path.join(os.tmpdir(), "mii-panel-"));
	});

	after(function () {
		ResultsPanel.disposeAll();
		fs.rmSync(root, { recursive: true, force: true });
	});

	function newPanel(): vscode.WebviewPanel {
		return vscode.window.createWebviewPanel(resultsViewType, "restored", vscode.ViewColumn.Active, { enableScripts: true });
	}

	it("a restored panel whose state names a folder the extension did not open is refused, with a message", async function () {
		const other = path.join(root, "someone-elses");
		writeFolder(other, ["secret/a.dcm", "secret/b.dcm"]);
		const trusted = new TrustedFolders(memento());
		await trusted.add(path.join(root, "mine"));
		const panel = newPanel();
		try {
			const restored = restoreResultsPanel(context, deps, panel, { outDir: other, tab: "images" }, trusted);
			assert.equal(restored, undefined);
			assert.equal(ResultsPanel.isOpen(other), false, "the folder is not shown");
			assert.equal(panel.webview.options.enableScripts, false, "the refusal page runs no script");
			assert.match(panel.webview.html, /did not open or produce/);
			assert.ok(panel.webview.html.includes(other), "the message names the folder");
			assert.doesNotMatch(panel.webview.html, /<script/);
			assert.doesNotMatch(panel.webview.html, /secret\/a\.dcm/);
			assert.ok(logs.some((l) => l.startsWith("warn ") && l.includes(other)), "the refusal is logged");
		} finally {
			panel.dispose();
		}
	});

	it("a restored panel of a folder the extension opened is shown; refreshIfOpen re-reads it and keeps the panel", async function () {
		const mine = path.join(root, "mine");
		writeFolder(mine, ["a.dcm", "b.dcm"]);
		const trusted = new TrustedFolders(memento());
		await trusted.add(mine);
		const panel = newPanel();
		const restored = restoreResultsPanel(context, deps, panel, { outDir: mine }, trusted);
		assert.ok(restored, "restored");
		await restored.loaded;
		assert.equal(ResultsPanel.isOpen(mine), true);
		assert.match(restored.html, /<script nonce=/);
		assert.equal(restored.summary?.embedded, 2);
		assert.equal(restored.summary?.failed, 0);
		// a run on the folder ends: one more image, and a failure
		writeFolder(mine, ["c.dcm"]);
		fs.appendFileSync(path.join(mine, "failures.jsonl"), JSON.stringify({ path: "d.dcm", stage: "embed", error: "connection error: ECONNREFUSED", time: "2026-11-29T11:00:00.000Z" }) + "\n");
		fs.writeFileSync(path.join(mine, "run.json"), JSON.stringify({ counts: { found: 2, embedded: 1, alreadyDone: 2, failed: 1, skipped: 0, ignored: 0 }, durationMs: 3000, imagesPerSecond: 0.33 }));
		const htmlBefore = restored.html;
		ResultsPanel.refreshIfOpen(mine);
		const same = ResultsPanel.get(mine);
		assert.equal(same, restored, "the same panel");
		await same.loaded;
		assert.equal(same.summary?.embedded, 3);
		assert.equal(same.summary?.failed, 1);
		assert.deepEqual(same.summary?.lastRun, { elapsedMs: 3000, rate: 0.33, embedded: 1, alreadyDone: 2, failed: 1, skipped: 0 });
		assert.equal(same.html, htmlBefore, "the page was not re-rendered (its view state stays)");
		// a folder without an open panel: nothing happens
		ResultsPanel.refreshIfOpen(path.join(root, "not-open"));
		assert.equal(ResultsPanel.isOpen(path.join(root, "not-open")), false);
		panel.dispose();
		assert.equal(ResultsPanel.isOpen(mine), false);
	});
});
