import * as path from "node:path";
import * as vscode from "vscode";
import type { RunProgress, RunSummary } from "../core/pipeline/types";
import { probeQueue } from "../core/queue/probeQueue";
import { cancelRun, QueueRunError, runMetaOf, runStatus, submitRun, watchRun, type QueueRunStatus, type QueueRunSummary, type SubmitResult, type SubmitRunOptions } from "../core/queue/queueRun";
import { redactRedisUrl, redisOptions, RedisUrlError } from "../core/queue/redisConnection";
import type { DicomwebAuthMode } from "../core/queue/types";
import { isDicomwebInput } from "../core/sources/dicomweb/url";
import { urlProblemMessage } from "./endpoints";
import type { SimulationHost } from "./simulation";
import type { ConfigSnapshot } from "./ui/config";
import { endpointUrlProblem, plainText } from "./ui/endpointText";
import type { ExtensionLog } from "./ui/log";
import { ReportThrottle } from "./ui/progressText";
import { queueNote, queueProgress, queueProgressMessage, queueSummary, RateMeter, submittedCounts, submittingMessage, zeroCounters, type DoneCounters, type SubmittedCounts } from "./ui/queueText";
import type { RunStatusBar } from "./ui/statusBar";

export interface QueueRunnerDeps {
	context: vscode.ExtensionContext;
	log: ExtensionLog;
	statusBar: RunStatusBar;
	simulation: SimulationHost;
	/** Shows a message (and remembers it as the run's last notice); resolves with the button chosen. */
	tell(severity: "error" | "warning" | "info", text: string, ...actions: string[]): Thenable<string | undefined>;
}

/** A queue ready for a run: its URL as shown (no password) and as used to connect (with the password from SecretStorage, if any). */
export interface QueueTarget {
	shown: string;
	connection: string;
}

/** What a queued run needs from the run controller. */
export interface QueuedRun {
	inputs: string[];
	outDir: string;
	snap: ConfigSnapshot;
	retryFailedOnly: boolean;
	dicomweb?: { auth?: import("../core/sources/dicomweb/types").DicomwebAuth; retrievalConcurrency?: number };
	/** Aborted by Cancel (removes the waiting jobs) and by the window closing (`detached()`: the run goes on with the workers). */
	signal: AbortSignal;
	detached(): boolean;
	/** Every progress report (the counts when the workers run, and the notification's message). */
	onProgress?(p: RunProgress | undefined, message: string): void;
}

export interface QueuedRunEnd {
	summary: RunSummary;
	/** What the final message adds about the queue. */
	note: string;
}

/** How long the quick checks of the queue may take (connect + PING). */
const probeMs = 5000;

/**
 * Generate Embeddings and Retry Failed when `medImageInsight.queue.url` is set (PRODUCT.md §8): the
 * run is submitted to the queue with the core's `submitRun` (the same as `medimageinsight submit`),
 * the notification and the status bar follow the workers through `watchRun` in the words of a local
 * run, Cancel removes the run's waiting jobs (`cancelRun`), and the end is a local run's summary, so
 * the run controller shows the same final message (Show Results opens the merged folder).
 *
 * No key leaves VS Code in queue mode: the workers take the endpoint key from their own
 * environment. A Redis password is never a setting: it is asked for when Redis wants one and kept in
 * SecretStorage, per queue. The built-in simulation is refused: it lives inside this window, with a
 * key only this window knows, so no worker could call it.
 */
export class QueueRunner {
	constructor(private readonly d: QueueRunnerDeps) {}

	private secretName(shown: string): string {
		return `medImageInsight.queuePassword:${shown}`;
	}

	/** The checks before a queued run: the settings, the simulation, Redis answering. Undefined when the user was told why not. */
	async prepare(snap: ConfigSnapshot): Promise<QueueTarget | undefined> {
		const openSettings = vscode.l10n.t("Open Settings");
		const settings = (c: string | undefined) => c === openSettings && void vscode.commands.executeCommand("workbench.action.openSettings", "medImageInsight.queue.url");
		let parsed;
		try {
			parsed = redisOptions(snap.queueUrl);
		} catch (e) {
			const why = e instanceof RedisUrlError ? e.message : String(e);
			void this.d.tell("error", vscode.l10n.t("The medImageInsight.queue.url setting is not a queue URL: {0}", plainText(why)), openSettings).then(settings);
			return undefined;
		}
		const shown = redactRedisUrl(snap.queueUrl);
		if (parsed.password || parsed.username) {
			void this.d.tell("error", 
					vscode.l10n.t("The medImageInsight.queue.url setting holds a user or password. Remove it from the setting ({0}): when Redis asks for a password you are prompted, and it is kept in VS Code's secret storage.", shown),
					openSettings,
				)
				.then(settings);
			return undefined;
		}
		if (this.d.simulation.inUse || this.d.simulation.isSimulationUrl(snap.endpoint.url)) {
			const stop = vscode.l10n.t("Stop Simulation");
			void this.d.tell("error", 
					vscode.l10n.t(
						"Queue runs cannot use the built-in simulated endpoint: it lives inside this VS Code window, with a key only this window knows, so no worker can call it. For a simulated queue run, start `medimageinsight simulate --port 8080` next to the workers (give them its key in MEDIMAGEINSIGHT_API_KEY) and configure http://127.0.0.1:8080/score as the endpoint; or clear medImageInsight.queue.url to run here.",
					),
					stop,
					openSettings,
				)
				.then((c) => (c === stop ? void vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint") : settings(c)));
			return undefined;
		}
		if (!snap.endpoint.url) {
			const configure = vscode.l10n.t("Configure…");
			const azure = vscode.l10n.t("Azure…");
			const c = await this.d.tell("warning", vscode.l10n.t("No MedImageInsight endpoint is configured: the queue's workers need its URL (they take its key from their own MEDIMAGEINSIGHT_API_KEY)."), configure, azure);
			if (c) void vscode.commands.executeCommand(c === configure ? "medImageInsight.configureEndpoint" : "medImageInsight.selectAzureEndpoint");
			return undefined;
		}
		const problem = endpointUrlProblem(snap.endpoint.url);
		if (problem) {
			const configure = vscode.l10n.t("Configure…");
			void this.d.tell("error", plainText(urlProblemMessage(problem, snap.endpoint.url)), configure).then((c) => c && vscode.commands.executeCommand("medImageInsight.configureEndpoint"));
			return undefined;
		}
		return this.reach(snap.queueUrl, shown);
	}

	/** Connects once (with the stored password, asking for one when Redis wants it); undefined after a plain error message. */
	private async reach(url: string, shown: string): Promise<QueueTarget | undefined> {
		const secrets = this.d.context.secrets;
		let password = await secrets.get(this.secretName(shown));
		for (let attempt = 0; ; attempt++) {
			const connection = password ? withPassword(url, password) : url;
			const probe = await probeQueue(connection, probeMs);
			if (probe.ok) {
				this.d.log.info(`[queue] ${shown} answers`);
				return { shown, connection };
			}
			this.d.log.warn(`[queue] ${shown}: ${probe.reason}`);
			if (probe.kind === "auth" && attempt < 2) {
				if (password) await secrets.delete(this.secretName(shown));
				const entered = await vscode.window.showInputBox({
					title: vscode.l10n.t("Password of the queue at {0}", shown),
					prompt: password ? vscode.l10n.t("Redis refused the stored password. Enter the current one (kept in VS Code's secret storage).") : vscode.l10n.t("Redis asks for a password. It is kept in VS Code's secret storage, never in settings."),
					password: true,
					ignoreFocusOut: true,
				});
				if (!entered) return undefined;
				password = entered;
				await secrets.store(this.secretName(shown), entered);
				continue;
			}
			const openSettings = vscode.l10n.t("Open Settings");
			void this.d.tell("error", vscode.l10n.t("Cannot reach the queue at {0}: {1}. Start Redis there, or clear medImageInsight.queue.url to run here.", shown, plainText(probe.reason)), openSettings)
				.then((c) => c === openSettings && vscode.commands.executeCommand("workbench.action.openSettings", "medImageInsight.queue.url"));
			return undefined;
		}
	}

	/** Submits the run, follows it to its end (or Cancel), and returns its summary; undefined when the queue refused it (the user was told). */
	async execute(queue: QueueTarget, run: QueuedRun): Promise<QueuedRunEnd | undefined> {
		const { log, statusBar } = this.d;
		const logger = log.scoped("queue");
		const snap = run.snap;
		const remote = run.inputs.some(isDicomwebInput);
		const options: SubmitRunOptions = {
			queueUrl: queue.connection,
			inputs: run.inputs,
			outDir: run.outDir,
			endpoint: snap.endpoint,
			simulated: false,
			auth: snap.authMode,
			convert: snap.convert,
			...(remote && run.dicomweb?.auth ? { dicomweb: { mode: run.dicomweb.auth.kind as DicomwebAuthMode, auth: run.dicomweb.auth, retrievalConcurrency: run.dicomweb.retrievalConcurrency ?? snap.dicomwebRetrievalConcurrency } } : {}),
			logger,
		};
		let runId: string;
		try {
			runId = runMetaOf(options).runId;
		} catch (e) {
			void this.d.tell("error", plainText(e instanceof Error ? e.message : String(e)));
			return undefined;
		}
		const startedAt = Date.now();
		// The workers' counters before this submission: the summary counts what they do from now on.
		const before = (await runStatus(queue.connection, { outDir: run.outDir })).runs.find((r) => r.runId === runId);
		const base: DoneCounters = before?.done ?? zeroCounters;
		log.info(`[queue] ${run.retryFailedOnly ? "re-submitting" : "submitting"} ${run.inputs.join(", ")} → ${run.outDir} on ${queue.shown} (run ${runId}, endpoint ${snap.endpoint.url}; the workers use their own key)`);
		statusBar.started(run.outDir);

		return vscode.window.withProgress(
			{ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t("MedImageInsight (queue {0})", queue.shown) + (run.retryFailedOnly ? vscode.l10n.t(": retrying the failed files of {0}", path.basename(run.outDir)) : ""), cancellable: true },
			async (progress, token) => {
				const cancel = new AbortController();
				const onCancel = token.onCancellationRequested(() => cancel.abort());
				const onAbort = () => cancel.abort();
				run.signal.addEventListener("abort", onAbort, { once: true });
				if (run.signal.aborted) cancel.abort();
				const throttle = new ReportThrottle(250);
				const say = (message: string, p?: RunProgress, increment?: number): void => {
					progress.report({ message, ...(increment ? { increment } : {}) });
					run.onProgress?.(p, message);
				};
				let reported = 0;
				let submitted: SubmittedCounts = { found: 0, alreadyDone: 0, ignored: 0, done: false };
				const meter = new RateMeter();
				// While the run is submitted and while the workers run, a queue that stops answering (Redis
				// restarted, the network) is said, not a frozen message.
				let heardAt = Date.now();
				let following = true;
				let probing = false;
				let lastProgress: RunProgress | undefined;
				const silence = setInterval(() => {
					if (!following || probing || Date.now() - heardAt < 8000) return;
					probing = true;
					void probeQueue(queue.connection, probeMs)
						.then((r) => {
							if (!r.ok && following && Date.now() - heardAt >= 8000) {
								log.warn(`[queue] ${queue.shown} does not answer: ${r.reason}`);
								say(vscode.l10n.t("The queue at {0} does not answer ({1}): waiting for it to come back…", queue.shown, r.reason), lastProgress);
							}
						})
						.finally(() => (probing = false));
				}, 2000);
				const show = (s: QueueRunStatus, message?: string): void => {
					const p = queueProgress(s, base, submitted, meter.add(s.done.items - base.items), Date.now() - startedAt);
					const pct = p.found > 0 ? Math.min(100, ((p.embedded + p.alreadyDone + p.failed + p.skipped) / p.found) * 100) : 0;
					const increment = pct > reported ? pct - reported : 0;
					reported = Math.max(reported, pct);
					lastProgress = p;
					say(message ?? queueProgressMessage(p, s, queue.shown), p, increment);
					statusBar.progress(p);
				};
				try {
					say(vscode.l10n.t("Putting the run on the queue at {0}…", queue.shown));
					let result: SubmitResult;
					try {
						result = await submitRun(
							{
								...options,
								onProgress: (sp) => {
									heardAt = Date.now();
									submitted = submittedCounts(sp, false);
									if (throttle.shouldReport()) say(submittingMessage(sp, queue.shown));
								},
							},
							cancel.signal,
						);
					} catch (e) {
						if (e instanceof QueueRunError) {
							void this.d.tell("error", plainText(e.message));
							return undefined;
						}
						throw e;
					}
					submitted = submittedCounts(result, true);
					if (result.incomplete && result.incomplete !== "cancelled") log.warn(`[queue] the inputs were not all listed: ${result.incomplete}`);
					log.info(`[queue] run ${result.runId}: ${result.found} found, ${result.alreadyDone} already done, ${result.queued} queued in ${result.jobs} new jobs (${result.existingJobs} of an earlier submission)`);

					let removed: number | undefined;
					let end: QueueRunSummary | undefined;
					following = true;
					heardAt = Date.now();
					if (!cancel.signal.aborted) {
						end = await this.watch(queue, runId, cancel.signal, (s) => {
							heardAt = Date.now();
							if (throttle.shouldReport()) show(s);
						});
					}
					following = false;
					if (cancel.signal.aborted && !run.detached()) {
						// Cancel: the waiting jobs leave the queue; jobs in progress finish and a worker merges what was done.
						say(vscode.l10n.t("Cancelling: removing the run's waiting jobs from the queue…"));
						const reach = await probeQueue(queue.connection, probeMs);
						if (!reach.ok) {
							log.error(`[queue] cancel: cannot reach ${queue.shown}: ${reach.reason}`);
							void this.d.tell("error", vscode.l10n.t("Cannot reach the queue at {0}: {1}. The run's waiting jobs were not removed; cancel again when it answers.", queue.shown, plainText(reach.reason)));
						} else {
							const count = await cancelRun(queue.connection, runId);
							removed = count;
							log.info(`[queue] cancel: removed ${removed} waiting job(s) of run ${runId}`);
							say(vscode.l10n.t("Cancelled: {0} waiting jobs removed. Waiting for the jobs in progress and the merge…", count));
							// Follow the jobs still in progress to the merge, unless no worker is left to do it.
							const settle = new AbortController();
							end = await this.watch(queue, runId, settle.signal, (s) => {
								if ((s.workers === 0 && s.jobs.active === 0) || run.detached()) settle.abort();
								if (throttle.shouldReport()) show(s, vscode.l10n.t("Cancelled: {0} waiting jobs removed. Waiting for the jobs in progress ({1}) and the merge…", count, s.jobs.active));
							});
						}
					}
					if (!end) {
						// The watch could not end normally (the window closing, Redis gone): the run stays with the workers.
						return { summary: { outDir: run.outDir, found: submitted.found, ignored: submitted.ignored, embedded: 0, alreadyDone: submitted.alreadyDone, failed: 0, skipped: 0, cancelled: true, failureReasons: [], elapsedMs: Date.now() - startedAt }, note: queueNote(undefined, removed, queue.shown) };
					}
					const summary = queueSummary(run.outDir, submitted, end, base, removed !== undefined || (cancel.signal.aborted && !end.finished), Date.now() - startedAt);
					return { summary, note: queueNote(end, removed, queue.shown) };
				} finally {
					clearInterval(silence);
					onCancel.dispose();
					run.signal.removeEventListener("abort", onAbort);
				}
			},
		);
	}

	/**
	 * `watchRun` until the run ends or `signal` stops it. While Redis is away the watch's commands
	 * wait for it to come back; a stop does not wait for them (the watch ends on its own later).
	 */
	private async watch(queue: QueueTarget, runId: string, signal: AbortSignal, onStatus: (s: QueueRunStatus) => void): Promise<QueueRunSummary | undefined> {
		let last: QueueRunStatus | undefined;
		const watching = watchRun(
			queue.connection,
			runId,
			(s) => {
				last = s;
				onStatus(s);
			},
			signal,
		);
		watching.catch((e: unknown) => this.d.log.warn(`[queue] following run ${runId}: ${e instanceof Error ? e.message : String(e)}`));
		const stopped = new Promise<"stopped">((resolve) => {
			if (signal.aborted) resolve("stopped");
			else signal.addEventListener("abort", () => setTimeout(() => resolve("stopped"), 3000), { once: true });
		});
		const r = await Promise.race([watching, stopped]);
		if (r !== "stopped") return r;
		return last ? { status: last, finished: last.merged, detached: true } : undefined;
	}
}

/** The queue URL with a password added (only ever passed to the Redis client; never shown or stored). */
function withPassword(url: string, password: string): string {
	const u = new URL(url);
	u.password = password;
	return u.href;
}
