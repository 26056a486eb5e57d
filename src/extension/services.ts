import type * as vscode from "vscode";
import type { EndpointService } from "./endpoints";
import type { RunController } from "./runController";
import type { SimulationHost } from "./simulation";
import type { Config } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import type { PersistentState } from "./ui/persistentState";
import type { ApiKeyStore } from "./ui/secrets";
import type { RunStatusBar } from "./ui/statusBar";

/** What command factories get: everything the shell built in activate(), nothing global. */
export interface Services {
	context: vscode.ExtensionContext;
	log: ExtensionLog;
	config: Config;
	keys: ApiKeyStore;
	state: PersistentState;
	statusBar: RunStatusBar;
	endpoints: EndpointService;
	simulation: SimulationHost;
	runner: RunController;
	/** Opens the results view on an output folder. */
	showResults(outDir: string): void;
}

/** A command factory: services in, handler out. */
export type CommandFactory = (s: Services) => (...args: unknown[]) => unknown;
