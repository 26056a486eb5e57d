/** Shared helpers of the in-host suite: the fixture workspace, settings, waiting, reading outputs. */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { MedImageInsightApi } from "../../src/extension/extension";

export const extensionId = "medimageinsight.medimageinsight-vscode";

/** What the test script put into the workspace, derived from the shared manifest (not from our code). */
export interface FixtureManifest {
	/** Folder (relative to the workspace) holding the DICOM fixtures. */
	folder: string;
	/** Paths relative to `folder`, with the reference outcome. */
	images: string[];
	skipped: string[];
	corrupt: string[];
	ignored: string[];
}

export function workspaceRoot(): string {
	const f = vscode.workspace.workspaceFolders?.[0];
	if (!f) throw new Error("the suite needs a workspace folder");
	return f.uri.fsPath;
}

/** The fixture manifest, or undefined (with a loud message) when the DICOM files were not available. */
export function fixture(): FixtureManifest | undefined {
	const p = path.join(workspaceRoot(), "fixture.json");
	if (!fs.existsSync(p)) {
		console.log("!!!!! SKIPPING: no DICOM fixtures in the workspace (../shared/dicom was not found by scripts/test-vscode.mjs) !!!!!");
		return undefined;
	}
	return JSON.parse(fs.readFileSync(p, "utf8")) as FixtureManifest;
}

export async function api(): Promise<MedImageInsightApi> {
	const ext = vscode.extensions.getExtension<MedImageInsightApi>(extensionId);
	if (!ext) throw new Error(`extension ${extensionId} is not loaded`);
	return ext.isActive ? ext.exports : await ext.activate();
}

/** Application-scoped settings (a workspace cannot set them): they go to the user settings. */
const applicationScoped = new Set(["endpoint.url", "endpoint.authMode", "queue.url"]);

export async function setSetting(key: string, value: unknown): Promise<void> {
	const target = applicationScoped.has(key) ? vscode.ConfigurationTarget.Global : vscode.ConfigurationTarget.Workspace;
	await vscode.workspace.getConfiguration("medImageInsight").update(key, value, target);
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
	const end = Date.now() + timeoutMs;
	while (!cond()) {
		if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.trim())
		.map((l) => JSON.parse(l) as T);
}

/** Every file under `dir` (recursively). */
export function filesUnder(dir: string): string[] {
	if (!fs.existsSync(dir)) return [];
	const out: string[] = [];
	for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...filesUnder(p));
		else out.push(p);
	}
	return out;
}
