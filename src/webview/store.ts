/**
 * The webview's data: what the host sent (rows, failures, map, labels, scores) and the persisted view
 * state (vscode.getState/setState). Views subscribe to changes by topic.
 */
import { defaultStrings, type FailureData, type FromWebview, type RowData, type ScoredIndex, type SeriesData, type SummaryData, type Task, type WebviewStrings } from "../core/protocol/webview";

export type TabId = "images" | "map" | "failures" | "skipped" | "outliers" | "labels";
/** What the table, neighbours, Outliers tab, map and CSV export show: single images or series (PRODUCT.md §10). */
export type Level = "images" | "series";
export type SortKey = "path" | "modality" | "study" | "series" | "status" | "label" | "probability" | "score" | "outlier";
export type GroupBy = "none" | "study" | "series";
export type ColorBy = "modality" | "series" | "label";

export interface ViewState {
	/** The output folder shown; the host's serializer reads it to restore the panel after a reload. */
	outDir?: string;
	tab: TabId;
	level: Level;
	/** SeriesInstanceUID of the selected series (series level). */
	selectedSeries?: string;
	sortKey: SortKey;
	sortDesc: boolean;
	filter: string;
	modality: string;
	groupBy: GroupBy;
	/** Path of the selected image or failure (stable across reloads). */
	selected?: string;
	scrollTop: number;
	k: number;
	outlierK: number;
	labelsText: string;
	queryText: string;
	colorBy: ColorBy;
}

export const defaultViewState: ViewState = {
	tab: "images",
	level: "images",
	// Embedded images first (in the order of embeddings.jsonl), then failures, then skipped files.
	sortKey: "status",
	sortDesc: false,
	filter: "",
	modality: "",
	groupBy: "none",
	scrollTop: 0,
	k: 8,
	outlierK: 5,
	labelsText: "",
	queryText: "",
	colorBy: "modality",
};

export type Topic = "init" | "rows" | "failures" | "map" | "neighbors" | "outliers" | "labels" | "query" | "busy" | "error" | "selection" | "view" | "series" | "seriesSelection" | "seriesMap" | "level";

interface VsCodeApi {
	postMessage(message: unknown): void;
	getState(): unknown;
	setState(state: unknown): void;
}

export class Store {
	strings: WebviewStrings = { ...defaultStrings };
	summary: SummaryData | undefined;
	total = 0;
	failureCount = 0;
	rows: RowData[] = [];
	failures: FailureData[] = [];
	coords: Float32Array | undefined;
	explained: number[] = [];
	/** How `coords` were made: PCA first, UMAP when the host has it. */
	mapMethod: "pca" | "umap" = "pca";
	neighbors: { index: number; items: ScoredIndex[] } | undefined;
	outliers: { items: ScoredIndex[]; exact: boolean; k: number } | undefined;
	/** Every image's outlier score, once computed. */
	outlierScores: Float32Array | undefined;
	labels: { labels: string[]; best: Int32Array; probability: Float32Array } | undefined;
	query: { text: string; scores: Float32Array } | undefined;
	/** The Series tab's data (PRODUCT.md §10): the series, the selected one's neighbours, outlier scores. */
	series: { items: SeriesData[]; withoutUid: number } | undefined;
	seriesNeighbors: { index: number; items: ScoredIndex[] } | undefined;
	seriesOutliers: { items: ScoredIndex[]; exact: boolean; k: number; scores: Float32Array } | undefined;
	/** The map at series level: one point per entry of `series.items`. */
	seriesMap: { coords: Float32Array; explained: number[]; method: "pca" | "umap" } | undefined;
	/** Index of the selected series in `series.items`, or −1. */
	selectedSeries = -1;
	private seriesRequested = false;
	busy = new Set<Task>();
	errors: { task?: Task; message: string }[] = [];
	view: ViewState;
	/** Selected entry: image index (0..total−1) or total + failure index. */
	selectedId = -1;
	private listeners = new Map<Topic, Set<() => void>>();
	private saveTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(private readonly api: VsCodeApi) {
		this.strings = { ...defaultStrings, ...readEmbeddedStrings() };
		const saved = api.getState();
		this.view = { ...defaultViewState, ...sanitizeState(saved) };
	}

	t(key: keyof WebviewStrings): string {
		return this.strings[key];
	}

	/** The template of the plural form `count` needs in its language: `one` ("{0} image") or `other` ("{0} images"). */
	form(count: number, one: keyof WebviewStrings, other: keyof WebviewStrings): string {
		return this.strings[pluralRules().select(count) === "one" ? one : other];
	}

	/** `count` with its words in the right plural form ("1 image", "2 images"). */
	n(count: number, one: keyof WebviewStrings, other: keyof WebviewStrings): string {
		return this.form(count, one, other).replace(/\{0\}/g, String(count));
	}

	/** Forgets the analysis results of an earlier load (the host re-sent the folder's data after a run). */
	resetData(): void {
		this.coords = undefined;
		this.explained = [];
		this.neighbors = undefined;
		this.outliers = undefined;
		this.outlierScores = undefined;
		this.labels = undefined;
		this.query = undefined;
		this.selectedId = -1;
		this.errors = [];
		this.series = undefined;
		this.seriesNeighbors = undefined;
		this.seriesOutliers = undefined;
		this.seriesMap = undefined;
		this.selectedSeries = -1;
		this.seriesRequested = false;
	}

	/** Asks the host for the series (list, map, outlier scores) the first time the series level is shown after a load. */
	requestSeries(): void {
		if (this.seriesRequested || !this.summary) return;
		this.seriesRequested = true;
		this.post({ type: "series" });
	}

	/** Switches the level (persisted) and fetches the series when first needed. */
	setLevel(level: Level): void {
		if (level === this.view.level) return;
		this.setView({ level }, false);
		if (level === "series") this.requestSeries();
		this.emit("level");
	}

	/** Selects series `i` (−1: none) and asks for its most similar series. */
	selectSeries(i: number): void {
		const x = this.series?.items[i];
		this.selectedSeries = x ? i : -1;
		this.seriesNeighbors = undefined;
		this.setView({ selectedSeries: x?.seriesInstanceUid }, false);
		if (x) this.post({ type: "selectSeries", index: i, k: this.view.k });
		this.emit("seriesSelection");
	}

	/** After the series arrive: restore the saved series selection by UID. */
	restoreSeriesSelection(): void {
		if (this.selectedSeries >= 0 || !this.view.selectedSeries || !this.series) return;
		const uid = this.view.selectedSeries;
		const i = this.series.items.findIndex((x) => x.seriesInstanceUid === uid);
		if (i >= 0) this.selectSeries(i);
	}

	post(message: FromWebview): void {
		this.api.postMessage(message);
	}

	on(topic: Topic, fn: () => void): void {
		let set = this.listeners.get(topic);
		if (!set) this.listeners.set(topic, (set = new Set()));
		set.add(fn);
	}

	emit(topic: Topic): void {
		for (const fn of this.listeners.get(topic) ?? []) fn();
	}

	/** Updates the persisted view state (debounced setState) and notifies "view" listeners. */
	setView(patch: Partial<ViewState>, notify = true): void {
		this.view = { ...this.view, ...patch };
		if (this.saveTimer === undefined) {
			this.saveTimer = setTimeout(() => {
				this.saveTimer = undefined;
				this.api.setState(this.view);
			}, 150);
		}
		if (notify) this.emit("view");
	}

	/** Path of an entry id (image or failure). */
	pathOf(id: number): string | undefined {
		return id < this.total ? this.rows[id]?.path : this.failures[id - this.total]?.path;
	}

	select(id: number): void {
		if (id === this.selectedId) return;
		this.selectedId = id;
		const p = this.pathOf(id);
		this.setView(p === undefined ? { selected: undefined } : { selected: p }, false);
		if (id >= 0 && id < this.total) this.post({ type: "select", index: id, k: this.view.k });
		else this.neighbors = undefined;
		this.emit("selection");
	}

	/** After rows arrive: restore the saved selection by path. */
	restoreSelection(): void {
		if (this.selectedId >= 0 || !this.view.selected) return;
		const p = this.view.selected;
		let id = this.rows.findIndex((r) => r?.path === p);
		if (id < 0) {
			const f = this.failures.findIndex((x) => x?.path === p);
			if (f >= 0) id = this.total + f;
		}
		if (id >= 0) this.select(id);
	}
}

let rules: Intl.PluralRules | undefined;
function pluralRules(): Intl.PluralRules {
	if (!rules) {
		try {
			rules = new Intl.PluralRules(document.documentElement.lang || "en");
		} catch {
			rules = new Intl.PluralRules("en");
		}
	}
	return rules;
}

/** Translated strings the host embedded in the page (<script type="application/json" id="l10n">), so the first paint is translated. */
function readEmbeddedStrings(): Partial<WebviewStrings> {
	try {
		const raw: unknown = JSON.parse(document.getElementById("l10n")?.textContent ?? "{}");
		if (typeof raw !== "object" || raw === null) return {};
		const out: Partial<Record<string, string>> = {};
		for (const k of Object.keys(defaultStrings)) {
			const v = (raw as Record<string, unknown>)[k];
			if (typeof v === "string") out[k] = v;
		}
		return out as Partial<WebviewStrings>;
	} catch {
		return {};
	}
}

const tabs: readonly string[] = ["images", "map", "failures", "skipped", "outliers", "labels"];
const sortKeys: readonly string[] = ["path", "modality", "study", "series", "status", "label", "probability", "score", "outlier"];

/** Saved state comes back from VS Code as-is: keep only well-typed fields. */
function sanitizeState(raw: unknown): Partial<ViewState> {
	if (typeof raw !== "object" || raw === null) return {};
	const r = raw as Record<string, unknown>;
	const out: Partial<ViewState> = {};
	if (typeof r["tab"] === "string" && tabs.includes(r["tab"])) out.tab = r["tab"] as TabId;
	// The former Series tab is the table at series level.
	if (r["tab"] === "series") {
		out.tab = "images";
		out.level = "series";
	}
	if (r["level"] === "images" || r["level"] === "series") out.level = r["level"];
	if (typeof r["selectedSeries"] === "string") out.selectedSeries = r["selectedSeries"].slice(0, 128);
	if (typeof r["sortKey"] === "string" && sortKeys.includes(r["sortKey"])) out.sortKey = r["sortKey"] as SortKey;
	if (typeof r["sortDesc"] === "boolean") out.sortDesc = r["sortDesc"];
	if (typeof r["filter"] === "string") out.filter = r["filter"].slice(0, 500);
	if (typeof r["modality"] === "string") out.modality = r["modality"].slice(0, 64);
	if (r["groupBy"] === "none" || r["groupBy"] === "study" || r["groupBy"] === "series") out.groupBy = r["groupBy"];
	if (typeof r["selected"] === "string") out.selected = r["selected"];
	if (typeof r["outDir"] === "string") out.outDir = r["outDir"];
	if (typeof r["scrollTop"] === "number" && Number.isFinite(r["scrollTop"])) out.scrollTop = Math.max(0, r["scrollTop"]);
	if (typeof r["k"] === "number" && Number.isInteger(r["k"]) && r["k"] >= 1 && r["k"] <= 100) out.k = r["k"];
	if (typeof r["outlierK"] === "number" && Number.isInteger(r["outlierK"]) && r["outlierK"] >= 1 && r["outlierK"] <= 100) out.outlierK = r["outlierK"];
	if (typeof r["labelsText"] === "string") out.labelsText = r["labelsText"].slice(0, 20000);
	if (typeof r["queryText"] === "string") out.queryText = r["queryText"].slice(0, 1000);
	if (r["colorBy"] === "modality" || r["colorBy"] === "series" || r["colorBy"] === "label") out.colorBy = r["colorBy"];
	return out;
}
