import * as vscode from "vscode";
import { ArmClient, ArmError, armScope, type ArmOnlineEndpoint } from "../../core/azure/armClient";
import type { Services } from "../services";
import { endpointUrlProblem, plainText } from "../ui/endpointText";

/**
 * "Sign in with Microsoft and Pick an Azure ML Endpoint": VS Code's Microsoft sign-in gives a
 * management token; ARM lists subscriptions → workspaces → online endpoints; the chosen endpoint's
 * scoring URI goes to the settings and (key mode) its primary key to SecretStorage.
 */
export function selectAzureEndpoint(s: Services) {
	return async (): Promise<boolean> => {
		let session: vscode.AuthenticationSession;
		try {
			session = await vscode.authentication.getSession("microsoft", [armScope], { createIfNone: true });
		} catch (e) {
			// Cancelled or failed: say so, and offer the other ways to get an endpoint.
			s.log.info(`[azure] Microsoft sign-in failed or was cancelled: ${e instanceof Error ? e.message : String(e)}`);
			const configure = vscode.l10n.t("Configure…");
			const simulate = vscode.l10n.t("Try simulation");
			const choice = await vscode.window.showWarningMessage(
				vscode.l10n.t("Microsoft sign-in did not complete ({0}). You can type the endpoint's scoring URI instead, or try the extension with the simulated endpoint.", plainText(e instanceof Error ? e.message : String(e), 200)),
				configure,
				simulate,
			);
			if (choice === configure) await vscode.commands.executeCommand("medImageInsight.configureEndpoint");
			else if (choice === simulate) await vscode.commands.executeCommand("medImageInsight.startSimulatedEndpoint");
			return false;
		}
		const arm = new ArmClient(async () => session.accessToken, { logger: s.log.scoped("azure") });
		try {
			const subs = await busy(vscode.l10n.t("Listing your Azure subscriptions…"), () => arm.listSubscriptions());
			if (subs.length === 0) return none(vscode.l10n.t("Your account {0} sees no Azure subscription.", session.account.label));
			const sub = await vscode.window.showQuickPick(
				subs.map((x) => ({ label: x.displayName, description: x.subscriptionId, detail: x.state, value: x })),
				{ title: vscode.l10n.t("Azure ML endpoint (1/3): subscription"), ignoreFocusOut: true, matchOnDescription: true },
			);
			if (!sub) return false;
			const workspaces = await busy(vscode.l10n.t("Listing Azure ML workspaces…"), () => arm.listWorkspaces(sub.value.subscriptionId));
			if (workspaces.length === 0) return none(vscode.l10n.t("Subscription {0} has no Azure Machine Learning workspace.", sub.label));
			const ws = await vscode.window.showQuickPick(
				workspaces.map((w) => ({ label: w.name, description: `${w.resourceGroup} · ${w.location}`, value: w })),
				{ title: vscode.l10n.t("Azure ML endpoint (2/3): workspace"), ignoreFocusOut: true, matchOnDescription: true },
			);
			if (!ws) return false;
			const endpoints = await busy(vscode.l10n.t("Listing online endpoints…"), () => arm.listOnlineEndpoints(ws.value.id));
			if (endpoints.length === 0) return none(vscode.l10n.t("Workspace {0} has no online endpoint. Deploy MedImageInsight from the model catalog first.", ws.label));
			const ep = await vscode.window.showQuickPick(
				endpoints.map((e) => ({ label: e.name, description: `${e.rawAuthMode} · ${e.provisioningState}`, detail: e.scoringUri, value: e })),
				{ title: vscode.l10n.t("Azure ML endpoint (3/3): online endpoint"), ignoreFocusOut: true, matchOnDetail: true },
			);
			if (!ep) return false;
			return await apply(s, arm, ep.value);
		} catch (e) {
			const message = e instanceof ArmError || e instanceof Error ? e.message : String(e);
			s.log.warn(`[azure] ${message}`);
			void vscode.window.showErrorMessage(plainText(message));
			return false;
		}
	};
}

async function apply(s: Services, arm: ArmClient, ep: ArmOnlineEndpoint): Promise<boolean> {
	if (!ep.scoringUri) return none(vscode.l10n.t("Endpoint {0} has no scoring URI yet (state: {1}).", ep.name, ep.provisioningState));
	if (endpointUrlProblem(ep.scoringUri)) return none(vscode.l10n.t("Endpoint {0} has a scoring URI that is not https ({1}); the key and images are only sent over https.", ep.name, ep.scoringUri));
	if (ep.authMode === "amlToken") return none(vscode.l10n.t("Endpoint {0} uses AML tokens, which this extension does not support; switch it to key or Microsoft Entra ID authentication.", ep.name));
	if (ep.authMode === "key") {
		const keys = await busy(vscode.l10n.t("Fetching the endpoint key…"), () => arm.listEndpointKeys(ep.id));
		await s.keys.set(ep.scoringUri, keys.primaryKey || keys.secondaryKey);
		await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
	}
	await s.config.setEndpointUrl(ep.scoringUri);
	await s.config.setAuthMode(ep.authMode);
	await s.simulation.release();
	await vscode.commands.executeCommand("setContext", "medImageInsight.endpointReady", true);
	s.log.info(`[azure] endpoint ${ep.name} selected: ${ep.scoringUri} (${ep.authMode}${ep.authMode === "key" ? ", key stored in secret storage" : ""})`);
	const test = vscode.l10n.t("Test Connection");
	void vscode.window
		.showInformationMessage(vscode.l10n.t("MedImageInsight now uses endpoint {0}.", plainText(ep.name, 200)), test)
		.then((c) => c && vscode.commands.executeCommand("medImageInsight.testConnection"));
	return true;
}

function none(message: string): false {
	void vscode.window.showWarningMessage(plainText(message));
	return false;
}

function busy<T>(title: string, task: () => Promise<T>): Thenable<T> {
	return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, task);
}
