/**
 * Messages between the results panel host (extension host) and its webview (STYLE.md §8).
 * The webview sends `ready` first; the host queues everything until then. Both sides treat inbound
 * messages as untrusted and pass them through the validators below before acting. Bulk data travels
 * in pages (rows, failures) or as ArrayBuffers (map coordinates, scores, labels), never as one huge JSON.
 */

/** English defaults of every user-visible string; the host sends translated ones (vscode.l10n.t). */
export const defaultStrings = {
	title: "MedImageInsight Results",
	loading: "Loading results…",
	embedded: "Embedded",
	failed: "Failed",
	skipped: "Skipped",
	ignored: "Ignored",
	endpoint: "Endpoint",
	simulation: "Simulation",
	simulationTooltip: "These embeddings come from the built-in simulated endpoint, not from MedImageInsight.",
	duration: "Duration",
	rate: "Rate",
	imagesPerSecond: "images/s",
	output: "Output",
	revealOutput: "Reveal Output Folder",
	copyNpyPath: "Copy .npy Path",
	copyJsonlPath: "Copy .jsonl Path",
	exportCsv: "Export CSV…",
	settings: "Settings",
	problems: "Unreadable lines",
	tabImages: "Images",
	tabMap: "Map",
	tabFailures: "Failed",
	tabSkipped: "Skipped",
	tabOutliers: "Outliers",
	tabLabels: "Labels & Search",
	filterPlaceholder: "Filter: path, description, UID, label",
	allModalities: "All modalities",
	groupBy: "Group by",
	groupNone: "No grouping",
	groupStudy: "Study",
	groupSeries: "Series",
	colPath: "Path",
	colModality: "Modality",
	colStudy: "Study",
	colSeries: "Series",
	colStatus: "Status",
	colLabel: "Label",
	colProbability: "Probability",
	colScore: "Query score",
	colOutlier: "Outlier score",
	colStage: "Stage",
	colError: "Reason",
	statusEmbedded: "embedded",
	shown: "{0} of {1} images",
	shownOne: "{0} of {1} image",
	images: "{0} images",
	imagesOne: "{0} image",
	filesOne: "{0} file",
	files: "{0} files",
	noSelection: "Select an image to see its nearest neighbours.",
	neighbours: "Nearest neighbours",
	neighbourCount: "Neighbours",
	similarity: "similarity",
	retryFailed: "Retry Failed",
	retryFailedCountOne: "Retry {0} failed image",
	retryFailedCount: "Retry {0} failed images",
	noFailures: "Nothing failed.",
	noSkipped: "No file was skipped.",
	skippedHint: "Skipped files hold no image to embed (reports, structured data, presentation states); there is nothing to retry.",
	failedHint: "Files that could not be converted or embedded, with the reason; Retry sends them again with the current settings.",
	earlierEmbeddingKept: "an earlier embedding is kept",
	failedWithEmbeddingOne: "{0} of them keeps an embedding from an earlier run.",
	failedWithEmbedding: "{0} of them keep an embedding from an earlier run.",
	folderTotals: "In this folder",
	lastRun: "Last run",
	lastRunCancelled: "cancelled",
	lastRunStopped: "stopped: {0}",
	embeddedNow: "{0} embedded now",
	alreadyEmbedded: "{0} already embedded",
	failedCount: "{0} failed",
	skippedCount: "{0} skipped",
	copied: "Copied {0}",
	atThisPoint: "{0} images at this point",
	computeOutliers: "Find Outliers",
	outliersK: "Neighbours (k)",
	outliersKHelp: "Each image is compared with its k most similar images; its score is 1 − their mean similarity. A small k finds single odd images; a larger k also finds small groups unlike the rest.",
	outliersExact: "Exact scores: 1 − mean similarity to the {0} nearest images.",
	outliersApprox: "Scores: 1 − mean similarity to the {0} nearest images (candidates from a 32-D PCA, rescored exactly).",
	colorBy: "Colour by",
	colorModality: "Modality",
	colorSeries: "Series",
	colorLabel: "Label",
	mapPca: "PCA of the embeddings: the two axes explain {0} % of the variance.",
	mapComputing: "Computing the map…",
	mapUmap: "UMAP of the embeddings (seeded, 15 neighbours, on 32 PCA axes): near points are similar images; distances between far clusters mean little.",
	mapUmapComing: "PCA shown; the UMAP map replaces it when ready…",
	labelsHeading: "Zero-shot labels",
	labelsHint: "One candidate label per line, e.g. “x-ray chest anteroposterior Atelectasis”.",
	applyLabels: "Apply Labels",
	clearLabels: "Clear Labels",
	labelCounts: "Images per label",
	queryHeading: "Free-text search",
	queryPlaceholder: "e.g. CT abdomen with contrast",
	runQuery: "Search",
	clearQuery: "Clear",
	topMatches: "Best matches",
	working: "Working…",
	noThumbnail: "No thumbnail",
	other: "other",
	none: "(none)",
	levelLabel: "Level",
	levelImages: "Images",
	levelSeries: "Series",
	levelHint: "Show the table, nearest neighbours, outliers, map and CSV export per image or per series.",
	seriesNoSelection: "Select a series to see the most similar ones.",
	seriesOutliersK: "Each series is compared with its k most similar series; its score is 1 − their mean similarity.",
	seriesMapUmap: "UMAP of the series embeddings (seeded, 15 neighbours): near points are similar series; distances between far clusters mean little.",
	seriesMapPca: "PCA of the series embeddings: the two axes explain {0} % of the variance.",
	seriesAtThisPoint: "{0} series at this point",
	seriesCount: "{0} series from {1} images",
	seriesWithoutUid: "{0} images without a SeriesInstanceUID are left out.",
	seriesHint: "A series embedding is the L2-normalised mean of its images' embeddings. Select a series to see the most similar ones.",
	colDescription: "Description",
	colImages: "Images",
	similarSeries: "Most similar series",
	seriesOutliersCaption: "Outlier score: 1 − mean similarity to the {0} nearest series.",
} as const;

export type StringKey = keyof typeof defaultStrings;
export type WebviewStrings = Record<StringKey, string>;

export interface SummaryData {
	outDir: string;
	embedded: number;
	failed: number;
	skipped: number;
	ignored?: number;
	simulated: boolean;
	endpointUrl?: string;
	settings: [string, string][];
	/** Duration of the last run (run.json). */
	elapsedMs?: number;
	/** Images embedded per second in the last run (from run.json timings). */
	rate?: number;
	/** Of `failed`: files whose latest attempt failed although an earlier run's embedding is kept. */
	failedWithEmbedding?: number;
	/** What the last run (run.json) did; `embedded`, `failed`, `skipped` above are totals of the folder. */
	lastRun?: LastRunData;
	dim: number;
	cancelled?: boolean;
	problems: string[];
	/** embeddings.npy exists (the copy action is offered only then). */
	hasNpy: boolean;
}

export interface LastRunData {
	elapsedMs?: number;
	rate?: number;
	embedded?: number;
	alreadyDone?: number;
	failed?: number;
	skipped?: number;
	cancelled?: boolean;
	/** The reason the run stopped early (run.json `fatal.message`). */
	stopped?: string;
	finishedAt?: string;
}

export interface RowData {
	path: string;
	modality: string;
	studyInstanceUid: string;
	seriesInstanceUid: string;
	sopInstanceUid: string;
	studyDescription: string;
	seriesDescription: string;
	/** A webview URI of the thumbnail (asWebviewUri), when there is one. */
	thumbnail?: string;
}

/** One series of the Series tab (no embedding: the host keeps those). */
export interface SeriesData {
	seriesInstanceUid: string;
	studyInstanceUid: string;
	modality: string;
	description: string;
	images: number;
	/** Index of its first image (for the thumbnail). */
	first: number;
}

export interface FailureData {
	path: string;
	stage: string;
	error: string;
	/** The path also has an embedding, from an earlier run (the failure is the latest attempt). */
	embedded?: boolean;
}

export interface ScoredIndex {
	index: number;
	score: number;
}

/** Long tasks the webview shows a busy state for. */
export type Task = "map" | "neighbors" | "outliers" | "labels" | "query" | "export" | "series" | "seriesMap";

export type ToWebview =
	| { type: "init"; strings: WebviewStrings; summary: SummaryData; total: number; failureCount: number }
	| { type: "rows"; start: number; rows: RowData[] }
	| { type: "failures"; start: number; items: FailureData[] }
	/** Float32 n×2 coordinates (PCA, then UMAP when it is ready), `explained` = fraction of variance of each PCA axis. */
	| { type: "map"; method: "pca" | "umap"; coords: ArrayBuffer; explained: number[] }
	| { type: "neighbors"; index: number; items: ScoredIndex[] }
	/** The top outliers, plus every image's score as Float32 (for the table column). */
	| { type: "outliers"; items: ScoredIndex[]; exact: boolean; k: number; scores: ArrayBuffer }
	/** Int32 best label index and Float32 probability per row. */
	| { type: "labels"; labels: string[]; best: ArrayBuffer; probability: ArrayBuffer }
	| { type: "labelsCleared" }
	/** Float32 cosine score per row. */
	| { type: "query"; text: string; scores: ArrayBuffer }
	| { type: "queryCleared" }
	/** The series (PRODUCT.md §10), asked for when the view first shows the series level. */
	| { type: "series"; items: SeriesData[]; withoutUid: number }
	/** The series map: Float32 s×2 coordinates, one point per series of `series` (PCA, then UMAP when ready). */
	| { type: "seriesMap"; method: "pca" | "umap"; coords: ArrayBuffer; explained: number[] }
	| { type: "seriesNeighbors"; index: number; items: ScoredIndex[] }
	| { type: "seriesOutliers"; items: ScoredIndex[]; exact: boolean; k: number; scores: ArrayBuffer }
	| { type: "busy"; task: Task; busy: boolean }
	| { type: "error"; task?: Task; message: string }
	/** A short confirmation from the host ("Copied …"), shown briefly. */
	| { type: "notice"; message: string };

export type CopyTarget = "npy" | "jsonl" | "folder";

export type FromWebview =
	| { type: "ready" }
	| { type: "select"; index: number; k: number }
	| { type: "outliers"; k: number }
	| { type: "labels"; labels: string[] }
	| { type: "clearLabels" }
	| { type: "query"; text: string }
	| { type: "clearQuery" }
	| { type: "reveal" }
	| { type: "retryFailed" }
	| { type: "export" }
	| { type: "copyPath"; which: CopyTarget }
	| { type: "series" }
	| { type: "selectSeries"; index: number; k: number }
	| { type: "seriesOutliers"; k: number }
	| { type: "exportSeries" };

/** Limits on what the webview may ask for. */
export const limits = Object.freeze({ maxK: 100, maxLabels: 64, maxLabelLength: 300, maxQueryLength: 1000 });

/** Rows per `rows` message and failures per `failures` message. */
export const pageSize = 500;

function isObj(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
	return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
}

function isText(v: unknown, max: number): v is string {
	return typeof v === "string" && v.length <= max;
}

/** Exhaustiveness guard for switches over the unions. */
export function assertNever(x: never): never {
	throw new Error(`Unexpected message ${JSON.stringify(x)}`);
}

/** The `never` check of the parsers: compile-time exhaustive, and at run time an unknown type is refused. */
function unknownType(_t: never): undefined {
	return undefined;
}

/** An ArrayBuffer, also one from another realm (the webview's iframe). */
export function isArrayBuffer(v: unknown): v is ArrayBuffer {
	return v instanceof ArrayBuffer || Object.prototype.toString.call(v) === "[object ArrayBuffer]";
}

/** Validates a message from the webview; undefined when it is not a well-formed FromWebview. */
export function parseFromWebview(raw: unknown): FromWebview | undefined {
	if (!isObj(raw) || typeof raw["type"] !== "string") return undefined;
	const t = raw["type"] as FromWebview["type"];
	switch (t) {
		case "ready":
		case "clearLabels":
		case "clearQuery":
		case "reveal":
		case "retryFailed":
		case "export":
		case "series":
		case "exportSeries":
			return { type: t };
		case "selectSeries":
			return isIndex(raw["index"]) && isIndex(raw["k"], limits.maxK) && raw["k"] > 0 ? { type: t, index: raw["index"], k: raw["k"] } : undefined;
		case "seriesOutliers":
			return isIndex(raw["k"], limits.maxK) && raw["k"] > 0 ? { type: t, k: raw["k"] } : undefined;
		case "select":
			return isIndex(raw["index"]) && isIndex(raw["k"], limits.maxK) && raw["k"] > 0 ? { type: t, index: raw["index"], k: raw["k"] } : undefined;
		case "outliers":
			return isIndex(raw["k"], limits.maxK) && raw["k"] > 0 ? { type: t, k: raw["k"] } : undefined;
		case "labels": {
			const labels = raw["labels"];
			if (!Array.isArray(labels) || labels.length === 0 || labels.length > limits.maxLabels) return undefined;
			if (!labels.every((l) => isText(l, limits.maxLabelLength) && l.trim() !== "")) return undefined;
			return { type: t, labels: labels.map((l: string) => l.trim()) };
		}
		case "query":
			return isText(raw["text"], limits.maxQueryLength) && raw["text"].trim() !== "" ? { type: t, text: raw["text"].trim() } : undefined;
		case "copyPath": {
			const w = raw["which"];
			return w === "npy" || w === "jsonl" || w === "folder" ? { type: t, which: w } : undefined;
		}
		default:
			return unknownType(t);
	}
}

const tasks: readonly string[] = ["map", "neighbors", "outliers", "labels", "query", "export", "series", "seriesMap"];

function isScoredList(v: unknown): v is ScoredIndex[] {
	return Array.isArray(v) && v.every((x) => isObj(x) && isIndex(x["index"]) && typeof x["score"] === "number");
}

function isStringRecord(v: unknown): boolean {
	return isObj(v) && Object.values(v).every((x) => typeof x === "string");
}

/** Validates a message from the host; undefined when it is not a well-formed ToWebview. */
export function parseToWebview(raw: unknown): ToWebview | undefined {
	if (!isObj(raw) || typeof raw["type"] !== "string") return undefined;
	const m = raw as Record<string, unknown> & { type: ToWebview["type"] };
	const ok = ((): boolean => {
		switch (m.type) {
			case "init":
				return isStringRecord(m["strings"]) && isObj(m["summary"]) && isIndex(m["total"]) && isIndex(m["failureCount"]);
			case "rows":
				return isIndex(m["start"]) && Array.isArray(m["rows"]) && m["rows"].every((r) => isObj(r) && typeof r["path"] === "string");
			case "failures":
				return isIndex(m["start"]) && Array.isArray(m["items"]) && m["items"].every((r) => isObj(r) && typeof r["path"] === "string" && typeof r["error"] === "string");
			case "map":
			case "seriesMap":
				return (m["method"] === "pca" || m["method"] === "umap") && isArrayBuffer(m["coords"]) && Array.isArray(m["explained"]);
			case "neighbors":
				return isIndex(m["index"]) && isScoredList(m["items"]);
			case "outliers":
				return isScoredList(m["items"]) && typeof m["exact"] === "boolean" && isIndex(m["k"]) && isArrayBuffer(m["scores"]);
			case "labels":
				return Array.isArray(m["labels"]) && m["labels"].every((l) => typeof l === "string") && isArrayBuffer(m["best"]) && isArrayBuffer(m["probability"]);
			case "query":
				return typeof m["text"] === "string" && isArrayBuffer(m["scores"]);
			case "series":
				return Array.isArray(m["items"]) && m["items"].every((x) => isObj(x) && typeof x["seriesInstanceUid"] === "string" && isIndex(x["images"]) && isIndex(x["first"])) && isIndex(m["withoutUid"]);
			case "seriesNeighbors":
				return isIndex(m["index"]) && isScoredList(m["items"]);
			case "seriesOutliers":
				return isScoredList(m["items"]) && typeof m["exact"] === "boolean" && isIndex(m["k"]) && isArrayBuffer(m["scores"]);
			case "labelsCleared":
			case "queryCleared":
				return true;
			case "busy":
				return typeof m["task"] === "string" && tasks.includes(m["task"]) && typeof m["busy"] === "boolean";
			case "error":
			case "notice":
				return typeof m["message"] === "string";
			default:
				return unknownType(m.type) ?? false;
		}
	})();
	return ok ? (raw as ToWebview) : undefined;
}
