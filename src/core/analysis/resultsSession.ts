/**
 * The host side of one results webview, without VS Code: it holds the loaded results, answers the
 * webview's requests (neighbours, outliers, zero-shot labels, free-text search) with the analysis code,
 * queues messages until the webview is ready, and sends bulk data in pages / ArrayBuffers.
 * The panel (src/extension/webview/resultsPanel.ts) wires it to a vscode.WebviewPanel; the webview
 * test harness wires it to a browser page, so both exercise this same code.
 */
import type { TextEmbeddings } from "../endpoint/types";
import {
	pageSize,
	parseFromWebview,
	type FailureData,
	type FromWebview,
	type LastRunData,
	type RowData,
	type SeriesData,
	type SummaryData,
	type Task,
	type ToWebview,
	type WebviewStrings,
} from "../protocol/webview";
import { csvCell } from "../results/csv";
import type { ResultsModel } from "../results/reader";
import type { Disposable } from "../util/events";
import type { Logger } from "../util/logger";
import { createYielder } from "./cooperative";
import { outlierScores, type OutlierResult } from "./outliers";
import { pca } from "./pca";
import { groupEmbeddings, type GroupedEmbeddings } from "./series";
import { groupCsv } from "./seriesCsv";
import { minUmapPoints } from "./mapLimits";
import { nearestNeighbors, normalize, scoreAll, topOf } from "./similarity";
import { zeroShot, type ZeroShotResult } from "./zeroShot";

/** Actions the shell performs (they need VS Code: dialogs, clipboard, commands). */
export type ShellAction = Extract<FromWebview, { type: "reveal" | "retryFailed" | "export" | "copyPath" | "exportSeries" }>;

export interface SessionDeps {
	post(message: ToWebview): void;
	strings: WebviewStrings;
	logger: Logger;
	/** Webview URI for a thumbnail path relative to the output folder. */
	thumbnailUri(relative: string): string | undefined;
	/** Text embeddings from the endpoint (called here, in the host; never from the webview). */
	embedTexts(texts: string[], signal: AbortSignal): Promise<TextEmbeddings>;
	/** Performs an action; a returned text is a confirmation shown briefly in the view ("Copied …"). */
	onAction(action: ShellAction): Promise<string | void>;
	hasNpy: boolean;
	/** A seeded 2-D UMAP layout computed off this thread (a worker); the map shows PCA until it is ready. */
	layoutUmap?(vectors: Float32Array, dim: number, signal: AbortSignal): Promise<Float32Array>;
}

/** ln(100): the logit scale CLIP-style models converge to; used only when the endpoint reports none. */
export const fallbackScalingFactor = Math.log(100);

/** Quotes a CSV cell and guards spreadsheet formulas: the project's one CSV writer (results/csv.ts). */
export { csvCell };

export class ResultsSession implements Disposable {
	private ready = false;
	private queue: ToWebview[] = [];
	private disposed = false;
	private readonly lifetime = new AbortController();
	private map: { coords: Float32Array; explained: number[]; method: "pca" | "umap" } | undefined;
	private mapStarted = false;
	/** The image map is being computed (PCA, then UMAP): a page that gets ready meanwhile is told so. */
	private mapBusy = false;
	private labels: { labels: string[]; result: ZeroShotResult } | undefined;
	private query: { text: string; scores: Float32Array } | undefined;
	private outliers: OutlierResult | undefined;
	private readonly pending = new Map<Task, AbortController>();
	private series: GroupedEmbeddings | undefined;
	private seriesOutliers: OutlierResult | undefined;
	private seriesMap: { coords: Float32Array; explained: number[]; method: "pca" | "umap" } | undefined;
	private seriesMapStarted = false;
	/** The image last selected in the view (the language model tools' default image). */
	selected: number | undefined;
	/** Requests replayed once the webview is ready (what the user had asked of an earlier session). */
	private replay: FromWebview[] = [];

	constructor(
		readonly model: ResultsModel,
		private readonly deps: SessionDeps,
	) {}

	get count(): number {
		return this.model.rows.length;
	}

	/** Starts the slow work (the 2-D map) before the webview asks for it. */
	start(): void {
		if (this.mapStarted) return;
		this.mapStarted = true;
		void this.computeMap();
	}

	/** Entry point for every message from the webview (untrusted: validated here). */
	receive(raw: unknown): void {
		if (this.disposed) return;
		const msg = parseFromWebview(raw);
		if (!msg) {
			this.deps.logger.warn(`Results view: ignored a malformed message (${typeof raw === "object" && raw !== null ? String((raw as { type?: unknown }).type) : typeof raw}).`);
			return;
		}
		void this.handle(msg);
	}

	/**
	 * What the user asked for in this session (labels, search, outliers), as requests; a session that
	 * replaces this one after the folder was re-read replays them on the new data.
	 */
	requests(): FromWebview[] {
		const out: FromWebview[] = [];
		if (this.labels) out.push({ type: "labels", labels: this.labels.labels });
		if (this.query) out.push({ type: "query", text: this.query.text });
		if (this.outliers) out.push({ type: "outliers", k: this.outliers.k });
		if (this.seriesOutliers) out.push({ type: "seriesOutliers", k: this.seriesOutliers.k });
		return out;
	}

	/** Replays `requests` (from the session this one replaces) when the webview is ready. */
	carryOver(requests: FromWebview[]): void {
		this.replay = requests;
	}

	/** The webview went away (hidden without retained context): queue until it is ready again. */
	pause(): void {
		this.ready = false;
	}

	private send(message: ToWebview): void {
		if (this.disposed) return;
		if (this.ready) this.deps.post(message);
		else this.queue.push(message);
	}

	private async handle(msg: FromWebview): Promise<void> {
		try {
			switch (msg.type) {
				case "ready":
					this.ready = true;
					this.queue = [];
					this.sendState();
					this.start();
					for (const r of this.replay.splice(0)) void this.handle(r);
					return;
				case "select":
					this.selected = msg.index < this.count ? msg.index : undefined;
					return this.sendNeighbors(msg.index, msg.k);
				case "outliers":
					return await this.computeOutliers(msg.k);
				case "labels":
					return await this.applyLabels(msg.labels);
				case "clearLabels":
					this.pending.get("labels")?.abort();
					this.labels = undefined;
					this.send({ type: "labelsCleared" });
					return;
				case "query":
					return await this.runQuery(msg.text);
				case "clearQuery":
					this.pending.get("query")?.abort();
					this.query = undefined;
					this.send({ type: "queryCleared" });
					return;
				case "series":
					this.send(this.seriesMessage());
					if (this.seriesOutliers) this.sendSeriesOutliers(this.seriesOutliers);
					if (this.seriesMap) this.sendSeriesMap();
					else if (this.seriesMapStarted) this.send({ type: "busy", task: "seriesMap", busy: true });
					else void this.computeSeriesMap();
					return;
				case "selectSeries": {
					const g = this.seriesGroups();
					if (msg.index >= g.groups.length) return;
					this.send({ type: "seriesNeighbors", index: msg.index, items: nearestNeighbors(g.vectors, g.dim, msg.index, msg.k) });
					return;
				}
				case "seriesOutliers":
					return await this.computeSeriesOutliers(msg.k);
				case "reveal":
				case "retryFailed":
				case "export":
				case "exportSeries":
				case "copyPath": {
					const notice = await this.deps.onAction(msg);
					if (typeof notice === "string" && notice) this.send({ type: "notice", message: notice });
					return;
				}
				default:
					return unreachable(msg);
			}
		} catch (e) {
			if (this.disposed || (e as Error).name === "AbortError") return;
			const task = taskOf(msg);
			this.deps.logger.error(`Results view: ${msg.type} failed: ${(e as Error).message}`);
			this.send(task ? { type: "error", task, message: (e as Error).message } : { type: "error", message: (e as Error).message });
			if (task) this.send({ type: "busy", task, busy: false });
		}
	}

	/**
	 * Everything the Failed and Skipped tabs list: files without an embedding whose latest record is a
	 * failure or skip, then failures recorded after a file's (kept) embedding.
	 */
	failureList(): FailureData[] {
		const out: FailureData[] = this.model.failures.map(({ path, stage, error }) => ({ path, stage, error }));
		for (const { path, stage, error } of this.model.laterFailures ?? []) out.push({ path, stage, error, embedded: true });
		return out;
	}

	/** The folder's totals (every file counted by its latest record) and what the last run (run.json) did. */
	summary(): SummaryData {
		const { model } = this;
		const run = model.run;
		const later = model.laterFailures?.length ?? 0;
		const failed = model.failures.filter((f) => f.stage !== "skipped").length + later;
		const s: SummaryData = {
			outDir: model.outDir,
			embedded: model.rows.length,
			failed,
			skipped: model.failures.length + later - failed,
			simulated: run?.simulated ?? false,
			settings: run?.settings ?? [],
			dim: model.dim,
			problems: model.problems,
			hasNpy: this.deps.hasNpy,
		};
		if (run?.counts["ignored"] !== undefined) s.ignored = run.counts["ignored"];
		if (run?.endpointUrl !== undefined) s.endpointUrl = run.endpointUrl;
		if (run?.cancelled !== undefined) s.cancelled = run.cancelled;
		if (run?.elapsedMs !== undefined) {
			s.elapsedMs = run.elapsedMs;
			const done = run.counts["embedded"] ?? model.rows.length;
			if (run.elapsedMs > 0) s.rate = done / (run.elapsedMs / 1000);
		}
		if (run?.imagesPerSecond !== undefined) s.rate = run.imagesPerSecond;
		if (later) s.failedWithEmbedding = later;
		if (run) {
			const last: LastRunData = {};
			if (s.elapsedMs !== undefined) last.elapsedMs = s.elapsedMs;
			if (s.rate !== undefined) last.rate = s.rate;
			const c = run.counts;
			if (c["embedded"] !== undefined) last.embedded = c["embedded"];
			if (c["alreadyDone"] !== undefined) last.alreadyDone = c["alreadyDone"];
			if (c["failed"] !== undefined) last.failed = c["failed"];
			if (c["skipped"] !== undefined) last.skipped = c["skipped"];
			if (run.cancelled !== undefined) last.cancelled = run.cancelled;
			if (run.fatal) last.stopped = run.fatal.message;
			if (run.finishedAt !== undefined) last.finishedAt = run.finishedAt;
			s.lastRun = last;
		}
		return s;
	}

	private rowData(i: number): RowData {
		const r = this.model.rows[i];
		if (!r) throw new Error(`No image ${i}.`);
		const d: RowData = {
			path: r.path,
			modality: r.modality,
			studyInstanceUid: r.studyInstanceUid,
			seriesInstanceUid: r.seriesInstanceUid,
			sopInstanceUid: r.sopInstanceUid,
			studyDescription: r.studyDescription ?? "",
			seriesDescription: r.seriesDescription ?? "",
		};
		const thumb = r.thumbnail === undefined ? undefined : this.deps.thumbnailUri(r.thumbnail);
		if (thumb !== undefined) d.thumbnail = thumb;
		return d;
	}

	private sendState(): void {
		const n = this.count;
		const f = this.failureList();
		this.send({ type: "init", strings: this.deps.strings, summary: this.summary(), total: n, failureCount: f.length });
		for (let start = 0; start < n; start += pageSize) {
			const rows: RowData[] = [];
			for (let i = start; i < Math.min(n, start + pageSize); i++) rows.push(this.rowData(i));
			this.send({ type: "rows", start, rows });
		}
		for (let start = 0; start < f.length; start += pageSize) {
			this.send({ type: "failures", start, items: f.slice(start, start + pageSize) });
		}
		if (this.map) this.sendMap();
		// Also with the PCA map sent: the page then says that UMAP replaces it when ready.
		if (this.mapBusy) this.send({ type: "busy", task: "map", busy: true });
		if (this.labels) this.sendLabels();
		if (this.query) this.send({ type: "query", text: this.query.text, scores: copyBuffer(this.query.scores) });
		if (this.outliers) this.sendOutliers(this.outliers);
	}

	private sendMap(): void {
		if (!this.map) return;
		this.send({ type: "map", method: this.map.method, coords: copyBuffer(this.map.coords), explained: this.map.explained });
	}

	private async computeMap(): Promise<void> {
		this.mapBusy = true;
		this.send({ type: "busy", task: "map", busy: true });
		try {
			const r = await pca(this.model.vectors, this.model.dim, 2, { maxIterations: 12, sampleRows: 3000, yielder: createYielder(this.lifetime.signal) });
			const coords = r.components === 2 ? r.coords : new Float32Array(this.count * 2);
			const explained = r.variance.map((v) => (r.totalVariance > 0 ? v / r.totalVariance : 0));
			this.map = { coords, explained, method: "pca" };
			this.sendMap();
			if (this.deps.layoutUmap && this.count >= minUmapPoints) {
				const umap = await this.deps.layoutUmap(this.model.vectors, this.model.dim, this.lifetime.signal);
				if (this.disposed) return;
				this.map = { coords: umap, explained, method: "umap" };
				this.sendMap();
			}
		} catch (e) {
			if (this.disposed) return;
			this.deps.logger.error(`Results view: the map failed: ${(e as Error).message}`);
			this.send({ type: "error", task: "map", message: (e as Error).message });
		} finally {
			this.mapBusy = false;
			this.send({ type: "busy", task: "map", busy: false });
		}
	}

	private sendNeighbors(index: number, k: number): void {
		if (index >= this.count) return;
		const items = nearestNeighbors(this.model.vectors, this.model.dim, index, k);
		this.send({ type: "neighbors", index, items });
	}

	private begin(task: Task): AbortSignal {
		this.pending.get(task)?.abort();
		const ac = new AbortController();
		this.pending.set(task, ac);
		this.send({ type: "busy", task, busy: true });
		return AbortSignal.any([ac.signal, this.lifetime.signal]);
	}

	private end(task: Task, signal: AbortSignal): void {
		if (!signal.aborted) {
			this.pending.delete(task);
			this.send({ type: "busy", task, busy: false });
		}
	}

	private sendOutliers(r: OutlierResult): void {
		this.send({ type: "outliers", items: topOf(r.scores, 200), exact: r.exact, k: r.k, scores: copyBuffer(r.scores) });
	}

	private async computeOutliers(k: number): Promise<void> {
		if (this.outliers?.k === Math.min(k, Math.max(1, this.count - 1))) return this.sendOutliers(this.outliers);
		const signal = this.begin("outliers");
		const r = await outlierScores(this.model.vectors, this.model.dim, { k, yielder: createYielder(signal) });
		this.outliers = r;
		this.sendOutliers(r);
		this.end("outliers", signal);
	}

	/** Series embeddings (L2-normalised means of their images'), computed once. */
	seriesGroups(): GroupedEmbeddings {
		this.series ??= groupEmbeddings(this.model, "series");
		return this.series;
	}

	private seriesMessage(): ToWebview {
		const g = this.seriesGroups();
		const items: SeriesData[] = g.groups.map((x) => ({
			seriesInstanceUid: x.seriesInstanceUid,
			studyInstanceUid: x.studyInstanceUid,
			modality: x.modality,
			description: x.description,
			images: x.members.length,
			first: x.members[0] as number,
		}));
		return { type: "series", items, withoutUid: g.withoutUid };
	}

	private sendSeriesOutliers(r: OutlierResult): void {
		this.send({ type: "seriesOutliers", items: topOf(r.scores, 200), exact: r.exact, k: r.k, scores: copyBuffer(r.scores) });
	}

	private async computeSeriesOutliers(k: number): Promise<void> {
		const g = this.seriesGroups();
		if (this.seriesOutliers?.k === Math.min(k, Math.max(1, g.groups.length - 1))) return this.sendSeriesOutliers(this.seriesOutliers);
		const signal = this.begin("series");
		const r = await outlierScores(g.vectors, g.dim, { k, yielder: createYielder(signal) });
		this.seriesOutliers = r;
		this.sendSeriesOutliers(r);
		this.end("series", signal);
	}

	private sendSeriesMap(): void {
		if (!this.seriesMap) return;
		this.send({ type: "seriesMap", method: this.seriesMap.method, coords: copyBuffer(this.seriesMap.coords), explained: this.seriesMap.explained });
	}

	/**
	 * The map at series level: one point per series (its embedding, the L2-normalised mean of its
	 * images'), PCA at once, then UMAP from the worker when there are enough series — as at image level.
	 */
	private async computeSeriesMap(): Promise<void> {
		this.seriesMapStarted = true;
		this.send({ type: "busy", task: "seriesMap", busy: true });
		try {
			const g = this.seriesGroups();
			const n = g.groups.length;
			let coords: Float32Array = new Float32Array(n * 2);
			let explained = [0, 0];
			if (n >= 2) {
				const r = await pca(g.vectors, g.dim, 2, { maxIterations: 12, sampleRows: 3000, yielder: createYielder(this.lifetime.signal) });
				if (r.components === 2) coords = r.coords;
				explained = r.variance.map((v) => (r.totalVariance > 0 ? v / r.totalVariance : 0));
			}
			this.seriesMap = { coords, explained, method: "pca" };
			this.sendSeriesMap();
			if (this.deps.layoutUmap && n >= minUmapPoints) {
				const umap = await this.deps.layoutUmap(g.vectors, g.dim, this.lifetime.signal);
				if (this.disposed) return;
				this.seriesMap = { coords: umap, explained, method: "umap" };
				this.sendSeriesMap();
			}
		} catch (e) {
			if (this.disposed) return;
			this.deps.logger.error(`Results view: the series map failed: ${(e as Error).message}`);
			this.send({ type: "error", task: "seriesMap", message: (e as Error).message });
		} finally {
			this.send({ type: "busy", task: "seriesMap", busy: false });
		}
	}

	/** The series as CSV (as `medimageinsight export --series` writes it), with the outlier score once computed. */
	seriesCsv(): string {
		const o = this.seriesOutliers;
		return groupCsv(this.seriesGroups(), { name: "outlierScore", values: o ? Array.from(o.scores, round) : [] });
	}

	private async textEmbeddings(texts: string[], signal: AbortSignal): Promise<{ vectors: Float32Array[]; scalingFactor?: number }> {
		const t = await this.deps.embedTexts(texts, signal);
		if (t.embeddings.length !== texts.length) throw new Error(`The endpoint returned ${t.embeddings.length} text embeddings for ${texts.length} texts.`);
		const vectors = t.embeddings.map((e) => {
			if (e.length !== this.model.dim) throw new Error(`Text embeddings have ${e.length} values but the images have ${this.model.dim}: was a different model used?`);
			return normalize(Float32Array.from(e));
		});
		const out: { vectors: Float32Array[]; scalingFactor?: number } = { vectors };
		if (t.scalingFactor !== undefined) out.scalingFactor = t.scalingFactor;
		return out;
	}

	private sendLabels(): void {
		if (!this.labels) return;
		const { labels, result } = this.labels;
		this.send({ type: "labels", labels, best: copyBuffer(result.best), probability: copyBuffer(result.probability) });
	}

	private async applyLabels(labels: string[]): Promise<void> {
		const signal = this.begin("labels");
		const unique = [...new Set(labels)];
		const t = await this.textEmbeddings(unique, signal);
		signal.throwIfAborted();
		const scaling = t.scalingFactor ?? this.model.scalingFactor ?? fallbackScalingFactor;
		this.labels = { labels: unique, result: zeroShot(this.model.vectors, this.model.dim, t.vectors, scaling) };
		this.sendLabels();
		this.end("labels", signal);
	}

	private async runQuery(text: string): Promise<void> {
		const signal = this.begin("query");
		const t = await this.textEmbeddings([text], signal);
		signal.throwIfAborted();
		this.query = { text, scores: scoreAll(this.model.vectors, this.model.dim, t.vectors[0] as Float32Array) };
		this.send({ type: "query", text, scores: copyBuffer(this.query.scores) });
		this.end("query", signal);
	}

	/** The table as CSV: every embedded image (with label, probability, query and outlier scores when computed), then every failure. */
	csv(): string {
		const header = ["path", "status", "modality", "studyInstanceUid", "seriesInstanceUid", "sopInstanceUid", "studyDescription", "seriesDescription", "sha256", "label", "probability", "queryScore", "outlierScore", "stage", "error"];
		const out = [header.join(",")];
		const { rows } = this.model;
		for (let i = 0; i < rows.length; i++) {
			const r = rows[i];
			if (!r) continue;
			const label = this.labels ? this.labels.labels[this.labels.result.best[i] as number] : undefined;
			const p = this.labels ? round(this.labels.result.probability[i] as number) : undefined;
			const q = this.query ? round(this.query.scores[i] as number) : undefined;
			const o = this.outliers ? round(this.outliers.scores[i] as number) : undefined;
			out.push(
				[r.path, "embedded", r.modality, r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid, r.studyDescription ?? "", r.seriesDescription ?? "", r.sha256, label, p, q, o, "", ""]
					.map(csvCell)
					.join(","),
			);
		}
		for (const f of [...this.model.failures, ...(this.model.laterFailures ?? [])]) {
			out.push([f.path, f.stage === "skipped" ? "skipped" : "failed", "", "", "", "", "", "", f.sha256 ?? "", "", "", "", "", f.stage, f.error].map(csvCell).join(","));
		}
		return out.join("\r\n") + "\r\n";
	}

	dispose(): void {
		this.disposed = true;
		this.lifetime.abort();
		for (const ac of this.pending.values()) ac.abort();
		this.pending.clear();
		this.queue = [];
	}
}

function round(x: number): number {
	return Math.round(x * 1e6) / 1e6;
}

/** A fresh ArrayBuffer holding exactly the view's bytes (a view may share a larger buffer). */
function copyBuffer(v: Float32Array | Int32Array): ArrayBuffer {
	return v.slice().buffer as ArrayBuffer;
}

function taskOf(msg: FromWebview): Task | undefined {
	switch (msg.type) {
		case "select":
			return "neighbors";
		case "outliers":
			return "outliers";
		case "labels":
			return "labels";
		case "query":
			return "query";
		case "export":
			return "export";
		case "seriesOutliers":
			return "series";
		default:
			return undefined;
	}
}

function unreachable(_x: never): void {
	return undefined;
}
