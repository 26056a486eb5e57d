/**
 * MedImageInsight for VS Code: activate() builds the services and registers the commands. It does
 * no I/O: workers, servers and clients are created when a command needs them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunProgress, RunSummary } from "../core/pipeline/types";
import { configureEndpoint, clearApiKey, setApiKey, testConnection } from "./commands/endpoint";
import { selectAzureEndpoint } from "./commands/azure";
import { registerDicomweb, type DicomwebApi } from "./commands/dicomweb";
import { generateEmbeddings } from "./commands/generateEmbeddings";
import { cancelRun, knownRuns, retryFailed, showResults } from "./commands/results";
import { startSimulatedEndpoint, stopSimulatedEndpoint } from "./commands/simulation";
import { EndpointService } from "./endpoints";
import { RunController } from "./runController";
import type { CommandFactory, Services } from "./services";
import { SimulationHost } from "./simulation";
import { registerLanguageModelTools } from "./tools/languageModelTools";
import { registerRunsView, type RunItemView } from "./views/runsView";
import { Config } from "./ui/config";
import { ExtensionLog } from "./ui/log";
import { PersistentState } from "./ui/persistentState";
import { endpointOrigin, endpointUrlProblem } from "./ui/endpointText";
import { ApiKeyStore } from "./ui/secrets";
import { RunStatusBar } from "./ui/statusBar";
import { registerResultsView } from "./webview/resultsPanel";

/** What activate() returns: a small API the integration tests use. */
export interface MedImageInsightApi {
	readonly lastRun: RunSummary | undefined;
	lastProgress(): RunProgress | undefined;
	/** The progress notification's last message of a run on the queue (medImageInsight.queue.url). */
	lastQueueMessage(): string | undefined;
	isRunning(): boolean;
	statusBarText(): string;
	statusBarTooltip(): string;
	/** The final message of the last run as shown: severity, text and buttons. */
	lastNotice(): { severity: "error" | "warning" | "info"; text: string; actions: string[] } | undefined;
	simulationStatusText(): string;
	simulationUrl(): string | undefined;
	/** Recent log lines (all levels). */
	logLines(): string[];
	/** The output folder a selection of folders would get now. */
	outDirFor(folders: string[]): string;
	/** The rows of the Runs view, read again. */
	runsViewItems(): Promise<RunItemView[]>;
	/** The output folders Show Results offers, most recent first. */
	knownRuns(): string[];
	/** True while runs go to the built-in simulation. */
	simulationInUse(): boolean;
	/** The DICOMweb servers (as kept in globalState: no secrets). */
	dicomwebServers: DicomwebApi["dicomwebServers"];
	/** The rows of the DICOMweb Servers view, every listed study expanded. */
	dicomwebItems: DicomwebApi["dicomwebItems"];
	globalStateDump: DicomwebApi["globalStateDump"];
}

const commands: Record<string, CommandFactory> = {
	"medImageInsight.generateEmbeddings": generateEmbeddings,
	"medImageInsight.configureEndpoint": configureEndpoint,
	"medImageInsight.setApiKey": setApiKey,
	"medImageInsight.clearApiKey": clearApiKey,
	"medImageInsight.selectAzureEndpoint": selectAzureEndpoint,
	"medImageInsight.testConnection": testConnection,
	"medImageInsight.showResults": showResults,
	"medImageInsight.retryFailed": retryFailed,
	"medImageInsight.cancelRun": cancelRun,
	"medImageInsight.startSimulatedEndpoint": startSimulatedEndpoint,
	"medImageInsight.stopSimulatedEndpoint": stopSimulatedEndpoint,
	"medImageInsight.showLog": (s) => () => s.log.show(),
};

let runner: RunController | undefined;

export function activate(context: vscode.ExtensionContext): MedImageInsightApi {
	const log = new ExtensionLog();
	context.subscriptions.push(log);
	try {
		const config = new Config();
		const state = new PersistentState(context.workspaceState, context.globalState);
		// The single key of earlier versions belongs to the endpoint configured then (not to a simulation).
		const keys = push(context, new ApiKeyStore(context.secrets, () => legacyKeyOrigin(config, state)));
		const statusBar = push(context, new RunStatusBar());
		const simulation = push(context, new SimulationHost(state, statusBar, log));
		const endpoints = push(context, new EndpointService(config, keys, log, simulation));
		runner = push(context, new RunController({ context, log, config, keys, endpoints, simulation, statusBar, state }));
		const results = registerResultsView(context, { log: log.scoped("results"), createEmbedder: () => endpoints.sharedClient() });
		const services: Services = { context, log, config, keys, state, statusBar, endpoints, simulation, runner, showResults: (outDir) => results.show(outDir) };
		context.subscriptions.push(
			...registerLanguageModelTools({
				log: log.scoped("tools"),
				currentView: () => results.current(),
				lastRunOutDir: () => runner?.lastRun?.outDir ?? state.lastRun?.outDir,
				embedder: () => endpoints.sharedClient(),
				endpoint: () => {
					const url = config.snapshot().endpoint.url;
					return { url, simulated: simulation.isSimulationUrl(url) };
				},
			}),
		);
		const runsView = registerRunsView(context, {
			log: log.scoped("runs"),
			globalState: context.globalState,
			isRunning: () => runner?.isRunning() ?? false,
			activeOutDir: () => runner?.activeOutDir || undefined,
			lastOutDir: () => runner?.lastRun?.outDir ?? state.lastRun?.outDir,
			outputFolderRoots: () => {
				const setting = config.snapshot().outputFolder.trim();
				if (!setting) return [];
				if (path.isAbsolute(setting)) return [setting];
				return (vscode.workspace.workspaceFolders ?? []).map((f) => path.resolve(f.uri.fsPath, setting));
			},
		});
		for (const [id, factory] of Object.entries(commands)) {
			context.subscriptions.push(vscode.commands.registerCommand(id, factory(services)));
		}
		const dicomweb = registerDicomweb(services);
		// Context keys from memory (workspaceState is loaded before activation): no I/O here.
		void vscode.commands.executeCommand("setContext", "medImageInsight.hasFailures", (state.lastRun?.failed ?? 0) > 0);
		void vscode.commands.executeCommand("setContext", "medImageInsight.hasRuns", state.lastRun !== undefined);
		void vscode.commands.executeCommand("setContext", "medImageInsight.keyAuth", config.snapshot().authMode === "key");
		context.subscriptions.push(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (Config.affectsRun(e) && runner?.isRunning()) log.info("[config] settings changed: the run in progress keeps its settings; the next run uses the new ones");
				if (e.affectsConfiguration("medImageInsight.endpoint.authMode")) void vscode.commands.executeCommand("setContext", "medImageInsight.keyAuth", config.snapshot().authMode === "key");
			}),
		);
		const r = runner;
		return {
			get lastRun() {
				return r.lastRun;
			},
			lastProgress: () => r.lastProgress,
			lastQueueMessage: () => r.lastQueueMessage,
			isRunning: () => r.isRunning(),
			statusBarText: () => statusBar.text,
			statusBarTooltip: () => statusBar.tooltip,
			lastNotice: () => r.lastNotice,
			simulationStatusText: () => statusBar.simulationText,
			simulationUrl: () => simulation.url,
			logLines: () => log.recentLines(),
			runsViewItems: () => runsView.items(),
			knownRuns: () => knownRuns(services).map((k) => k.outDir),
			simulationInUse: () => simulation.inUse,
			dicomwebServers: dicomweb.dicomwebServers,
			dicomwebItems: dicomweb.dicomwebItems,
			globalStateDump: dicomweb.globalStateDump,
			outDirFor: (folders) => r.outDirFor(folders.map((p) => ({ path: p, isDirectory: fs.existsSync(p) && fs.statSync(p).isDirectory() }))),
		};
	} catch (e) {
		// VS Code shows nothing when activation fails: say it, with the log.
		const message = e instanceof Error ? e.message : String(e);
		log.error(`activation failed: ${message}`);
		void vscode.window.showErrorMessage(`MedImageInsight could not start: ${message}`);
		throw e;
	}
}

/** Waits for the active run to stop (it flushes its outputs); everything else is in subscriptions. */
export async function deactivate(): Promise<void> {
	const r = runner;
	runner = undefined;
	if (r?.isRunning()) await Promise.race([r.cancel(), new Promise((res) => setTimeout(res, 4000))]);
}

/** The origin the key of earlier versions was used with: the configured endpoint, unless it was the simulation. */
function legacyKeyOrigin(config: Config, state: PersistentState): string | undefined {
	const url = config.snapshot().endpoint.url;
	if (!url || url === state.lastSimulationUrl || endpointUrlProblem(url)) return undefined;
	return endpointOrigin(url);
}

function push<T extends vscode.Disposable>(context: vscode.ExtensionContext, d: T): T {
	context.subscriptions.push(d);
	return d;
}
