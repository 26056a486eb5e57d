/**
 * Where a run's outputs go (PRODUCT.md §4): `<workspace folder>/.medimageinsight/<selection name>/`
 * by default, the extension's global storage without a workspace, or under the `outputFolder`
 * setting. Plain functions with no `vscode` import.
 */
import * as path from "node:path";

export interface SelectedInput {
	path: string;
	isDirectory: boolean;
}

/**
 * A stable folder name for a selection: the selected folder's name (a file's parent folder name),
 * plus "+N" when several inputs were selected, so the same selection finds its earlier results.
 */
export function selectionName(inputs: readonly SelectedInput[]): string {
	const first = inputs[0];
	if (!first) return "selection";
	const base = first.isDirectory ? path.basename(first.path) : path.basename(path.dirname(first.path));
	const safe = base.replace(/[^\w.\- ]+/g, "_").replace(/^\.+/, "_").trim() || "selection";
	return inputs.length > 1 ? `${safe}+${inputs.length - 1}` : safe;
}

export interface OutDirParams {
	name: string;
	/** The workspace folder that holds the selection (or the first one), if any. */
	workspaceFolder?: string | undefined;
	/** context.globalStorageUri.fsPath */
	globalStorage: string;
	/** The `outputFolder` setting: empty, absolute, or relative to the workspace folder. */
	outputFolder: string;
}

export function resolveOutDir(p: OutDirParams): string {
	const setting = p.outputFolder.trim();
	if (setting) {
		const base = path.isAbsolute(setting) ? setting : path.resolve(p.workspaceFolder ?? p.globalStorage, setting);
		return path.join(base, p.name);
	}
	if (p.workspaceFolder) return path.join(p.workspaceFolder, ".medimageinsight", p.name);
	return path.join(p.globalStorage, "results", p.name);
}
