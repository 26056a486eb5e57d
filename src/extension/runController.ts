import * as path from "node:path";
import * as vscode from "vscode";
import { FatalEndpointError, type ImageEmbedder } from "../core/endpoint/types";
import { runEmbedding } from "../core/pipeline/run";
import type { RunOptions, RunProgress, RunSummary } from "../core/pipeline/types";
import { isDicomwebInput } from "../core/sources/dicomweb/url";
import { Disposable } from "./disposable";
import { urlProblemMessage, type EndpointService } from "./endpoints";
import { QueueRunner, type QueueTarget } from "./queueRunner";
import { ResultsPanel } from "./webview/resultsPanel";
import type { SimulationHost } from "./simulation";
import type { Config, ConfigSnapshot } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import { resolveOutDir, selectionName, type SelectedInput } from "./ui/outputLocation";
import type { PersistentState } from "./ui/persistentState";
import { endpointOrigin, endpointUrlProblem, plainText } from "./ui/endpointText";
import { formatCount, percentDone, progressMessage, ReportThrottle, summaryMessage } from "./ui/progressText";
import type { ApiKeyStore } from "./ui/secrets";
import type { RunStatusBar } from "./ui/statusBar";

export interface RunControllerDeps {
	context: vscode.ExtensionContext;
	log: ExtensionLog;
	config: Config;
	keys: ApiKeyStore;
	endpoints: EndpointService;
	simulation: SimulationHost;
	statusBar: RunStatusBar;
	state: PersistentState;
}

export interface StartRunOptions {
	retryFailedOnly?: boolean;
	/** Use this output folder instead of the computed one (Retry Failed of an earlier run). */
	outDir?: string;
	/** Credentials and limits of DICOMweb URL inputs (default: from the server the URL belongs to). */
	dicomweb?: RunOptions["dicomweb"];
}

interface ActiveRun {
	controller: AbortController;
	outDir: string;
	/** Set when the window closes: a queued run goes on with its workers (only a Cancel removes its jobs). */
	detached?: boolean;
}

/**
 * Owns the one run at a time: preflight (endpoint, credentials), the progress notification, the
 * status bar, cancellation, and the message at the end. A second run while one runs is refused.
 */
export class RunController extends Disposable {
	private active: ActiveRun | undefined;
	private activePromise: Promise<RunSummary | undefined> | undefined;
	private last: RunSummary | undefined;
	private latestProgress: RunProgress | undefined;
	private notice: { severity: "error" | "warning" | "info"; text: string; actions: string[] } | undefined;

	private readonly queue: QueueRunner;

	constructor(private readonly d: RunControllerDeps) {
		super();
		this.queue = new QueueRunner({ ...d, tell: (severity, text, ...actions) => this.tell(severity, text, actions) });
		this.register({
			dispose: () => {
				if (this.active) this.active.detached = true;
				this.active?.controller.abort();
			},
		});
	}

	get lastRun(): RunSummary | undefined {
		return this.last;
	}

	/** The final message of the last run as shown (text and buttons). */
	get lastNotice(): { severity: "error" | "warning" | "info"; text: string; actions: string[] } | undefined {
		return this.notice;
	}

	/** The progress notification's last message of a queued run. */
	get lastQueueMessage(): string | undefined {
		return this.queueMessage;
	}

	private queueMessage: string | undefined;

	get lastProgress(): RunProgress | undefined {
		return this.latestProgress;
	}

	private dicomwebResolver: ((url: string) => RunOptions["dicomweb"] | undefined) | undefined;

	/** How a DICOMweb URL input finds its credentials when the caller gave none (Retry Failed). */
	setDicomwebResolver(resolve: (url: string) => RunOptions["dicomweb"] | undefined): void {
		this.dicomwebResolver = resolve;
	}

	isRunning(): boolean {
		return this.active !== undefined;
	}

	/** The output folder of the run in progress ("" while it is being chosen), or undefined. */
	get activeOutDir(): string | undefined {
		return this.active?.outDir;
	}

	/** Aborts the active run; resolves when it has stopped (outputs flushed). */
	async cancel(): Promise<boolean> {
		const run = this.active;
		if (!run) return false;
		this.d.log.info("[run] cancel requested");
		run.controller.abort();
		await this.activePromise;
		return true;
	}

	/** Waits for the active run, if any (deactivate). */
	async whenIdle(): Promise<void> {
		await this.activePromise;
	}

	/** The output folder a selection gets with the current settings. */
	outDirFor(inputs: readonly SelectedInput[], snap: ConfigSnapshot = this.d.config.snapshot()): string {
		const first = inputs[0];
		const folder = first ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(first.path)) ?? vscode.workspace.workspaceFolders?.[0] : undefined;
		return resolveOutDir({
			name: selectionName(inputs),
			workspaceFolder: folder?.uri.fsPath,
			globalStorage: this.d.context.globalStorageUri.fsPath,
			outputFolder: snap.outputFolder,
			inputs: inputs.map((i) => i.path),
		});
	}

	async run(inputs: readonly SelectedInput[], options: StartRunOptions = {}): Promise<RunSummary | undefined> {
		if (this.active) {
			void vscode.window
				.showWarningMessage(vscode.l10n.t("A MedImageInsight run is already in progress (→ {0}). Wait for it or cancel it first.", this.active.outDir), vscode.l10n.t("Cancel Run"))
				.then((c) => c && vscode.commands.executeCommand("medImageInsight.cancelRun"));
			return undefined;
		}
		if (inputs.length === 0) return undefined;
		// Claim the slot before any await, so two quick clicks cannot start two runs.
		const controller = new AbortController();
		const claim: ActiveRun = { controller, outDir: "" };
		this.active = claim;
		// What the last run showed is not this run's (tests read these while a run is active).
		this.latestProgress = undefined;
		this.queueMessage = undefined;
		let release = true;
		try {
			const scope = inputs[0] ? vscode.Uri.file(inputs[0].path) : undefined;
			// medImageInsight.queue.url set: the run goes on the queue, for the workers (queueRunner.ts).
			const queued = this.d.config.snapshot(scope);
			if (queued.queueUrl) {
				const target = await this.queue.prepare(queued);
				if (!target) return undefined;
				claim.outDir = options.outDir ?? this.outDirFor(inputs, queued);
				release = false;
				this.activePromise = this.executeQueued(inputs, queued, target, claim, options);
				return await this.activePromise;
			}
			const snap = await this.preflight(scope);
			if (!snap) return undefined;
			claim.outDir = options.outDir ?? this.outDirFor(inputs, snap);
			release = false;
			this.activePromise = this.execute(inputs, snap, claim, options);
			return await this.activePromise;
		} finally {
			if (release && this.active === claim) this.active = undefined;
		}
	}

	/** Settings + credentials ready, or undefined (the user was told why). */
	private async preflight(scope: vscode.Uri | undefined): Promise<ConfigSnapshot | undefined> {
		let snap = await this.d.simulation.resolve(this.d.config.snapshot(scope));
		if (!snap.endpoint.url) {
			const configure = vscode.l10n.t("Configure…");
			const azure = vscode.l10n.t("Azure…");
			const simulate = vscode.l10n.t("Try simulation");
			const choice = await vscode.window.showWarningMessage(vscode.l10n.t("No MedImageInsight endpoint is configured."), configure, azure, simulate);
			const command =
				choice === configure ? "medImageInsight.configureEndpoint" : choice === azure ? "medImageInsight.selectAzureEndpoint" : choice === simulate ? "medImageInsight.startSimulatedEndpoint" : undefined;
			if (!command) return undefined;
			await vscode.commands.executeCommand(command, { quiet: true });
			snap = await this.d.simulation.resolve(this.d.config.snapshot(scope));
			if (!snap.endpoint.url) return undefined;
		}
		const problem = endpointUrlProblem(snap.endpoint.url);
		if (problem) {
			const configure = vscode.l10n.t("Configure…");
			void vscode.window.showErrorMessage(plainText(urlProblemMessage(problem, snap.endpoint.url)), configure).then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
			return undefined;
		}
		if (snap.authMode === "key" && !this.d.simulation.keyFor(snap.endpoint.url) && !(await this.d.keys.has(snap.endpoint.url))) {
			const origin = endpointOrigin(snap.endpoint.url) ?? snap.endpoint.url;
			if (!(await this.d.keys.prompt(snap.endpoint.url, vscode.l10n.t("No key is set for the endpoint at {0}. Enter it to start (kept in VS Code's secret storage, only sent to this endpoint).", plainText(origin))))) return undefined;
			await vscode.commands.executeCommand("setContext", "medImageInsight.keyReady", true);
		}
		if (snap.authMode === "entra") {
			try {
				await this.d.endpoints.tokenProvider("entra", snap.endpoint.url).getToken();
			} catch (e) {
				void vscode.window.showErrorMessage(plainText(e instanceof Error ? e.message : String(e)));
				return undefined;
			}
		}
		return snap;
	}

	private async execute(inputs: readonly SelectedInput[], snap: ConfigSnapshot, run: ActiveRun, options: StartRunOptions): Promise<RunSummary | undefined> {
		const { log, statusBar } = this.d;
		const simulated = this.d.simulation.isSimulationUrl(snap.endpoint.url);
		if (simulated) this.d.simulation.noteRunStarted();
		const remote = inputs.find((i) => isDicomwebInput(i.path));
		const dicomweb = options.dicomweb ?? (remote ? this.dicomwebResolver?.(remote.path) : undefined);
		const runOptions: RunOptions = Object.freeze({
			inputs: inputs.map((i) => i.path),
			outDir: run.outDir,
			convert: snap.convert,
			endpoint: snap.endpoint,
			simulated,
			...(snap.workers > 0 ? { workers: snap.workers } : {}),
			...(options.retryFailedOnly ? { retryFailedOnly: true } : {}),
			...(dicomweb ? { dicomweb } : {}),
		});
		let embedder: ImageEmbedder;
		try {
			embedder = this.d.endpoints.create(snap.endpoint, snap.authMode);
		} catch (e) {
			this.active = undefined;
			const message = e instanceof Error ? e.message : String(e);
			void vscode.window.showErrorMessage(plainText(message), vscode.l10n.t("Configure…")).then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
			return undefined;
		}
		this.latestProgress = undefined;
		await vscode.commands.executeCommand("setContext", "medImageInsight.running", true);
		statusBar.started(run.outDir);
		log.info(`[run] ${options.retryFailedOnly ? "retrying the failed files of" : "embedding"} ${runOptions.inputs.join(", ")} → ${run.outDir} (endpoint ${snap.endpoint.url}${simulated ? ", simulation" : ""})`);
		let summary: RunSummary | undefined;
		let crash: unknown;
		try {
			summary = await vscode.window.withProgress(
				{
					location: vscode.ProgressLocation.Notification,
					title: `${simulated ? "MedImageInsight (simulation)" : "MedImageInsight"}${options.retryFailedOnly ? vscode.l10n.t(": retrying the failed files of {0}", path.basename(run.outDir)) : ""}`,
					cancellable: true,
				},
				async (progress, token) => {
					const onCancel = token.onCancellationRequested(() => run.controller.abort());
					const throttle = new ReportThrottle(250);
					let reported = 0;
					const report = (p: RunProgress): void => {
						const pct = percentDone(p);
						const increment = pct > reported ? pct - reported : 0;
						reported = Math.max(reported, pct);
						progress.report({ message: progressMessage(p), increment });
					};
					progress.report({ message: vscode.l10n.t("Looking for DICOM files…") });
					// While the endpoint is paused no progress arrives: keep the countdown moving.
					const ticker = setInterval(() => {
						const p = this.latestProgress;
						if (p?.client.state === "paused" && throttle.shouldReport()) {
							report(p);
							statusBar.progress(p);
						}
					}, 1000);
					try {
						return await runEmbedding(
							runOptions,
							{
								embedder,
								workerScript: path.join(this.d.context.extensionPath, "dist", "convertWorker.js"),
								logger: log.scoped("run"),
								onProgress: (p) => {
									this.latestProgress = p;
									if (throttle.shouldReport()) {
										report(p);
										statusBar.progress(p);
									}
								},
							},
							run.controller.signal,
						);
					} finally {
						clearInterval(ticker);
						onCancel.dispose();
					}
				},
			);
		} catch (e) {
			crash = e;
		} finally {
			embedder.dispose();
			this.active = undefined;
			await vscode.commands.executeCommand("setContext", "medImageInsight.running", false);
		}
		if (crash !== undefined || !summary) {
			if (crash instanceof FatalEndpointError) {
				summary = { outDir: run.outDir, found: 0, ignored: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, cancelled: false, fatal: { code: crash.code, message: crash.message }, elapsedMs: 0 };
			} else {
				this.crashed(crash);
				return undefined;
			}
		}
		return this.finish(summary, simulated, snap, inputs, runOptions.inputs);
	}

	/** An unexpected error ended the run: said plainly, details in the log. */
	private crashed(crash: unknown): void {
		const message = crash instanceof Error ? crash.message : String(crash);
		this.d.log.error(`[run] the run stopped with an unexpected error: ${message}`);
		if (crash instanceof Error && crash.stack) this.d.log.debug(crash.stack);
		this.d.statusBar.crashed(message);
		void vscode.window.showErrorMessage(vscode.l10n.t("The MedImageInsight run stopped with an error: {0}", plainText(message)), vscode.l10n.t("Show Log")).then((c) => c && this.d.log.show());
	}

	/** A run submitted to the queue (queueRunner.ts) instead of run here. */
	private async executeQueued(inputs: readonly SelectedInput[], snap: ConfigSnapshot, target: QueueTarget, run: ActiveRun, options: StartRunOptions): Promise<RunSummary | undefined> {
		const remote = inputs.find((i) => isDicomwebInput(i.path));
		const dicomweb = options.dicomweb ?? (remote ? this.dicomwebResolver?.(remote.path) : undefined);
		const runInputs = inputs.map((i) => i.path);
		this.latestProgress = undefined;
		this.queueMessage = undefined;
		await vscode.commands.executeCommand("setContext", "medImageInsight.running", true);
		let end: Awaited<ReturnType<QueueRunner["execute"]>>;
		try {
			end = await this.queue.execute(target, {
				inputs: runInputs,
				outDir: run.outDir,
				snap,
				retryFailedOnly: options.retryFailedOnly === true,
				...(dicomweb ? { dicomweb } : {}),
				signal: run.controller.signal,
				detached: () => run.detached === true,
				onProgress: (p, message) => {
					if (p) this.latestProgress = p;
					this.queueMessage = message;
				},
			});
		} catch (e) {
			this.crashed(e);
			return undefined;
		} finally {
			this.active = undefined;
			await vscode.commands.executeCommand("setContext", "medImageInsight.running", false);
		}
		if (!end) {
			this.d.statusBar.crashed(vscode.l10n.t("The queue did not take the run (see the message)."));
			return undefined;
		}
		return this.finish(end.summary, false, snap, inputs, runInputs, { queue: target.shown, note: end.note });
	}

	/** What every run does at its end: remember it, update the status bar, the contexts and an open results view, and say how it went. */
	private async finish(summary: RunSummary, simulated: boolean, snap: ConfigSnapshot, inputs: readonly SelectedInput[], runInputs: string[], queued?: { queue: string; note: string }): Promise<RunSummary> {
		const { log, statusBar } = this.d;
		this.last = summary;
		statusBar.finished(summary, simulated);
		log.info(`[run] ${summaryMessage(summary, simulated)}${queued?.note ? ` ${queued.note}` : ""} Outputs: ${summary.outDir}`);
		for (const r of summary.failureReasons ?? []) log.info(`[run] failed: ${r.count} × ${r.reason}`);
		await this.d.state.setLastRun({ inputs: runInputs, outDir: summary.outDir, failed: summary.failed, time: new Date().toISOString() });
		await vscode.commands.executeCommand("setContext", "medImageInsight.hasFailures", summary.failed > 0);
		if (summary.embedded + summary.alreadyDone > 0) await vscode.commands.executeCommand("setContext", "medImageInsight.hasRuns", true);
		if (!summary.fatal && summary.embedded + summary.alreadyDone > 0) await vscode.commands.executeCommand("setContext", "medImageInsight.embedded", true);
		// An open results view of this folder shows what the run did.
		ResultsPanel.refreshIfOpen(summary.outDir);
		this.notify(summary, simulated, snap, inputs, queued);
		return summary;
	}

	/** Shows a message about a run and keeps it as the last notice (the tests read it). */
	private tell(severity: "error" | "warning" | "info", text: string, actions: string[]): Thenable<string | undefined> {
		this.notice = { severity, text, actions };
		return severity === "error" ? vscode.window.showErrorMessage(text, ...actions) : severity === "warning" ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions);
	}

	/** The message at the end of a run, with the actions that make sense. Not awaited. */
	private notify(s: RunSummary, simulated: boolean, snap: ConfigSnapshot, inputs: readonly SelectedInput[], queued?: { queue: string; note: string }): void {
		const showResults = vscode.l10n.t("Show Results");
		const retry = s.failed > 0 ? vscode.l10n.t("Retry {0} failed", formatCount(s.failed)) : "";
		const showLog = vscode.l10n.t("Show Log");
		const setKey = vscode.l10n.t("Set API Key");
		const configure = vscode.l10n.t("Configure…");
		const test = vscode.l10n.t("Test Connection");
		const show = (severity: "error" | "warning" | "info", text: string, ...actions: string[]): void => {
			void this.tell(severity, text, actions).then(act);
		};
		const act = (choice: string | undefined): void => {
			if (choice === showResults) void vscode.commands.executeCommand("medImageInsight.showResults", s.outDir);
			else if (choice === retry) void vscode.commands.executeCommand("medImageInsight.retryFailed", s.outDir);
			else if (choice === showLog) this.d.log.show();
			else if (choice === setKey) void vscode.commands.executeCommand("medImageInsight.setApiKey");
			else if (choice === configure) void vscode.commands.executeCommand("medImageInsight.configureEndpoint");
			else if (choice === test) void vscode.commands.executeCommand("medImageInsight.testConnection");
		};
		// A single file: say where its results went (they are not beside it).
		const single =
			(inputs.length === 1 && inputs[0] && !inputs[0].isDirectory ? ` ${vscode.l10n.t("Results of {0}: {1}", path.basename(inputs[0].path), s.outDir)}` : "") + (queued?.note ? ` ${plainText(queued.note)}` : "");
		if (s.fatal && queued) {
			// A worker's configuration (its key, its endpoint access): fixed on the workers, not here.
			show(
				"error",
				vscode.l10n.t(
					"A queue worker stopped the run: {0}. The workers take the endpoint key from their own MEDIMAGEINSIGHT_API_KEY: fix it there and start them again; the run's jobs stay on the queue at {1}.",
					plainText(s.fatal.message),
					queued.queue,
				),
				showLog,
			);
			return;
		}
		if (s.fatal) {
			const code = s.fatal.code;
			if (code === "dicomweb") {
				// The DICOMweb source failed (credentials, redirect, unreachable): not the endpoint's fault.
				show("error", plainText(summaryMessage(s, simulated)), showLog);
			} else if (code === "unauthorized" || code === "forbidden") {
				const msg =
					snap.authMode === "key"
						? vscode.l10n.t("The endpoint rejected the key ({0}). Set the endpoint's current key and run again; what was done is kept.", plainText(s.fatal.message))
						: vscode.l10n.t("The endpoint rejected the Microsoft Entra ID token ({0}). Check that your account may call it, or use a key.", plainText(s.fatal.message));
				show("error", msg, ...(snap.authMode === "key" ? [setKey] : [configure]), showLog);
			} else {
				// A dead or wrong endpoint (refused, no such host, TLS, 404, redirect…): the plain reason, and what to do.
				show("error", plainText(summaryMessage(s, simulated)), configure, test, showLog);
			}
			return;
		}
		if (s.failed > 0) {
			show("warning", plainText(summaryMessage(s, simulated)) + single, showResults, retry, showLog);
			return;
		}
		const results = s.embedded + s.alreadyDone > 0 ? [showResults] : [];
		show("info", plainText(summaryMessage(s, simulated)) + single, ...results, showLog);
	}
}
