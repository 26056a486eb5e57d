/**
 * The Runs view in the real extension host: a demo run made by the CLI in the workspace, a run made by
 * the extension outside it (remembered in globalState), their rows, Retry Failed, Reveal, and Delete
 * Results (which removes only what a run writes).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../src/core/pipeline/types";
import { api, extensionId, readJsonl, setSetting, workspaceRoot } from "./helpers";

describe("Runs view", function () {
	let results = "";
	let data = "";
	let outside = "";

	before(async function () {
		this.timeout(300_000);
		await api();
		const ext = vscode.extensions.getExtension(extensionId)!;
		const demo = path.join(workspaceRoot(), "runs-demo");
		const r = spawnSync(process.execPath, [path.join(ext.extensionPath, "dist", "cli.js"), "demo", "--out", demo, "--count", "20", "--workers", "1"], { encoding: "utf8", timeout: 240_000 });
		assert.equal(r.status, 0, `demo failed: ${r.stderr}`);
		results = path.join(demo, "results");
		data = path.join(demo, "data");
		outside = fs.mkdtempSync(path.join(os.tmpdir(), "mii-runs-outside-"));
		await setSetting("rateLimit.calls", 1000);
		await setSetting("rateLimit.periodSeconds", 1);
		await vscode.commands.executeCommand("medImageInsight.startSimulatedEndpoint");
		await vscode.commands.executeCommand("workbench.view.extension.medImageInsight");
	});

	after(async function () {
		await vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint");
		for (const k of ["endpoint.url", "endpoint.authMode", "rateLimit.calls", "rateLimit.periodSeconds", "outputFolder"]) await setSetting(k, undefined);
		fs.rmSync(outside, { recursive: true, force: true });
	});

	async function rows() {
		return (await api()).runsViewItems();
	}

	it("contributes a MedImageInsight view container with the Runs view and its context actions", function () {
		const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON as {
			contributes: { viewsContainers: { activitybar: { id: string }[] }; views: Record<string, { id: string }[]>; menus: Record<string, { command: string; when: string }[]> };
		};
		assert.ok(pkg.contributes.viewsContainers.activitybar.some((c) => c.id === "medImageInsight"));
		assert.deepEqual(pkg.contributes.views["medImageInsight"]?.map((v) => v.id), ["medImageInsight.runs", "medImageInsight.dicomwebServers"]);
		const menu = pkg.contributes.menus["view/item/context"]!.map((m) => m.command);
		for (const c of ["medImageInsight.runs.retryFailed", "medImageInsight.runs.reveal", "medImageInsight.runs.deleteResults"]) assert.ok(menu.includes(c), c);
	});

	it("lists the workspace's demo run with its counts, date, Simulation badge and failed state", async function () {
		const embedded = new Set(readJsonl<{ path: string }>(path.join(results, "embeddings.jsonl")).map((x) => x.path));
		const failures = readJsonl<{ path: string; stage: string }>(path.join(results, "failures.jsonl")).filter((f) => !embedded.has(f.path) && f.stage !== "skipped");
		assert.ok(failures.length >= 1, "the demo plants a corrupt file");
		const row = (await rows()).find((r) => r.outDir === results);
		assert.ok(row, `the demo run is listed (${(await rows()).map((r) => r.outDir).join(", ")})`);
		assert.equal(row.label, "results");
		assert.match(row.description, new RegExp(`^${embedded.size} images · ${failures.length} failed · .+ · Simulation$`));
		assert.equal(row.simulated, true);
		assert.equal(row.icon, "warning");
		assert.match(row.contextValue, /\brun\b/);
		assert.match(row.contextValue, /\bfailed\b/, "Retry Failed is offered");
		assert.ok(row.tooltip.includes(results));
		assert.match(row.tooltip, /Simulation \(not MedImageInsight\)/);
	});

	it("Retry Failed from the view runs the failed files again; a run made outside the workspace stays listed as a recent one", async function () {
		const retried = await vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.runs.retryFailed", { outDir: results });
		assert.ok(retried, "a run happened");
		assert.equal(retried.outDir, results);
		assert.ok(retried.failed >= 1, "the corrupt file fails again");
		assert.equal(retried.embedded, 0, "nothing else is sent again");

		// A run by the extension into a folder outside the workspace.
		await setSetting("outputFolder", outside);
		const run = await vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.generateEmbeddings", vscode.Uri.file(path.join(data, "patient3")));
		assert.ok(run && run.embedded > 0, "the extension embedded patient3");
		assert.ok(run.outDir.startsWith(outside));
		await setSetting("outputFolder", undefined);
		const listed = await rows();
		const row = listed.find((r) => r.outDir === run.outDir);
		assert.ok(row, "the outside run is listed from globalState after the setting changed");
		assert.match(row.description, new RegExp(`^${run.embedded} images · `));
		assert.equal(row.icon, "pass");
		assert.doesNotMatch(row.contextValue, /failed/);
		// Newest first.
		assert.equal(listed[0]?.outDir, run.outDir);
	});

	it("Reveal in Explorer reveals a workspace run without an error", async function () {
		await vscode.commands.executeCommand("medImageInsight.runs.reveal", { outDir: results });
	});

	it("Delete Results removes only what the run wrote, keeps other files and the DICOM data, and drops the row", async function () {
		const notes = path.join(results, "my-notes.txt");
		fs.writeFileSync(notes, "mine\n");
		const dataBefore = fs.readdirSync(data, { recursive: true }).length;
		const ok = await vscode.commands.executeCommand<boolean>("medImageInsight.runs.deleteResults", { outDir: results, confirmed: true });
		assert.equal(ok, true);
		for (const f of ["embeddings.jsonl", "failures.jsonl", "embeddings.npy", "index.csv", "run.json", "thumbnails"]) assert.ok(!fs.existsSync(path.join(results, f)), `${f} is deleted`);
		assert.ok(fs.existsSync(notes), "the user's file is kept");
		assert.equal(fs.readdirSync(data, { recursive: true }).length, dataBefore, "the DICOM data is untouched");
		assert.ok(!(await rows()).some((r) => r.outDir === results), "the row is gone");

		// A folder holding nothing else is removed too.
		const other = (await rows()).find((r) => r.outDir.startsWith(outside));
		assert.ok(other);
		assert.equal(await vscode.commands.executeCommand<boolean>("medImageInsight.runs.deleteResults", { outDir: other.outDir, confirmed: true }), true);
		assert.ok(!fs.existsSync(other.outDir));
		assert.ok(!(await rows()).some((r) => r.outDir === other.outDir));
	});
});
