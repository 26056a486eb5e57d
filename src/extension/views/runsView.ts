/**
 * The "Runs" tree view in the MedImageInsight view container: the output folders of this workspace
 * and the recent ones of any workspace (globalState), newest first, each with its counts, date,
 * endpoint (Simulation badged) and state. A click opens the results; the context menu offers Retry
 * Failed, Reveal in Explorer and Delete Results (after a modal confirmation).
 */
import * as path from "node:path";
import * as vscode from "vscode";
import { deleteRunOutputs, describeRun, isRunFolder, type RunEntry } from "../../core/analysis/runCatalog";
import type { Logger } from "../../core/util/logger";
import { Disposable } from "../disposable";

export const runsViewId = "medImageInsight.runs";
const recentKey = "medImageInsight.recentRuns";
const maxRecent = 30;
const decorationScheme = "medimageinsight-run";

export interface RunsViewDeps {
	log: Logger;
	globalState: vscode.Memento;
	isRunning(): boolean;
	/** The output folder of the run in progress, if any. */
	activeOutDir(): string | undefined;
	/** The output folder of the last run of this workspace (this session or earlier). */
	lastOutDir(): string | undefined;
	/** The configured output folder setting, resolved against a workspace folder ("" when unset). */
	outputFolderRoots(): string[];
}

/** The list of recent output folders in globalState (newest first), through named methods. */
class RecentRuns {
	constructor(private readonly memento: vscode.Memento) {}

	get(): string[] {
		const v = this.memento.get<unknown>(recentKey);
		return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && path.isAbsolute(x)) : [];
	}

	async add(outDir: string): Promise<void> {
		const list = this.get().filter((d) => d !== outDir);
		await this.memento.update(recentKey, [outDir, ...list].slice(0, maxRecent));
	}

	async remove(outDir: string): Promise<void> {
		await this.memento.update(recentKey, this.get().filter((d) => d !== outDir));
	}
}

/** A row of the view as the tests and the menus see it. */
export interface RunItemView {
	outDir: string;
	label: string;
	description: string;
	tooltip: string;
	contextValue: string;
	icon: string;
	simulated: boolean;
}

function formatDate(iso: string | undefined, fallbackMs: number): string {
	const d = iso ? new Date(iso) : new Date(fallbackMs);
	if (Number.isNaN(d.getTime())) return "";
	return d.toLocaleString(vscode.env.language, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function endpointHost(url: string | undefined): string {
	if (!url) return "";
	try {
		return new URL(url).host;
	} catch {
		return url;
	}
}

const stateText: Record<RunEntry["state"] | "running", () => string> = {
	finished: () => vscode.l10n.t("finished"),
	failures: () => vscode.l10n.t("finished with failed files"),
	cancelled: () => vscode.l10n.t("cancelled"),
	stopped: () => vscode.l10n.t("stopped"),
	incomplete: () => vscode.l10n.t("incomplete (interrupted, or written by a run in progress)"),
	running: () => vscode.l10n.t("running"),
};

const stateIcon: Record<RunEntry["state"] | "running", [string, string | undefined]> = {
	finished: ["pass", "testing.iconPassed"],
	failures: ["warning", "list.warningForeground"],
	cancelled: ["circle-slash", undefined],
	stopped: ["error", "list.errorForeground"],
	incomplete: ["question", undefined],
	running: ["sync~spin", undefined],
};

export class RunsView extends Disposable implements vscode.TreeDataProvider<RunEntry>, vscode.FileDecorationProvider {
	private readonly changed = this.register(new vscode.EventEmitter<RunEntry | undefined>());
	readonly onDidChangeTreeData = this.changed.event;
	private readonly decorationsChanged = this.register(new vscode.EventEmitter<vscode.Uri[]>());
	readonly onDidChangeFileDecorations = this.decorationsChanged.event;
	private readonly recent: RecentRuns;
	private readonly view: vscode.TreeView<RunEntry>;
	private entries: RunEntry[] = [];
	private lastSeen: { running: boolean; outDir: string | undefined } = { running: false, outDir: undefined };
	private poll: ReturnType<typeof setInterval> | undefined;

	constructor(private readonly deps: RunsViewDeps) {
		super();
		this.recent = new RecentRuns(deps.globalState);
		this.view = this.register(vscode.window.createTreeView(runsViewId, { treeDataProvider: this, showCollapseAll: false }));
		this.register(vscode.window.registerFileDecorationProvider(this));
		const watcher = this.register(vscode.workspace.createFileSystemWatcher("**/{run.json,failures.jsonl}"));
		this.register(watcher.onDidCreate(() => this.refresh()));
		this.register(watcher.onDidChange(() => this.refresh()));
		this.register(watcher.onDidDelete(() => this.refresh()));
		this.register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()));
		// A run's start and end (also outside the workspace): checked every 2 s while the view is visible.
		this.register(this.view.onDidChangeVisibility((e) => this.watchRuns(e.visible)));
		this.register({ dispose: () => this.watchRuns(false) });
		this.watchRuns(this.view.visible);
		const last = deps.lastOutDir();
		if (last) void this.recent.add(last);
	}

	private watchRuns(on: boolean): void {
		if (this.poll) clearInterval(this.poll);
		this.poll = undefined;
		if (!on) return;
		this.refresh();
		this.poll = setInterval(() => void this.checkRun(), 2000);
	}

	/** Records a run that ended in the recent list and refreshes, when the running state changed. */
	async checkRun(): Promise<void> {
		const now = { running: this.deps.isRunning(), outDir: this.deps.activeOutDir() ?? this.deps.lastOutDir() };
		if (now.running === this.lastSeen.running && now.outDir === this.lastSeen.outDir) return;
		this.lastSeen = now;
		if (now.outDir) await this.recent.add(now.outDir);
		this.refresh();
	}

	refresh(): void {
		this.changed.fire(undefined);
	}

	/** Candidate folders: recent ones, the last run's, and results folders found in the workspace. */
	private async candidates(): Promise<string[]> {
		const dirs = new Set<string>(this.recent.get());
		const last = this.deps.lastOutDir();
		if (last) dirs.add(last);
		const active = this.deps.activeOutDir();
		if (active) dirs.add(active);
		for (const f of vscode.workspace.workspaceFolders ?? []) {
			for (const root of [path.join(f.uri.fsPath, ".medimageinsight")]) {
				const children = await vscode.workspace.fs.readDirectory(vscode.Uri.file(root)).then(
					(x) => x,
					() => [] as [string, vscode.FileType][],
				);
				for (const [name, type] of children) if (type === vscode.FileType.Directory) dirs.add(path.join(root, name));
			}
		}
		for (const root of this.deps.outputFolderRoots()) {
			const children = await vscode.workspace.fs.readDirectory(vscode.Uri.file(root)).then(
				(x) => x,
				() => [] as [string, vscode.FileType][],
			);
			for (const [name, type] of children) if (type === vscode.FileType.Directory) dirs.add(path.join(root, name));
		}
		const found = await vscode.workspace.findFiles("**/run.json", "**/node_modules/**", 500);
		for (const u of found) dirs.add(path.dirname(u.fsPath));
		return [...dirs];
	}

	async getChildren(element?: RunEntry): Promise<RunEntry[]> {
		if (element) return [];
		const dirs = await this.candidates();
		const described = await Promise.all(
			dirs.map(async (d) => {
				try {
					return (await isRunFolder(d)) ? await describeRun(d) : undefined;
				} catch (e) {
					this.deps.log.warn(`[runs] could not read ${d}: ${(e as Error).message}`);
					return undefined;
				}
			}),
		);
		const when = (e: RunEntry): number => Date.parse(e.finishedAt ?? "") || e.changedMs;
		this.entries = described.filter((e): e is RunEntry => e !== undefined).sort((a, b) => when(b) - when(a) || a.outDir.localeCompare(b.outDir));
		this.decorationsChanged.fire(this.entries.map((e) => decorationUri(e)));
		return this.entries;
	}

	getTreeItem(e: RunEntry): vscode.TreeItem {
		const v = this.itemView(e);
		const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.None);
		item.id = e.outDir;
		item.description = v.description;
		item.tooltip = new vscode.MarkdownString(v.tooltip);
		item.contextValue = v.contextValue;
		const [icon, color] = stateIcon[this.isActive(e) ? "running" : e.state];
		item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
		item.resourceUri = decorationUri(e);
		item.command = { command: "medImageInsight.showResults", title: vscode.l10n.t("Show Results"), arguments: [e.outDir] };
		return item;
	}

	provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
		if (uri.scheme !== decorationScheme || uri.query !== "simulated") return undefined;
		return new vscode.FileDecoration("S", vscode.l10n.t("Simulated endpoint (not MedImageInsight)"));
	}

	private isActive(e: RunEntry): boolean {
		return this.deps.isRunning() && this.deps.activeOutDir() === e.outDir;
	}

	/** What a row shows, as plain strings. */
	itemView(e: RunEntry): RunItemView {
		const state = this.isActive(e) ? "running" : e.state;
		const parts = [vscode.l10n.t("{0} images", e.embedded)];
		if (e.failed > 0) parts.push(vscode.l10n.t("{0} failed", e.failed));
		if (e.state === "cancelled") parts.push(vscode.l10n.t("cancelled"));
		if (e.state === "stopped") parts.push(vscode.l10n.t("stopped"));
		const date = formatDate(e.finishedAt ?? e.startedAt, e.changedMs);
		if (date) parts.push(date);
		parts.push(e.simulated ? vscode.l10n.t("Simulation") : endpointHost(e.endpointUrl));
		const tip = [
			`**${path.basename(e.outDir)}** — ${stateText[state]()}`,
			"",
			`${vscode.l10n.t("Folder")}: ${e.outDir}`,
			`${vscode.l10n.t("Embedded")}: ${e.embedded} · ${vscode.l10n.t("Failed")}: ${e.failed} · ${vscode.l10n.t("Skipped")}: ${e.skipped}${e.ignored !== undefined ? ` · ${vscode.l10n.t("Ignored")}: ${e.ignored}` : ""}`,
		];
		if (e.startedAt) tip.push(`${vscode.l10n.t("Started")}: ${formatDate(e.startedAt, e.changedMs)}`);
		if (e.finishedAt) tip.push(`${vscode.l10n.t("Finished")}: ${formatDate(e.finishedAt, e.changedMs)}`);
		tip.push(`${vscode.l10n.t("Endpoint")}: ${e.simulated ? vscode.l10n.t("Simulation (not MedImageInsight)") : endpointHost(e.endpointUrl) || vscode.l10n.t("unknown")}`);
		if (e.stopReason) tip.push(`${vscode.l10n.t("Stopped because")}: ${e.stopReason}`);
		const ctx = ["run"];
		if (e.failed > 0 && e.canRetry) ctx.push("failed");
		return {
			outDir: e.outDir,
			label: path.basename(e.outDir),
			description: parts.filter(Boolean).join(" · "),
			// Markdown: a line break needs two trailing spaces.
			tooltip: tip.join("  \n"),
			contextValue: ctx.join(" "),
			icon: stateIcon[state][0],
			simulated: e.simulated,
		};
	}

	/** The rows as they are now (read again). */
	async items(): Promise<RunItemView[]> {
		return (await this.getChildren()).map((e) => this.itemView(e));
	}

	/** The output folder a menu command was invoked on: a tree element, a path, or a Uri. */
	static outDirOf(arg: unknown): string | undefined {
		if (typeof arg === "string") return arg;
		if (arg instanceof vscode.Uri) return arg.fsPath;
		if (typeof arg === "object" && arg !== null && typeof (arg as { outDir?: unknown }).outDir === "string") return (arg as { outDir: string }).outDir;
		return undefined;
	}

	/** Reveal in Explorer: in the Explorer when the folder is in the workspace, else in the OS file manager. */
	async reveal(arg: unknown): Promise<void> {
		const outDir = RunsView.outDirOf(arg) ?? this.view.selection[0]?.outDir;
		if (!outDir) return;
		const uri = vscode.Uri.file(outDir);
		if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand("revealInExplorer", uri);
		else await vscode.commands.executeCommand("revealFileInOS", uri);
	}

	async retryFailed(arg: unknown): Promise<unknown> {
		const outDir = RunsView.outDirOf(arg) ?? this.view.selection[0]?.outDir;
		if (!outDir) return undefined;
		const r = await vscode.commands.executeCommand("medImageInsight.retryFailed", outDir);
		await this.checkRun();
		this.refresh();
		return r;
	}

	/**
	 * Delete Results: after a modal confirmation, removes the files a run writes (and the folder when
	 * nothing else is left); the input DICOM files and anything else in the folder are kept. With
	 * `{ outDir, confirmed: true }` (a caller that asked already) it does not ask again.
	 */
	async deleteResults(arg: unknown): Promise<boolean> {
		const outDir = RunsView.outDirOf(arg) ?? this.view.selection[0]?.outDir;
		if (!outDir) return false;
		if (this.deps.isRunning() && this.deps.activeOutDir() === outDir) {
			void vscode.window.showWarningMessage(vscode.l10n.t("A run is writing to {0}: cancel it first.", outDir));
			return false;
		}
		const confirmed = typeof arg === "object" && arg !== null && (arg as { confirmed?: unknown }).confirmed === true;
		if (!confirmed) {
			const del = vscode.l10n.t("Delete Results");
			const choice = await vscode.window.showWarningMessage(
				vscode.l10n.t("Delete the MedImageInsight results in {0}?", outDir),
				{ modal: true, detail: vscode.l10n.t("The embeddings, failure list, exports, run.json and thumbnails are deleted. Your DICOM files are not touched. This cannot be undone.") },
				del,
			);
			if (choice !== del) return false;
		}
		const r = await deleteRunOutputs(outDir);
		await this.recent.remove(outDir);
		this.deps.log.info(`[runs] deleted the results in ${outDir}${r.removedFolder ? " (and the empty folder)" : `; kept ${r.kept.length} other file(s)`}`);
		this.refresh();
		return true;
	}
}

function decorationUri(e: RunEntry): vscode.Uri {
	return vscode.Uri.from({ scheme: decorationScheme, path: vscode.Uri.file(e.outDir).path, query: e.simulated ? "simulated" : "" });
}

/** Registers the view and its commands; returns it (for the test API). */
export function registerRunsView(context: vscode.ExtensionContext, deps: RunsViewDeps): RunsView {
	const view = new RunsView(deps);
	context.subscriptions.push(
		view,
		vscode.commands.registerCommand("medImageInsight.runs.refresh", () => view.refresh()),
		vscode.commands.registerCommand("medImageInsight.runs.openResults", (arg: unknown) => {
			const outDir = RunsView.outDirOf(arg);
			return outDir ? vscode.commands.executeCommand("medImageInsight.showResults", outDir) : undefined;
		}),
		vscode.commands.registerCommand("medImageInsight.runs.retryFailed", (arg: unknown) => view.retryFailed(arg)),
		vscode.commands.registerCommand("medImageInsight.runs.reveal", (arg: unknown) => view.reveal(arg)),
		vscode.commands.registerCommand("medImageInsight.runs.deleteResults", (arg: unknown) => view.deleteResults(arg)),
	);
	return view;
}
