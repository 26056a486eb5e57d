import * as vscode from "vscode";
import type { RunSummary } from "../../core/pipeline/types";
import type { Services } from "../services";
import type { SelectedInput } from "../ui/outputLocation";

/**
 * "MedImageInsight: Generate Embeddings". From the Explorer: (clicked, selected[]) — the whole
 * multi-selection. From the palette: asks for folders/files. Resolves with the run's summary
 * (undefined when nothing ran), which the integration tests use.
 */
export function generateEmbeddings(s: Services) {
	return async (clicked?: unknown, selected?: unknown): Promise<RunSummary | undefined> => {
		let uris = uriList(selected);
		if (uris.length === 0) uris = uriList(clicked);
		if (uris.length === 0) {
			const picked = await vscode.window.showOpenDialog({
				title: vscode.l10n.t("MedImageInsight: choose DICOM folders or files to embed"),
				canSelectFolders: true,
				canSelectFiles: true,
				canSelectMany: true,
				openLabel: vscode.l10n.t("Generate Embeddings"),
				...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
			});
			if (!picked?.length) return undefined;
			uris = picked;
		}
		const notLocal = uris.find((u) => u.scheme !== "file");
		if (notLocal) {
			void vscode.window.showErrorMessage(vscode.l10n.t("Only folders on disk can be embedded ({0} is not).", notLocal.toString()));
			return undefined;
		}
		const inputs: SelectedInput[] = [];
		for (const uri of uris) {
			try {
				const st = await vscode.workspace.fs.stat(uri);
				inputs.push({ path: uri.fsPath, isDirectory: (st.type & vscode.FileType.Directory) !== 0 });
			} catch {
				void vscode.window.showErrorMessage(vscode.l10n.t("{0} does not exist.", uri.fsPath));
				return undefined;
			}
		}
		return s.runner.run(inputs);
	};
}

function uriList(v: unknown): vscode.Uri[] {
	if (v instanceof vscode.Uri) return [v];
	if (Array.isArray(v)) return v.filter((x): x is vscode.Uri => x instanceof vscode.Uri);
	return [];
}
