/** What every subcommand gets from main: the cancel signal, the worker script, the logger. */
import type { Logger } from "../core/util/logger";
import type { ProgressLine } from "./progressLine";

export interface CliContext {
	/** Aborted on the first SIGINT (clean stop, results kept). */
	signal: AbortSignal;
	/** dist/convertWorker.js beside the running bundle. */
	workerScript: string;
	logger: Logger;
	progress: ProgressLine;
	/** Writes one line of the final report (stderr). */
	say(line: string): void;
}
