import * as vscode from "vscode";
import { PNG } from "pngjs";
import { FatalEndpointError } from "../../core/endpoint/types";
import type { Services } from "../services";
import type { AuthMode } from "../ui/config";
import { endpointOrigin, endpointUrlProblem, plainText } from "../ui/endpointText";

/** "Configure Endpoint": scoring URI, then authentication mode, then the key when needed. Writes user settings only. */
export function configureEndpoint(s: Services) {
	return async (): Promise<boolean> => {
		const snap = s.config.snapshot();
		const url = await vscode.window.showInputBox({
			title: vscode.l10n.t("MedImageInsight: Endpoint (1/2)"),
			prompt: vscode.l10n.t("The scoring URI of the Azure ML online endpoint (Azure ML studio → Endpoints → Consume → REST endpoint)."),
			value: snap.endpoint.url,
			placeHolder: "https://<endpoint>.<region>.inference.ml.azure.com/score",
			ignoreFocusOut: true,
			validateInput: validateUrl,
		});
		if (url === undefined) return false;
		const items: (vscode.QuickPickItem & { mode: AuthMode })[] = [
			{ mode: "key", label: vscode.l10n.t("Endpoint key"), description: vscode.l10n.t("the common case"), detail: vscode.l10n.t("Kept in VS Code's secret storage, only sent to this endpoint.") },
			{ mode: "entra", label: vscode.l10n.t("Microsoft Entra ID"), description: "aad_token", detail: vscode.l10n.t("Uses your Microsoft sign-in in VS Code (scope https://ml.azure.com/.default).") },
		];
		const mode = await vscode.window.showQuickPick(items, { title: vscode.l10n.t("MedImageInsight: Authentication (2/2)"), ignoreFocusOut: true, placeHolder: snap.authMode });
		if (!mode) return false;
		const target = url.trim();
		await s.config.setEndpointUrl(target);
		await s.config.setAuthMode(mode.mode);
		// Runs go to this endpoint now, not to the simulation.
		await s.simulation.release();
		await vscode.commands.executeCommand("setContext", "medImageInsight.endpointReady", true);
		if (mode.mode === "key") {
			if (await s.keys.has(target)) await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
			else if (await s.keys.prompt(target)) await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
		}
		s.log.info(`[endpoint] endpoint set to ${target} (${mode.mode}, user settings)`);
		const test = vscode.l10n.t("Test Connection");
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight endpoint set (user settings)."), test).then((c) => c && vscode.commands.executeCommand("medImageInsight.testConnection"));
		return true;
	};
}

function validateUrl(v: string): string | undefined {
	const problem = endpointUrlProblem(v);
	switch (problem) {
		case undefined:
			return undefined;
		case "empty":
			return vscode.l10n.t("Enter the scoring URI.");
		case "not-a-url":
			return vscode.l10n.t("Not a URI.");
		case "scheme":
			return vscode.l10n.t("The URI must start with https://.");
		case "credentials":
			return vscode.l10n.t("Do not put credentials in the URI; set the key separately.");
		case "plain-http":
			return vscode.l10n.t("Plain http:// is only allowed for loopback addresses (127.0.0.1, localhost, ::1): use https://.");
	}
}

/** The endpoint a key command is about: the configured one (never the simulation, which has its own key). */
async function keyTarget(s: Services): Promise<string | undefined> {
	const url = s.config.snapshot().endpoint.url;
	if (url && endpointOrigin(url)) return url;
	const configure = vscode.l10n.t("Configure…");
	void vscode.window
		.showWarningMessage(vscode.l10n.t("Configure the endpoint first: a key is stored for one endpoint and only sent to it."), configure)
		.then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
	return undefined;
}

/**
 * "Set API Key": a password box, for the configured endpoint's origin. An automation (the integration
 * tests) may pass the key as the argument; it still goes only to SecretStorage.
 */
export function setApiKey(s: Services) {
	return async (arg?: unknown): Promise<boolean> => {
		const url = await keyTarget(s);
		if (!url) return false;
		if (typeof arg === "string" && arg.trim()) {
			await s.keys.set(url, arg);
		} else if (!(await s.keys.prompt(url))) {
			return false;
		}
		const origin = endpointOrigin(url) ?? url;
		s.log.info(`[endpoint] API key for ${origin} stored in secret storage`);
		await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight: the key for {0} is stored in VS Code's secret storage.", plainText(origin)));
		return true;
	};
}

export function clearApiKey(s: Services) {
	return async (): Promise<void> => {
		const url = s.config.snapshot().endpoint.url;
		const origin = endpointOrigin(url);
		if (!origin) {
			void vscode.window.showInformationMessage(vscode.l10n.t("No endpoint is configured, so there is no key to remove."));
			return;
		}
		await s.keys.delete(url);
		s.log.info(`[endpoint] API key for ${origin} removed from secret storage`);
		await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", false);
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight: the key for {0} was removed.", plainText(origin)));
	};
}

export interface ConnectionTestResult {
	ok: boolean;
	latencyMs: number;
	dimensions?: number;
	error?: string;
}

/**
 * "Test Connection": one tiny real request (a 32×32 generated PNG); latency and vector length, or the
 * plain reason with an action (the technical detail goes to the log).
 */
export function testConnection(s: Services) {
	return async (): Promise<ConnectionTestResult | undefined> => {
		const configure = vscode.l10n.t("Configure…");
		const showLog = vscode.l10n.t("Show Log");
		let snap;
		try {
			snap = await s.simulation.resolve(s.config.snapshot());
		} catch (e) {
			void vscode.window.showErrorMessage(vscode.l10n.t("The simulated endpoint could not start: {0}", plainText(e instanceof Error ? e.message : String(e))));
			return undefined;
		}
		if (!snap.endpoint.url) {
			void vscode.window.showWarningMessage(vscode.l10n.t("No endpoint is configured."), configure).then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
			return undefined;
		}
		const simulated = s.simulation.isSimulationUrl(snap.endpoint.url);
		const settings = { ...snap.endpoint, retries: 2, maxPauseMs: 15_000, requestTimeoutMs: Math.min(snap.endpoint.requestTimeoutMs, 60_000) };
		const started = Date.now();
		let result: ConnectionTestResult;
		let client: ReturnType<Services["endpoints"]["create"]> | undefined;
		try {
			client = s.endpoints.create(settings, snap.authMode);
			const c = client;
			result = await vscode.window.withProgress(
				{ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t("MedImageInsight: testing {0}…", plainText(simulated ? vscode.l10n.t("the simulated endpoint") : settings.url)), cancellable: true },
				async (_p, token) => {
					const controller = new AbortController();
					const sub = token.onCancellationRequested(() => controller.abort());
					try {
						const [r] = await c.embedImages([{ id: "connection-test", png: testPng() }], controller.signal);
						const latencyMs = Date.now() - started;
						if (!r) return { ok: false, latencyMs, error: "the endpoint returned no result" };
						return r.ok ? { ok: true, latencyMs, dimensions: r.embedding.length } : { ok: false, latencyMs, error: r.error };
					} finally {
						sub.dispose();
					}
				},
			);
		} catch (e) {
			result = { ok: false, latencyMs: Date.now() - started, error: e instanceof Error ? e.message : String(e) };
			const cause = e instanceof Error && e.cause !== undefined ? ` (cause: ${e.cause instanceof Error ? `${(e.cause as NodeJS.ErrnoException).code ?? e.cause.name}: ${e.cause.message}` : String(e.cause)})` : "";
			s.log.warn(`[endpoint] connection test of ${settings.url}: ${result.error}${cause}`);
			if (e instanceof FatalEndpointError && (e.code === "unauthorized" || e.code === "forbidden")) {
				const action = snap.authMode === "key" ? vscode.l10n.t("Set API Key") : configure;
				void vscode.window
					.showErrorMessage(vscode.l10n.t("The endpoint rejected the key: {0}", plainText(e.message)), action, showLog)
					.then((c) => {
						if (c === action) void vscode.commands.executeCommand(snap.authMode === "key" ? "medImageInsight.setApiKey" : "medImageInsight.configureEndpoint");
						else if (c === showLog) s.log.show();
					});
				return result;
			}
		} finally {
			client?.dispose();
		}
		if (result.ok) {
			const what = simulated ? vscode.l10n.t("the simulated endpoint (not MedImageInsight)") : plainText(settings.url);
			s.log.info(`[endpoint] connection test: ${result.dimensions}-long vector in ${result.latencyMs} ms from ${settings.url}`);
			await vscode.commands.executeCommand("setContext", "medImageInsight.endpointReady", true);
			if (snap.authMode === "key") await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
			void vscode.window.showInformationMessage(vscode.l10n.t("Connected to {0}: a {1}-long embedding in {2} ms.", what, String(result.dimensions), String(result.latencyMs)));
		} else {
			s.log.warn(`[endpoint] connection test failed: ${result.error}`);
			void vscode.window.showErrorMessage(vscode.l10n.t("MedImageInsight connection test failed: {0}", plainText(result.error ?? "")), configure, showLog).then((c) => {
				if (c === configure) void vscode.commands.executeCommand("medImageInsight.configureEndpoint");
				else if (c === showLog) s.log.show();
			});
		}
		return result;
	};
}

/** A 32×32 RGB gradient: real image bytes, small enough for any endpoint. */
function testPng(): Uint8Array {
	const png = new PNG({ width: 32, height: 32, colorType: 2, inputHasAlpha: false });
	for (let y = 0; y < 32; y++) {
		for (let x = 0; x < 32; x++) {
			const i = (y * 32 + x) * 4;
			png.data[i] = x * 8;
			png.data[i + 1] = y * 8;
			png.data[i + 2] = 128;
			png.data[i + 3] = 255;
		}
	}
	return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}
