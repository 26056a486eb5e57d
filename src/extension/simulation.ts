import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { startSimulator } from "../core/simulator/server";
import { Disposable } from "./disposable";
import type { Config } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import type { PersistentState } from "./ui/persistentState";
import type { ApiKeyStore } from "./ui/secrets";
import type { RunStatusBar } from "./ui/statusBar";

/**
 * The built-in simulated endpoint (PRODUCT.md §7), run inside the extension host on 127.0.0.1.
 * Starting it points `endpoint.url` at it (workspace settings) and stores its random key in
 * SecretStorage; it is stopped on deactivate. A later run that finds the URL of a simulation that
 * is no longer running starts a new one (new port) instead of failing.
 */
export class SimulationHost extends Disposable {
	private server: { url: string; close(): Promise<void> } | undefined;
	private starting: Promise<string> | undefined;

	constructor(
		private readonly config: Config,
		private readonly keys: ApiKeyStore,
		private readonly state: PersistentState,
		private readonly statusBar: RunStatusBar,
		private readonly log: ExtensionLog,
	) {
		super();
		this.register({ dispose: () => void this.stop() });
	}

	get url(): string | undefined {
		return this.server?.url;
	}

	/** True when `url` is the simulation's (running, or started by us earlier in this workspace). */
	isSimulationUrl(url: string): boolean {
		return url !== "" && (url === this.server?.url || url === this.state.lastSimulationUrl);
	}

	/** Starts the simulation (or reuses the running one), points the settings at it, returns its URL. */
	async start(): Promise<string> {
		if (this.server) {
			await this.point(this.server.url);
			return this.server.url;
		}
		this.starting ??= (async () => {
			const key = randomBytes(24).toString("base64url");
			const server = await startSimulator({ port: 0, key, logger: this.log.scoped("simulator") });
			this.server = server;
			// The key first: the settings change makes clients rebuild, and they must find it.
			await this.keys.set(key);
			await this.point(server.url);
			this.statusBar.setSimulation(server.url);
			await vscode.commands.executeCommand("setContext", "medImageInsight.simulationRunning", true);
			this.log.info(`[simulator] simulated endpoint (not MedImageInsight) listening on ${server.url}`);
			return server.url;
		})().finally(() => {
			this.starting = undefined;
		});
		return this.starting;
	}

	async stop(): Promise<void> {
		const s = this.server;
		if (!s) return;
		this.server = undefined;
		this.statusBar.setSimulation(undefined);
		void vscode.commands.executeCommand("setContext", "medImageInsight.simulationRunning", false);
		await s.close();
		this.log.info("[simulator] simulated endpoint stopped");
	}

	private async point(url: string): Promise<void> {
		await this.config.setAuthMode("key");
		await this.config.setEndpointUrl(url);
		await this.state.setLastSimulationUrl(url);
	}
}

/** Words used wherever the simulation is named. */
export const simulationLabel = vscode.l10n.t("simulated endpoint (not MedImageInsight)");
