import * as vscode from "vscode";
import type { Services } from "../services";

/** "Start Simulated Endpoint": a local simulation on 127.0.0.1, labelled as such everywhere. */
export function startSimulatedEndpoint(s: Services) {
	return async (): Promise<string | undefined> => {
		try {
			const url = await s.simulation.start();
			const embed = vscode.l10n.t("Generate Embeddings");
			void vscode.window
				.showInformationMessage(vscode.l10n.t("The simulated endpoint runs on {0}. It is a simulation, not MedImageInsight: its vectors only let you try the extension.", url), embed)
				.then((c) => c && vscode.commands.executeCommand("medImageInsight.generateEmbeddings"));
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
		if (s.runner.isRunning() && s.simulation.isSimulationUrl(s.config.snapshot().endpoint.url)) {
			void vscode.window.showWarningMessage(vscode.l10n.t("A run is using the simulated endpoint; cancel it first."));
			return;
		}
		await s.simulation.stop();
		void vscode.window.showInformationMessage(vscode.l10n.t("The simulated endpoint stopped."));
	};
}
