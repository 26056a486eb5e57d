import type * as vscode from "vscode";

/** What is remembered about the last run of this workspace (for Retry Failed and Show Results). */
export interface LastRunRecord {
	inputs: string[];
	outDir: string;
	failed: number;
	time: string;
}

/** Typed access to workspaceState: named getters, nothing large. */
export class PersistentState {
	constructor(private readonly memento: vscode.Memento) {}

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
}
