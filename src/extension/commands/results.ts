import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../core/pipeline/types";
import { isDicomwebInput } from "../../core/sources/dicomweb/url";
import type { Services } from "../services";
import { formatCount } from "../ui/progressText";

/**
 * "Show Results": the given output folder; else the output folders of this workspace (most recent
 * first: a pick when there are several); else asks for one.
 */
export function showResults(s: Services) {
	return async (arg?: unknown): Promise<string | undefined> => {
		let outDir = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
		if (outDir === undefined) {
			const runs = knownRuns(s);
			if (runs.length === 1) outDir = runs[0]?.outDir;
			else if (runs.length > 1) {
				const browse = { label: vscode.l10n.t("$(folder-opened) Browse…"), description: vscode.l10n.t("another results folder"), outDir: "" };
				const picked = await vscode.window.showQuickPick(
					[
						...runs.map((r) => ({ label: path.basename(r.outDir), description: r.description, detail: r.outDir, outDir: r.outDir })),
						browse,
					],
					{ title: vscode.l10n.t("MedImageInsight: which results? (most recent first)"), matchOnDetail: true },
				);
				if (!picked) return undefined;
				if (picked !== browse) outDir = picked.outDir;
			}
		}
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
		await vscode.commands.executeCommand("setContext", "medImageInsight.resultsOpened", true);
		return outDir;
	};
}

interface KnownRun {
	outDir: string;
	time: number;
	description: string;
}

/**
 * The output folders of this workspace, most recent first: every `<folder>/.medimageinsight/*` and
 * `<outputFolder>/*` holding a run.json, plus the last run's folder.
 */
export function knownRuns(s: Services): KnownRun[] {
	const bases = new Set<string>();
	const setting = s.config.snapshot().outputFolder;
	for (const f of vscode.workspace.workspaceFolders ?? []) {
		if (f.uri.scheme !== "file") continue;
		bases.add(path.join(f.uri.fsPath, ".medimageinsight"));
		if (setting) bases.add(path.isAbsolute(setting) ? setting : path.resolve(f.uri.fsPath, setting));
	}
	if (setting && path.isAbsolute(setting)) bases.add(setting);
	const dirs = new Set<string>();
	for (const base of bases) {
		let names: string[] = [];
		try {
			names = fs.readdirSync(base);
		} catch {
			continue;
		}
		for (const n of names) if (fs.existsSync(path.join(base, n, "run.json"))) dirs.add(path.join(base, n));
	}
	for (const d of [s.runner.lastRun?.outDir, s.state.lastRun?.outDir]) if (d && fs.existsSync(path.join(d, "run.json"))) dirs.add(path.resolve(d));
	const runs: KnownRun[] = [];
	for (const outDir of dirs) {
		try {
			const info = JSON.parse(fs.readFileSync(path.join(outDir, "run.json"), "utf8")) as { endedAt?: unknown; counts?: { embedded?: unknown; alreadyDone?: unknown; failed?: unknown } };
			const ended = typeof info.endedAt === "string" ? Date.parse(info.endedAt) : NaN;
			const time = Number.isFinite(ended) ? ended : fs.statSync(path.join(outDir, "run.json")).mtimeMs;
			const c = info.counts ?? {};
			const embedded = (typeof c.embedded === "number" ? c.embedded : 0) + (typeof c.alreadyDone === "number" ? c.alreadyDone : 0);
			const failed = typeof c.failed === "number" ? c.failed : 0;
			const when = new Date(time).toLocaleString();
			const description = failed > 0 ? vscode.l10n.t("{0} embedded · {1} failed · {2}", formatCount(embedded), formatCount(failed), when) : vscode.l10n.t("{0} embedded · {1}", formatCount(embedded), when);
			runs.push({ outDir, time, description });
		} catch {
			/* an unreadable run.json: not offered */
		}
	}
	return runs.sort((a, b) => b.time - a.time);
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
		// DICOMweb URL inputs are kept as they are (the run finds their server's credentials).
		const inputs = target.inputs.filter((p) => isDicomwebInput(p) || fs.existsSync(p)).map((p) => ({ path: p, isDirectory: isDicomwebInput(p) || fs.statSync(p).isDirectory() }));
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
