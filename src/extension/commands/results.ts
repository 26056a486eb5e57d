import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../core/pipeline/types";
import type { Services } from "../services";

/** "Show Results": the given output folder, else the last run's, else asks for one. */
export function showResults(s: Services) {
	return async (arg?: unknown): Promise<string | undefined> => {
		let outDir = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : (s.runner.lastRun?.outDir ?? s.state.lastRun?.outDir);
		if (!outDir || !fs.existsSync(outDir)) {
			const picked = await vscode.window.showOpenDialog({
				title: vscode.l10n.t("MedImageInsight: choose a results folder (it holds embeddings.jsonl)"),
				canSelectFolders: true,
				canSelectFiles: false,
				openLabel: vscode.l10n.t("Show Results"),
			});
			if (!picked?.[0]) return undefined;
			outDir = picked[0].fsPath;
		}
		if (!fs.existsSync(path.join(outDir, "embeddings.jsonl")) && !fs.existsSync(path.join(outDir, "failures.jsonl"))) {
			void vscode.window.showWarningMessage(vscode.l10n.t("{0} holds no MedImageInsight results (no embeddings.jsonl).", outDir));
			return undefined;
		}
		s.showResults(outDir);
		return outDir;
	};
}

/** "Retry Failed": the last run's inputs again, only the files that failed (not the skipped ones). */
export function retryFailed(s: Services) {
	return async (): Promise<RunSummary | undefined> => {
		const last = s.state.lastRun;
		if (!last) {
			void vscode.window.showInformationMessage(vscode.l10n.t("There is no earlier MedImageInsight run in this workspace to retry."));
			return undefined;
		}
		const inputs = last.inputs.filter((p) => fs.existsSync(p)).map((p) => ({ path: p, isDirectory: fs.statSync(p).isDirectory() }));
		if (inputs.length === 0) {
			void vscode.window.showErrorMessage(vscode.l10n.t("The folders of the last run no longer exist."));
			return undefined;
		}
		return s.runner.run(inputs, { retryFailedOnly: true, outDir: last.outDir });
	};
}

/** "Cancel Run". With `{ confirm: true }` (the status bar) it asks first. */
export function cancelRun(s: Services) {
	return async (arg?: unknown): Promise<boolean> => {
		if (!s.runner.isRunning()) {
			void vscode.window.showInformationMessage(vscode.l10n.t("No MedImageInsight run is in progress."));
			return false;
		}
		if (typeof arg === "object" && arg !== null && (arg as { confirm?: unknown }).confirm === true) {
			const stop = vscode.l10n.t("Cancel Run");
			const choice = await vscode.window.showWarningMessage(vscode.l10n.t("Cancel the MedImageInsight run? What is done so far is kept."), { modal: true }, stop);
			if (choice !== stop) return false;
		}
		return s.runner.cancel();
	};
}
