/**
 * Where a run's outputs go (PRODUCT.md §4): `<workspace folder>/.medimageinsight/<selection name>/`
 * by default, the extension's global storage without a workspace, or under the `outputFolder`
 * setting. Plain functions with no `vscode` import.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface SelectedInput {
	path: string;
	isDirectory: boolean;
}

/** The name earlier versions gave a selection's folder (no hash): `series1`, `series1+2`. */
export function legacySelectionName(inputs: readonly SelectedInput[]): string {
	const first = inputs[0];
	if (!first) return "selection";
	const base = first.isDirectory ? path.basename(first.path) : path.basename(path.dirname(first.path));
	const safe = base.replace(/[^\w.\- ]+/g, "_").replace(/^\.+/, "_").trim() || "selection";
	return inputs.length > 1 ? `${safe}+${inputs.length - 1}` : safe;
}

/** The selection's full paths, normalised and sorted (the same selection in any order is the same). */
function selectionPaths(paths: readonly string[]): string[] {
	return paths.map((p) => (process.platform === "win32" ? path.resolve(p).toLowerCase() : path.resolve(p))).sort();
}

/**
 * A stable folder name for a selection: the selected folder's name (a file's parent folder name),
 * plus "+N" when several inputs were selected, plus a short hash of the selection's full paths, so
 * that the same selection finds its earlier results and `a/series1` and `b/series1` do not share
 * a folder: `series1-1a2b3c4d`.
 */
export function selectionName(inputs: readonly SelectedInput[]): string {
	if (inputs.length === 0) return "selection";
	const hash = createHash("sha256")
		.update(selectionPaths(inputs.map((i) => i.path)).join("\0"))
		.digest("hex")
		.slice(0, 8);
	return `${legacySelectionName(inputs)}-${hash}`;
}

export interface OutDirParams {
	name: string;
	/** The workspace folder that holds the selection (or the first one), if any. */
	workspaceFolder?: string | undefined;
	/** context.globalStorageUri.fsPath */
	globalStorage: string;
	/** The `outputFolder` setting: empty, absolute, or relative to the workspace folder. */
	outputFolder: string;
	/**
	 * The selected paths. When given, a folder an earlier version made for this very selection (named
	 * without the hash; its run.json lists the same inputs; paths recorded the same way, see
	 * pipeline/recordedPath.ts) is used as long as the new one does not exist, so upgrading does not
	 * send everything again.
	 */
	inputs?: readonly string[];
}

export function resolveOutDir(p: OutDirParams): string {
	const setting = p.outputFolder.trim();
	let parent: string;
	if (setting) parent = path.isAbsolute(setting) ? setting : path.resolve(p.workspaceFolder ?? p.globalStorage, setting);
	else if (p.workspaceFolder) parent = path.join(p.workspaceFolder, ".medimageinsight");
	else parent = path.join(p.globalStorage, "results");
	const dir = path.join(parent, p.name);
	if (p.inputs && p.inputs.length > 0 && samePathsAsBefore(p.inputs) && !fs.existsSync(dir)) {
		const legacy = path.join(parent, p.name.replace(/-[0-9a-f]{8}$/, ""));
		if (legacy !== dir && sameInputs(legacy, p.inputs)) return legacy;
	}
	return dir;
}

/**
 * True when earlier versions recorded the same paths for this selection as this one does: one input,
 * or inputs in one parent folder (otherwise reusing the old folder would list files under two paths).
 */
function samePathsAsBefore(inputs: readonly string[]): boolean {
	return inputs.length === 1 || new Set(inputs.map((i) => path.dirname(path.resolve(i)))).size === 1;
}

/** True when the run.json of `dir` records exactly these inputs. */
function sameInputs(dir: string, inputs: readonly string[]): boolean {
	try {
		const run = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as { inputs?: unknown };
		if (!Array.isArray(run.inputs) || !run.inputs.every((i): i is string => typeof i === "string")) return false;
		const a = selectionPaths(run.inputs);
		const b = selectionPaths(inputs);
		return a.length === b.length && a.every((x, i) => x === b[i]);
	} catch {
		return false;
	}
}
