import * as vscode from "vscode";
import type { Services } from "../services";

/**
 * "Start Simulated Endpoint": a local simulation on 127.0.0.1, labelled as such everywhere. Its toast
 * offers "Generate Embeddings" only while no run has started against it: not when a run's own
 * preflight started it (argument `{ quiet: true }`: that run starts right after), nor after a run.
 */
export function startSimulatedEndpoint(s: Services) {
	return async (arg?: unknown): Promise<string | undefined> => {
		const fromRun = typeof arg === "object" && arg !== null && (arg as { quiet?: unknown }).quiet === true;
		try {
			const url = await s.simulation.start();
			const embed = vscode.l10n.t("Generate Embeddings");
			const actions = fromRun || s.simulation.hasRun || s.runner.isRunning() ? [] : [embed];
			void vscode.window
				.showInformationMessage(vscode.l10n.t("The simulated endpoint runs on {0}. It is a simulation, not MedImageInsight: its vectors only let you try the extension. Runs use it until you configure an endpoint; no setting is changed.", url), ...actions)
				.then((c) => {
					// A run may have started meanwhile (from the Explorer): then the button does nothing but say so.
					if (c !== embed) return;
					if (s.simulation.hasRun || s.runner.isRunning()) void vscode.window.showInformationMessage(vscode.l10n.t("A run has already started with the simulated endpoint."));
					else void vscode.commands.executeCommand("medImageInsight.generateEmbeddings");
				});
			return url;
		} catch (e) {
			const message = e instanceof Error ? e.message : String(e);
			s.log.error(`[simulator] could not start: ${message}`);
			void vscode.window.showErrorMessage(vscode.l10n.t("The simulated endpoint could not start: {0}", message));
			return undefined;
		}
	};
}

export function stopSimulatedEndpoint(s: Services) {
	return async (): Promise<void> => {
		if (!s.simulation.url) {
			void vscode.window.showInformationMessage(vscode.l10n.t("The simulated endpoint is not running."));
			return;
		}
		if (s.runner.isRunning() && s.simulation.inUse) {
			void vscode.window.showWarningMessage(vscode.l10n.t("A run is using the simulated endpoint; cancel it first."));
			return;
		}
		await s.simulation.stop();
		void vscode.window.showInformationMessage(vscode.l10n.t("The simulated endpoint stopped."));
	};
}
