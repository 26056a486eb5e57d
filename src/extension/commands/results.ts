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

/**
 * "Retry Failed": only the files that failed (not the skipped ones), again. With an output folder as
 * argument (the results view passes its own) the inputs come from that folder's run.json; without
 * one, the last run of this workspace is retried.
 */
export function retryFailed(s: Services) {
	return async (arg?: unknown): Promise<RunSummary | undefined> => {
		const outDirArg = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
		const target = outDirArg !== undefined ? readRunTarget(outDirArg) : s.state.lastRun;
		if (!target) {
			void vscode.window.showInformationMessage(
				outDirArg !== undefined
					? vscode.l10n.t("{0} holds no run.json to retry: run Generate Embeddings on its folder instead.", outDirArg)
					: vscode.l10n.t("There is no earlier MedImageInsight run in this workspace to retry."),
			);
			return undefined;
		}
		const inputs = target.inputs.filter((p) => fs.existsSync(p)).map((p) => ({ path: p, isDirectory: fs.statSync(p).isDirectory() }));
		if (inputs.length === 0) {
			void vscode.window.showErrorMessage(vscode.l10n.t("The folders of that run no longer exist."));
			return undefined;
		}
		return s.runner.run(inputs, { retryFailedOnly: true, outDir: target.outDir });
	};
}

/** The inputs and output folder recorded in `<outDir>/run.json`, or undefined when it is missing or unreadable. */
function readRunTarget(outDir: string): { inputs: string[]; outDir: string } | undefined {
	try {
		const info = JSON.parse(fs.readFileSync(path.join(outDir, "run.json"), "utf8")) as { inputs?: unknown };
		const inputs = Array.isArray(info.inputs) ? info.inputs.filter((p): p is string => typeof p === "string") : [];
		return inputs.length > 0 ? { inputs, outDir } : undefined;
	} catch {
		return undefined;
	}
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
