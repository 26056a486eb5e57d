import * as vscode from "vscode";
import type { RunProgress, RunSummary } from "../../core/pipeline/types";
import { Disposable } from "../disposable";
import { formatCount, progressMessage, statusBarRunningText, statusBarSummaryText, summaryMessage } from "./progressText";

/**
 * The run's status-bar item: "$(sync~spin) 120/900 · 14/s" while running (click: cancel, after a
 * confirmation), the summary afterwards (click: Show Results). A second item labels the built-in
 * simulation while it runs, so nobody mistakes its vectors for MedImageInsight's.
 */
export class RunStatusBar extends Disposable {
	private readonly item: vscode.StatusBarItem;
	private readonly simulation: vscode.StatusBarItem;

	constructor() {
		super();
		this.item = this.register(vscode.window.createStatusBarItem("medImageInsight.run", vscode.StatusBarAlignment.Left, 10));
		this.item.name = "MedImageInsight Run";
		this.simulation = this.register(vscode.window.createStatusBarItem("medImageInsight.simulation", vscode.StatusBarAlignment.Left, 9));
		this.simulation.name = "MedImageInsight Simulation";
		this.simulation.command = "medImageInsight.stopSimulatedEndpoint";
		this.simulation.backgroundColor = new vscode.ThemeColor("statusBarItem.warningBackground");
	}

	get text(): string {
		return this.item.text;
	}

	get tooltip(): string {
		const t = this.item.tooltip;
		return typeof t === "string" ? t : (t?.value ?? "");
	}

	get simulationText(): string {
		return this.simulation.text;
	}

	started(outDir: string): void {
		this.item.text = "$(sync~spin) MedImageInsight: starting…";
		this.item.tooltip = `MedImageInsight run → ${outDir}\nClick to cancel.`;
		this.item.command = { title: "Cancel Run", command: "medImageInsight.cancelRun", arguments: [{ confirm: true }] };
		this.item.backgroundColor = undefined;
		this.item.show();
	}

	progress(p: RunProgress): void {
		this.item.text = statusBarRunningText(p);
		this.item.tooltip = `MedImageInsight: ${progressMessage(p)}\nClick to cancel.`;
	}

	finished(s: RunSummary, simulated: boolean): void {
		this.item.text = statusBarSummaryText(s);
		this.item.tooltip = `${summaryMessage(s, simulated)}\n${formatCount(s.embedded + s.alreadyDone)} embeddings in ${s.outDir}\nClick to show the results.`;
		this.item.command = { title: "Show Results", command: "medImageInsight.showResults", arguments: [s.outDir] };
		this.item.backgroundColor = s.fatal ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
		this.item.show();
	}

	crashed(message: string): void {
		this.item.text = "$(error) MedImageInsight: error";
		this.item.tooltip = message;
		this.item.command = { title: "Show Log", command: "medImageInsight.showLog" };
		this.item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
		this.item.show();
	}

	setSimulation(url: string | undefined): void {
		if (url) {
			this.simulation.text = "$(beaker) MedImageInsight simulation";
			this.simulation.tooltip = `The built-in simulated endpoint runs on ${url}. Its vectors are a simulation, not MedImageInsight. Click to stop it.`;
			this.simulation.show();
		} else {
			this.simulation.text = "";
			this.simulation.hide();
		}
	}
}
