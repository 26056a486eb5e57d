/**
 * The results panel host: one webview panel per output folder (revealed if already open), restored
 * after a reload by a WebviewPanelSerializer, with a strict CSP and a fresh nonce per render. The data
 * work lives in ResultsSession (src/core/analysis/resultsSession.ts); this file adds what needs VS Code:
 * the panel, dialogs, clipboard, commands and the text embedder.
 * Only folders the extension opened or produced are shown (TrustedFolders): a restored panel whose saved
 * state names another folder is refused with a message.
 */
import { randomBytes } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { ResultsSession, type ShellAction } from "../../core/analysis/resultsSession";
import { runUmapInWorker } from "../../core/analysis/umapWorkerClient";
import type { ImageEmbedder } from "../../core/endpoint/types";
import type { SummaryData } from "../../core/protocol/webview";
import { readResults } from "../../core/results/reader";
import type { Logger } from "../../core/util/logger";
import { renderHtml, renderMessagePage } from "./html";
import { webviewStrings } from "./strings";
import { TrustedFolders } from "./trustedFolders";

export const resultsViewType = "medImageInsight.results";

export interface ResultsViewDeps {
	log: Logger;
	/** The client for text embeddings; called per request, owned (and disposed) by the caller. */
	createEmbedder(): Promise<ImageEmbedder>;
}

/** Windows paths compare case-insensitively; elsewhere exactly. */
function panelKey(outDir: string): string {
	const p = path.resolve(outDir);
	return process.platform === "win32" ? p.toLowerCase() : p;
}

export class ResultsPanel {
	/** Open panels by output folder. */
	private static readonly open = new Map<string, ResultsPanel>();
	/** The panel that was active last (the language model tools' default results folder and image). */
	static lastActive: ResultsPanel | undefined;
	/** The folders the panel may show; set by registerResultsView. */
	static trusted: TrustedFolders | undefined;

	/** Reveals (and refreshes) the panel of `outDir` when it is open, else creates one. */
	static createOrShow(context: vscode.ExtensionContext, deps: ResultsViewDeps, outDir: string): ResultsPanel {
		void ResultsPanel.trusted?.add(outDir);
		const existing = ResultsPanel.open.get(panelKey(outDir));
		if (existing) {
			existing.panel.reveal();
			void existing.refresh();
			return existing;
		}
		const panel = vscode.window.createWebviewPanel(resultsViewType, vscode.l10n.t("MedImageInsight Results"), vscode.ViewColumn.Active, {
			enableScripts: true,
			localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, "dist", "webview"), vscode.Uri.file(outDir)],
		});
		return ResultsPanel.adopt(context, deps, panel, outDir);
	}

	/** Wraps a panel (new, or restored by the serializer) for `outDir`. */
	static adopt(context: vscode.ExtensionContext, deps: ResultsViewDeps, panel: vscode.WebviewPanel, outDir: string): ResultsPanel {
		const key = panelKey(outDir);
		const p: ResultsPanel = new ResultsPanel(panel, path.resolve(outDir), context.extensionUri, deps, () => {
			if (ResultsPanel.open.get(key) === p) ResultsPanel.open.delete(key);
			if (ResultsPanel.lastActive === p) ResultsPanel.lastActive = undefined;
		});
		ResultsPanel.open.set(key, p);
		ResultsPanel.lastActive = p;
		return p;
	}

	static isOpen(outDir: string): boolean {
		return ResultsPanel.open.has(panelKey(outDir));
	}

	/**
	 * When a results panel of `outDir` is open, re-reads the folder and re-sends its data to the page,
	 * keeping the user's view state (tab, filter, sort, selection, scroll; labels, search and outliers are
	 * computed again on the new data). For the run controller, when a run on that folder ends. Does
	 * nothing when no panel shows `outDir`. The folder becomes trusted (the extension produced it).
	 */
	static refreshIfOpen(outDir: string): void {
		void ResultsPanel.trusted?.add(outDir);
		const p = ResultsPanel.open.get(panelKey(outDir));
		if (p) void p.refresh();
	}

	/** The open panel of `outDir` (tests). */
	static get(outDir: string): ResultsPanel | undefined {
		return ResultsPanel.open.get(panelKey(outDir));
	}

	static disposeAll(): void {
		for (const p of [...ResultsPanel.open.values()]) p.panel.dispose();
	}

	/** The image selected in this panel, by its path in the results. */
	get selectedPath(): string | undefined {
		const i = this.session?.selected;
		return i === undefined ? undefined : this.session?.model.rows[i]?.path;
	}

	private session: ResultsSession | undefined;
	private early: unknown[] = [];
	private readonly disposables: vscode.Disposable[] = [];
	private generation = 0;
	private disposed = false;
	/** The page has sent "ready" and was not discarded since (hidden without retained context). */
	private pageReady = false;
	/** Resolves when the current (re)load has sent its data (tests, refresh). */
	loaded: Promise<void> = Promise.resolve();

	private constructor(
		readonly panel: vscode.WebviewPanel,
		readonly outDir: string,
		private readonly extensionUri: vscode.Uri,
		private readonly deps: ResultsViewDeps,
		private readonly onDispose: () => void,
	) {
		panel.webview.options = {
			enableScripts: true,
			localResourceRoots: [vscode.Uri.joinPath(extensionUri, "dist", "webview"), vscode.Uri.file(outDir)],
		};
		panel.title = vscode.l10n.t("Results: {0}", path.basename(outDir));
		this.disposables.push(
			panel.webview.onDidReceiveMessage((m: unknown) => {
				if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === "ready") this.pageReady = true;
				if (this.session) this.session.receive(m);
				else if (this.early.length < 100) this.early.push(m);
			}),
			panel.onDidChangeViewState(() => {
				// Without retainContextWhenHidden the page is discarded when hidden; it sends "ready" again when shown.
				if (!panel.visible) {
					this.pageReady = false;
					this.session?.pause();
				}
				if (panel.active) ResultsPanel.lastActive = this;
			}),
			panel.onDidDispose(() => this.dispose()),
		);
		this.loaded = this.load(true);
	}

	/** What the summary shows now (tests). */
	get summary(): SummaryData | undefined {
		return this.session?.summary();
	}

	/** The page's HTML as rendered (tests). */
	get html(): string {
		return this.panel.webview.html;
	}

	/** Re-reads the output folder and re-sends its data to the page as it is (no new page: its view state stays). */
	refresh(): Promise<void> {
		this.loaded = this.load(false);
		return this.loaded;
	}

	/**
	 * Reads the output folder into a new session. With `render`, a fresh page is rendered (it sends "ready");
	 * without, the page already loaded gets the new data at once, and the old session's requests are replayed.
	 */
	private async load(render: boolean): Promise<void> {
		const generation = ++this.generation;
		if (render) {
			this.session?.dispose();
			this.session = undefined;
			this.early = [];
			this.pageReady = false;
			this.render();
		}
		try {
			const model = await readResults(this.outDir, { logger: this.deps.log });
			if (this.disposed || generation !== this.generation) return;
			const previous = this.session;
			const webview = this.panel.webview;
			const session = new ResultsSession(model, {
				post: (m) => void webview.postMessage(m),
				strings: webviewStrings(),
				logger: this.deps.log,
				thumbnailUri: (rel) => webview.asWebviewUri(vscode.Uri.file(path.join(this.outDir, rel))).toString(),
				// Asked for on every request: the shell may hand out a shared client that it replaces when the
				// endpoint settings or the key change, so the panel neither caches nor disposes it.
				embedTexts: async (texts, signal) => (await this.deps.createEmbedder()).embedTexts(texts, signal),
				onAction: (a) => this.act(a),
				hasNpy: existsSync(path.join(this.outDir, "embeddings.npy")),
				// UMAP in a worker thread of its own, terminated when the panel closes or reloads.
				layoutUmap: (vectors, dim, signal) => runUmapInWorker(path.join(this.extensionUri.fsPath, "dist", "umapWorker.js"), vectors, dim, signal),
			});
			if (previous) {
				session.carryOver(previous.requests());
				previous.dispose();
			}
			this.session = session;
			session.start();
			if (!render && this.pageReady) session.receive({ type: "ready" });
			for (const m of this.early) session.receive(m);
			this.early = [];
			this.deps.log.info(`Results view: ${model.rows.length} image(s), ${model.failures.length} failure(s) from ${this.outDir}`);
		} catch (e) {
			this.deps.log.error(`Results view: could not read ${this.outDir}: ${(e as Error).message}`);
			void vscode.window.showErrorMessage(vscode.l10n.t("Could not read the results in {0}: {1}", this.outDir, (e as Error).message));
		}
	}

	private render(): void {
		const webview = this.panel.webview;
		const media = vscode.Uri.joinPath(this.extensionUri, "dist", "webview");
		webview.html = renderHtml({
			cspSource: webview.cspSource,
			nonce: randomBytes(18).toString("base64"),
			scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "main.js")).toString(),
			styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "main.css")).toString(),
			codiconUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "codicon.css")).toString(),
			strings: webviewStrings(),
			lang: vscode.env.language,
		});
	}

	private async act(a: ShellAction): Promise<string | void> {
		switch (a.type) {
			case "reveal": {
				const uri = vscode.Uri.file(this.outDir);
				try {
					await vscode.commands.executeCommand("revealFileInOS", uri);
				} catch {
					await vscode.commands.executeCommand("revealInExplorer", uri);
				}
				return;
			}
			case "retryFailed":
				await vscode.commands.executeCommand("medImageInsight.retryFailed", this.outDir);
				return;
			case "copyPath": {
				const file = a.which === "npy" ? path.join(this.outDir, "embeddings.npy") : a.which === "jsonl" ? path.join(this.outDir, "embeddings.jsonl") : this.outDir;
				await vscode.env.clipboard.writeText(file);
				const copied = vscode.l10n.t("Copied {0}", file);
				vscode.window.setStatusBarMessage(copied, 3000);
				return copied;
			}
			case "export": {
				const session = this.session;
				if (!session) return;
				const target = await vscode.window.showSaveDialog({
					defaultUri: vscode.Uri.file(path.join(this.outDir, "results.csv")),
					filters: { CSV: ["csv"] },
					title: vscode.l10n.t("Export Results as CSV"),
				});
				if (!target) return;
				await fs.writeFile(target.fsPath, session.csv(), "utf8");
				const open = vscode.l10n.t("Open");
				const choice = await vscode.window.showInformationMessage(vscode.l10n.t("Exported {0} rows to {1}", session.count + session.failureList().length, target.fsPath), open);
				if (choice === open) await vscode.commands.executeCommand("vscode.open", target);
				return;
			}
			case "exportSeries": {
				const session = this.session;
				if (!session) return;
				const target = await vscode.window.showSaveDialog({
					defaultUri: vscode.Uri.file(path.join(this.outDir, "series.csv")),
					filters: { CSV: ["csv"] },
					title: vscode.l10n.t("Export Series as CSV"),
				});
				if (!target) return;
				await fs.writeFile(target.fsPath, session.seriesCsv(), "utf8");
				const open = vscode.l10n.t("Open");
				const choice = await vscode.window.showInformationMessage(vscode.l10n.t("Exported {0} series to {1}", session.seriesGroups().groups.length, target.fsPath), open);
				if (choice === open) await vscode.commands.executeCommand("vscode.open", target);
				return;
			}
			default:
				return unreachable(a);
		}
	}

	dispose(): void {
		if (this.disposed) return;
		this.disposed = true;
		this.session?.dispose();
		this.session = undefined;
		for (const d of this.disposables) d.dispose();
		this.disposables.length = 0;
		this.onDispose();
	}
}

function unreachable(_x: never): undefined {
	return undefined;
}

/** The output folder the webview saved in its state (untrusted: only an absolute path string is accepted). */
function outDirFromState(state: unknown): string | undefined {
	if (typeof state !== "object" || state === null) return undefined;
	const o = (state as { outDir?: unknown }).outDir;
	return typeof o === "string" && o.length < 4096 && path.isAbsolute(o) ? o : undefined;
}

/**
 * A restored panel (after a reload): its saved state names the folder. Only a folder the extension opened
 * or produced is read; for any other the panel says why it shows nothing. Exported for the in-host test.
 */
export function restoreResultsPanel(context: vscode.ExtensionContext, deps: ResultsViewDeps, panel: vscode.WebviewPanel, state: unknown, trusted: TrustedFolders): ResultsPanel | undefined {
	const outDir = outDirFromState(state);
	if (!outDir || ResultsPanel.isOpen(outDir)) {
		panel.dispose();
		return undefined;
	}
	if (!trusted.has(outDir)) {
		deps.log.warn(`Results view: refused to restore a panel for ${outDir}: the extension did not open or produce that folder.`);
		panel.webview.options = { enableScripts: false, localResourceRoots: [] };
		panel.title = vscode.l10n.t("MedImageInsight Results");
		panel.webview.html = renderMessagePage({
			title: vscode.l10n.t("Results not shown"),
			message: vscode.l10n.t("The restored view named the folder {0}, which MedImageInsight did not open or produce here. Use \"MedImageInsight: Show Results\" to open a results folder.", outDir),
			lang: vscode.env.language,
		});
		return undefined;
	}
	return ResultsPanel.adopt(context, deps, panel, outDir);
}

/**
 * Registers the results view (serializer included) and returns `show(outDir)`, which opens the panel for
 * that output folder or reveals and refreshes the one already open, and `refreshIfOpen(outDir)`.
 */
export function registerResultsView(
	context: vscode.ExtensionContext,
	deps: ResultsViewDeps,
): { show(outDir: string): void; refreshIfOpen(outDir: string): void; current(): { outDir: string; selectedPath: string | undefined } | undefined } {
	const trusted = new TrustedFolders(context.globalState);
	ResultsPanel.trusted = trusted;
	context.subscriptions.push(
		vscode.window.registerWebviewPanelSerializer(resultsViewType, {
			deserializeWebviewPanel: async (panel, state: unknown) => {
				restoreResultsPanel(context, deps, panel, state, trusted);
			},
		}),
		{ dispose: () => ResultsPanel.disposeAll() },
	);
	return {
		show: (outDir: string) => void ResultsPanel.createOrShow(context, deps, outDir),
		refreshIfOpen: (outDir: string) => ResultsPanel.refreshIfOpen(outDir),
		current: () => {
			const p = ResultsPanel.lastActive;
			return p ? { outDir: p.outDir, selectedPath: p.selectedPath } : undefined;
		},
	};
}
