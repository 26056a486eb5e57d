import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import { startSimulator } from "../core/simulator/server";
import { Disposable } from "./disposable";
import type { ConfigSnapshot } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import type { PersistentState } from "./ui/persistentState";
import type { RunStatusBar } from "./ui/statusBar";

/**
 * The built-in simulated endpoint (PRODUCT.md §7), run inside the extension host on 127.0.0.1.
 * Starting it makes it the endpoint of the next runs (globalState, in memory: its URL and port never
 * land in any settings file) with a random key kept in memory (its own key slot: the real endpoint's
 * key is never touched); it is stopped on deactivate. Configuring a real endpoint, or changing the
 * endpoint settings, stops using it. A later session whose user chose the simulation starts a new one
 * (new port) when a run needs it.
 */
export class SimulationHost extends Disposable {
	private server: { url: string; key: string; close(): Promise<void> } | undefined;
	private starting: Promise<string> | undefined;
	private runStarted = false;

	constructor(
		private readonly state: PersistentState,
		private readonly statusBar: RunStatusBar,
		private readonly log: ExtensionLog,
	) {
		super();
		// Deactivation stops the server but keeps the user's choice: the next session starts a new one.
		this.register({ dispose: () => void this.shutdown(false) });
		this.register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration("medImageInsight.endpoint.url") && this.inUse) {
					this.log.info("[simulator] the endpoint setting changed: runs go to the configured endpoint, not the simulation");
					void this.release();
				}
			}),
		);
	}

	get url(): string | undefined {
		return this.server?.url;
	}

	/** True while the user's runs go to the simulation (it is started on demand when not running). */
	get inUse(): boolean {
		return this.state.useSimulation;
	}

	/** The simulation's key, only for its own URL (never for another endpoint). */
	keyFor(url: string): string | undefined {
		return this.server && url === this.server.url ? this.server.key : undefined;
	}

	/** True when `url` is the simulation's (running, or started by us earlier in this workspace). */
	isSimulationUrl(url: string): boolean {
		return url !== "" && (url === this.server?.url || url === this.state.lastSimulationUrl);
	}

	/** True once a run has been started against the simulation since it was last started. */
	get hasRun(): boolean {
		return this.runStarted;
	}

	/** Called by the run controller when a run starts against the simulation. */
	noteRunStarted(): void {
		this.runStarted = true;
	}

	/** Starts the simulation (or reuses the running one), makes it the endpoint of the next runs, returns its URL. */
	async start(): Promise<string> {
		if (this.server) {
			await this.use(this.server.url);
			return this.server.url;
		}
		this.starting ??= (async () => {
			const key = randomBytes(24).toString("base64url");
			const server = await startSimulator({ port: 0, key, logger: this.log.scoped("simulator") });
			this.server = { url: server.url, key, close: () => server.close() };
			this.runStarted = false;
			await this.use(server.url);
			await vscode.commands.executeCommand("setContext", "medImageInsight.simulationRunning", true);
			this.log.info(`[simulator] simulated endpoint (not MedImageInsight) listening on ${server.url}`);
			return server.url;
		})().finally(() => {
			this.starting = undefined;
		});
		return this.starting;
	}

	/** Runs go to the configured endpoint again; the simulation keeps running until stopped. */
	async release(): Promise<void> {
		await this.state.setUseSimulation(false);
		this.statusBar.setSimulation(undefined);
		await vscode.commands.executeCommand("setContext", "medImageInsight.simulationInUse", false);
	}

	/** "Stop Simulated Endpoint": runs go to the configured endpoint again. */
	async stop(): Promise<void> {
		await this.shutdown(true);
	}

	/**
	 * The settings a run or a connection test uses: while the simulation is in use, its URL (started
	 * on demand) and key authentication; else the settings as they are. An endpoint URL that was the
	 * simulation of an earlier version (written into settings then) also means the simulation.
	 */
	async resolve(snap: ConfigSnapshot): Promise<ConfigSnapshot> {
		const legacy = snap.endpoint.url !== "" && snap.endpoint.url === this.state.lastSimulationUrl && snap.endpoint.url !== this.server?.url;
		if (!this.inUse && !legacy) return snap;
		if (legacy) this.log.info(`[run] ${snap.endpoint.url} was the simulated endpoint of an earlier session: starting it again`);
		const url = this.server && this.inUse ? this.server.url : await this.start();
		return Object.freeze({ ...snap, authMode: "key", endpoint: Object.freeze({ ...snap.endpoint, url }) });
	}

	/** The simulation's URL while runs go to it and it runs, for the results view's shared client. */
	get activeUrl(): string | undefined {
		return this.inUse ? this.server?.url : undefined;
	}

	private async shutdown(clearChoice: boolean): Promise<void> {
		const s = this.server;
		if (!s) return;
		this.server = undefined;
		if (clearChoice) await this.state.setUseSimulation(false);
		this.statusBar.setSimulation(undefined);
		void vscode.commands.executeCommand("setContext", "medImageInsight.simulationRunning", false);
		void vscode.commands.executeCommand("setContext", "medImageInsight.simulationInUse", false);
		await s.close();
		this.log.info("[simulator] simulated endpoint stopped");
	}

	private async use(url: string): Promise<void> {
		await this.state.setUseSimulation(true);
		await this.state.setLastSimulationUrl(url);
		this.statusBar.setSimulation(url);
		await vscode.commands.executeCommand("setContext", "medImageInsight.simulationInUse", true);
		await vscode.commands.executeCommand("setContext", "medImageInsight.endpointReady", true);
	}
}

/** Words used wherever the simulation is named. */
export const simulationLabel = vscode.l10n.t("simulated endpoint (not MedImageInsight)");
