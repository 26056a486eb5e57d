import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { ImageEmbedder } from "../../core/endpoint/types";
import type { Logger } from "../../core/util/logger";

/**
 * Stand-in for the results webview with the same signature as webview/resultsPanel.ts: opens the
 * output folder's embeddings.jsonl (or failures.jsonl) in an editor.
 */
export function registerResultsView(_context: vscode.ExtensionContext, deps: { log: Logger; createEmbedder(): Promise<ImageEmbedder> }): { show(outDir: string): void } {
	return {
		show(outDir: string): void {
			const file = ["embeddings.jsonl", "failures.jsonl"].map((f) => path.join(outDir, f)).find((f) => fs.existsSync(f));
			if (!file) {
				void vscode.window.showWarningMessage(vscode.l10n.t("No results in {0}.", outDir));
				return;
			}
			deps.log.info(`opening ${file}`);
			void vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
		},
	};
}
