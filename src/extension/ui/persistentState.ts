import type * as vscode from "vscode";

/** What is remembered about the last run of this workspace (for Retry Failed and Show Results). */
export interface LastRunRecord {
	inputs: string[];
	outDir: string;
	failed: number;
	time: string;
}

/** Typed access to workspaceState (and globalState for what is the user's, not the project's): named getters, nothing large. */
export class PersistentState {
	constructor(
		private readonly memento: vscode.Memento,
		private readonly global: vscode.Memento = memento,
	) {}

	get lastRun(): LastRunRecord | undefined {
		const v = this.memento.get<unknown>("medImageInsight.lastRun");
		if (!v || typeof v !== "object") return undefined;
		const r = v as Partial<LastRunRecord>;
		if (!Array.isArray(r.inputs) || typeof r.outDir !== "string") return undefined;
		return { inputs: r.inputs.filter((x): x is string => typeof x === "string"), outDir: r.outDir, failed: typeof r.failed === "number" ? r.failed : 0, time: typeof r.time === "string" ? r.time : "" };
	}

	async setLastRun(r: LastRunRecord): Promise<void> {
		await this.memento.update("medImageInsight.lastRun", r);
	}

	/** The URL the simulated endpoint had when it was last started in this workspace. */
	get lastSimulationUrl(): string | undefined {
		const v = this.memento.get<unknown>("medImageInsight.lastSimulationUrl");
		return typeof v === "string" ? v : undefined;
	}

	async setLastSimulationUrl(url: string | undefined): Promise<void> {
		await this.memento.update("medImageInsight.lastSimulationUrl", url);
	}

	/**
	 * True while the user chose the built-in simulation as the endpoint (Start Simulated Endpoint), until
	 * they configure a real one or stop it. Kept in globalState, never in settings: its port changes.
	 */
	get useSimulation(): boolean {
		return this.global.get<unknown>("medImageInsight.useSimulation") === true;
	}

	async setUseSimulation(on: boolean): Promise<void> {
		await this.global.update("medImageInsight.useSimulation", on ? true : undefined);
	}
}
