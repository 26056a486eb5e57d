import * as vscode from "vscode";
import { PNG } from "pngjs";
import { FatalEndpointError } from "../../core/endpoint/types";
import type { Services } from "../services";
import type { AuthMode } from "../ui/config";

/** "Configure Endpoint": scoring URI, then authentication mode, then the key when needed. */
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
			{ mode: "key", label: vscode.l10n.t("Endpoint key"), description: vscode.l10n.t("the common case"), detail: vscode.l10n.t("Kept in VS Code's secret storage.") },
			{ mode: "entra", label: vscode.l10n.t("Microsoft Entra ID"), description: "aad_token", detail: vscode.l10n.t("Uses your Microsoft sign-in in VS Code (scope https://ml.azure.com/.default).") },
		];
		const mode = await vscode.window.showQuickPick(items, { title: vscode.l10n.t("MedImageInsight: Authentication (2/2)"), ignoreFocusOut: true, placeHolder: snap.authMode });
		if (!mode) return false;
		await s.config.setEndpointUrl(url.trim());
		await s.config.setAuthMode(mode.mode);
		if (mode.mode === "key" && !(await s.keys.has())) await s.keys.prompt();
		s.log.info(`[endpoint] endpoint set to ${url.trim()} (${mode.mode})`);
		const test = vscode.l10n.t("Test Connection");
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight endpoint set."), test).then((c) => c && vscode.commands.executeCommand("medImageInsight.testConnection"));
		return true;
	};
}

function validateUrl(v: string): string | undefined {
	const t = v.trim();
	if (!t) return vscode.l10n.t("Enter the scoring URI.");
	try {
		const u = new URL(t);
		if (u.protocol !== "https:" && u.protocol !== "http:") return vscode.l10n.t("The URI must start with https://.");
		if (u.username || u.password) return vscode.l10n.t("Do not put credentials in the URI; set the key separately.");
	} catch {
		return vscode.l10n.t("Not a URI.");
	}
	return undefined;
}

/**
 * "Set API Key": a password box. An automation (the integration tests) may pass the key as the
 * argument; it still goes only to SecretStorage.
 */
export function setApiKey(s: Services) {
	return async (arg?: unknown): Promise<boolean> => {
		if (typeof arg === "string" && arg.trim()) {
			await s.keys.set(arg);
		} else if (!(await s.keys.prompt())) {
			return false;
		}
		s.log.info("[endpoint] API key stored in secret storage");
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight: the API key is stored in VS Code's secret storage."));
		return true;
	};
}

export function clearApiKey(s: Services) {
	return async (): Promise<void> => {
		await s.keys.delete();
		s.log.info("[endpoint] API key removed from secret storage");
		void vscode.window.showInformationMessage(vscode.l10n.t("MedImageInsight: the API key was removed."));
	};
}

export interface ConnectionTestResult {
	ok: boolean;
	latencyMs: number;
	dimensions?: number;
	error?: string;
}

/** "Test Connection": one tiny real request (a 32×32 generated PNG); latency and vector length, or the error with an action. */
export function testConnection(s: Services) {
	return async (): Promise<ConnectionTestResult | undefined> => {
		const snap = s.config.snapshot();
		if (!snap.endpoint.url) {
			void vscode.window.showWarningMessage(vscode.l10n.t("No endpoint is configured."), vscode.l10n.t("Configure Endpoint")).then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
			return undefined;
		}
		const simulated = s.simulation.isSimulationUrl(snap.endpoint.url);
		if (simulated && s.simulation.url !== snap.endpoint.url) await s.simulation.start();
		const settings = { ...s.config.snapshot().endpoint, retries: 2, maxPauseMs: 15_000, requestTimeoutMs: Math.min(snap.endpoint.requestTimeoutMs, 60_000) };
		const client = s.endpoints.create(settings, snap.authMode);
		const started = Date.now();
		let result: ConnectionTestResult;
		try {
			result = await vscode.window.withProgress(
				{ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t("MedImageInsight: testing {0}…", settings.url), cancellable: true },
				async (_p, token) => {
					const controller = new AbortController();
					const sub = token.onCancellationRequested(() => controller.abort());
					try {
						const [r] = await client.embedImages([{ id: "connection-test", png: testPng() }], controller.signal);
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
			if (e instanceof FatalEndpointError && (e.code === "unauthorized" || e.code === "forbidden")) {
				s.log.warn(`[endpoint] connection test: ${e.message}`);
				const action = snap.authMode === "key" ? vscode.l10n.t("Set API Key") : vscode.l10n.t("Configure Endpoint");
				void vscode.window
					.showErrorMessage(vscode.l10n.t("The endpoint rejected the key: {0}", e.message), action)
					.then((c) => c && vscode.commands.executeCommand(snap.authMode === "key" ? "medImageInsight.setApiKey" : "medImageInsight.configureEndpoint"));
				return result;
			}
		} finally {
			client.dispose();
		}
		if (result.ok) {
			const what = simulated ? vscode.l10n.t("the simulated endpoint (not MedImageInsight)") : settings.url;
			s.log.info(`[endpoint] connection test: ${result.dimensions}-long vector in ${result.latencyMs} ms from ${settings.url}`);
			void vscode.window.showInformationMessage(vscode.l10n.t("Connected to {0}: a {1}-long embedding in {2} ms.", what, String(result.dimensions), String(result.latencyMs)));
		} else {
			s.log.warn(`[endpoint] connection test failed: ${result.error}`);
			const configure = vscode.l10n.t("Configure Endpoint");
			const showLog = vscode.l10n.t("Show Log");
			void vscode.window.showErrorMessage(vscode.l10n.t("MedImageInsight connection test failed: {0}", result.error ?? ""), configure, showLog).then((c) => {
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
