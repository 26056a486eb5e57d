/**
 * The headless CLI (bundled to dist/cli.js, `medimageinsight`): convert, embed, simulate, demo,
 * export, and the queue's submit, worker, status and cancel, on the same core as the extension. Progress and messages on stderr, results on disk.
 * Exit status: 0 success, 1 some files failed, 2 usage or configuration error, 130 cancelled.
 */
import * as path from "node:path";
import { cancelCommand, cancelHelp } from "./cancelCommand";
import { convertCommand, convertHelp } from "./convertCommand";
import type { CliContext } from "./context";
import { demoCommand, demoHelp } from "./demoCommand";
import { embedCommand, embedHelp } from "./embedCommand";
import { exportCommand, exportHelp } from "./exportCommand";
import { ProgressLine } from "./progressLine";
import { simulateCommand, simulateHelp } from "./simulateCommand";
import { statusCommand, statusHelp } from "./statusCommand";
import { stderrLogger } from "./stderrLogger";
import { submitCommand, submitHelp } from "./submitCommand";
import { workerCommand, workerHelp } from "./workerCommand";
import { UsageError } from "./usageError";

const version = "0.1.0";

const mainHelp = `MedImageInsight for the command line ${version}

Usage: medimageinsight <command> [options]

Commands:
  convert <paths…> --out DIR              DICOM → PNG exactly as the reference pipeline
  embed <paths…> --endpoint URL --out DIR  DICOM → MedImageInsight embeddings (key from ${"MEDIMAGEINSIGHT_API_KEY"})
  simulate [--port N]                      a local SIMULATED endpoint (not MedImageInsight) for trying things out
  demo [--out DIR]                         sample studies → simulated endpoint → embeddings, end to end
  export --series RESULTS_DIR --out DIR    series (--studies: study) embeddings as .npy + .csv

Scaling out (a queue on Redis; see README "Scaling out"):
  submit <paths…> --queue redis://HOST:PORT --endpoint URL --out DIR [--wait]   a run as jobs on the queue
  worker --queue redis://HOST:PORT         take jobs (any number, any machine; key from ${"MEDIMAGEINSIGHT_API_KEY"})
  status --queue redis://HOST:PORT [--out DIR]   runs, jobs, images and workers on the queue
  cancel --queue redis://HOST:PORT --out DIR      cancel the run writing to DIR (what was done is kept)

Run "medimageinsight <command> --help" for the options of a command.`;

type Command = (argv: string[], ctx: CliContext) => Promise<number>;
const commands: Record<string, { run: Command; help: string }> = {
	convert: { run: convertCommand, help: convertHelp },
	embed: { run: embedCommand, help: embedHelp },
	simulate: { run: simulateCommand, help: simulateHelp },
	demo: { run: demoCommand, help: demoHelp },
	export: { run: exportCommand, help: exportHelp },
	submit: { run: submitCommand, help: submitHelp },
	worker: { run: workerCommand, help: workerHelp },
	status: { run: statusCommand, help: statusHelp },
	cancel: { run: cancelCommand, help: cancelHelp },
};

export async function main(argv: string[]): Promise<number> {
	const [name, ...rest] = argv;
	if (!name || name === "--help" || name === "-h" || name === "help") {
		const topic = name === "help" && rest[0] ? commands[rest[0]] : undefined;
		process.stderr.write(`${topic ? topic.help : mainHelp}\n`);
		return name ? 0 : 2;
	}
	if (name === "--version" || name === "-v") {
		process.stdout.write(`${version}\n`);
		return 0;
	}
	const command = commands[name];
	if (!command) {
		process.stderr.write(`Unknown command "${name}". Commands: ${Object.keys(commands).join(", ")}. Try --help.\n`);
		return 2;
	}

	const controller = new AbortController();
	let interrupts = 0;
	const onSigint = () => {
		interrupts++;
		if (interrupts === 1) {
			progress.clear();
			process.stderr.write("Stopping… results so far are kept (press Ctrl+C again to quit at once).\n");
			controller.abort();
		} else {
			process.exit(130);
		}
	};
	process.on("SIGINT", onSigint);
	process.on("SIGTERM", onSigint);

	const progress = new ProgressLine(process.stderr);
	const verbose = rest.includes("--verbose");
	const ctx: CliContext = {
		signal: controller.signal,
		workerScript: path.join(__dirname, "convertWorker.js"),
		logger: stderrLogger(verbose ? "debug" : "warn", () => progress.clear()),
		progress,
		say: (line) => {
			progress.clear();
			process.stderr.write(`${line}\n`);
		},
	};
	try {
		return await command.run(rest, ctx);
	} catch (e) {
		progress.clear();
		if (e instanceof UsageError) {
			process.stderr.write(`${e.message}\n`);
			return 2;
		}
		process.stderr.write(`${name} failed: ${e instanceof Error ? (verbose ? (e.stack ?? e.message) : e.message) : String(e)}\n`);
		return 1;
	} finally {
		process.off("SIGINT", onSigint);
		process.off("SIGTERM", onSigint);
	}
}

if (require.main === module) {
	main(process.argv.slice(2)).then(
		(code) => {
			process.exitCode = code;
			// Exit even if a library left a handle open; a clean run has exited before this fires.
			setTimeout(() => process.exit(code), 500).unref();
		},
		(e: unknown) => {
			process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
			process.exitCode = 1;
		},
	);
}
