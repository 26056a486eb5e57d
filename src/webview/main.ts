/**
 * Entry of the results webview (bundled to dist/webview/main.js). Builds the views, talks to the host
 * through the typed protocol (validating every inbound message), and keeps the view state in
 * vscode.getState/setState. DICOM-derived text is only ever set through textContent.
 */
import { parseToWebview, type ToWebview } from "../core/protocol/webview";
import { DetailView } from "./detailView";
import { el, icon } from "./dom";
import { FailuresView } from "./failuresView";
import { ImagesView } from "./imagesView";
import { LabelsView } from "./labelsView";
import { MapView } from "./mapView";
import { OutliersView } from "./outliersView";
import { SeriesView } from "./seriesView";
import { Store, type Level, type TabId } from "./store";
import { SummaryView } from "./summaryView";

const vscode = acquireVsCodeApi();
const store = new Store(vscode);

const summary = new SummaryView(store);
const images = new ImagesView(store);
const map = new MapView(store);
const failures = new FailuresView(store, "failed");
const skipped = new FailuresView(store, "skipped");
const outliers = new OutliersView(store);
const labels = new LabelsView(store);
const detail = new DetailView(store);
const series = new SeriesView(store);

// The first tab holds the table of the level shown: images or series.
const tablePanel = el("div", { class: "table-level" }, images.root, series.root);
const panels: Record<TabId, HTMLElement> = { images: tablePanel, map: map.root, failures: failures.root, skipped: skipped.root, outliers: outliers.root, labels: labels.root };
const tabOrder: TabId[] = ["images", "map", "failures", "skipped", "outliers", "labels"];
const tabTitle = { images: "tabImages", map: "tabMap", failures: "tabFailures", skipped: "tabSkipped", outliers: "tabOutliers", labels: "tabLabels" } as const;
const tabIcon = { images: "list-flat", map: "graph-scatter", failures: "error", skipped: "circle-slash", outliers: "telescope", labels: "tag" } as const;
const tabButtons = new Map<TabId, HTMLButtonElement>();
const tablist = el("div", { class: "tabs", attrs: { role: "tablist" } });
const errorBar = el("div", { class: "error-bar", attrs: { role: "alert" } });
errorBar.hidden = true;
const noticeBar = el("div", { class: "notice-bar", attrs: { role: "status", "aria-live": "polite" } });
noticeBar.hidden = true;
let noticeTimer: ReturnType<typeof setTimeout> | undefined;
const busyBar = el("div", { class: "busy-bar", attrs: { "aria-live": "polite" } });
busyBar.hidden = true;

/**
 * The level toggle, "Images | Series": a segmented control (a radio group: Tab focuses the checked
 * option, arrows move and switch, as in every radio group).
 */
const levels: Level[] = ["images", "series"];
const levelButtons = new Map<Level, HTMLButtonElement>();
const levelToggle = el("div", { class: "level-toggle", attrs: { role: "radiogroup", "aria-label": store.t("levelLabel") }, title: store.t("levelHint") });

function buildLevelToggle(): void {
	while (levelToggle.firstChild) levelToggle.removeChild(levelToggle.firstChild);
	levelToggle.setAttribute("aria-label", store.t("levelLabel"));
	levelToggle.title = store.t("levelHint");
	for (const level of levels) {
		const b = el(
			"button",
			{ class: "level-option", attrs: { type: "button", role: "radio", "data-level": level } },
			icon(level === "images" ? "file-media" : "layers"),
			el("span", { text: store.t(level === "images" ? "levelImages" : "levelSeries") }),
		);
		b.addEventListener("click", () => store.setLevel(level));
		b.addEventListener("keydown", (e) => {
			const i = levels.indexOf(level);
			const step = e.key === "ArrowRight" || e.key === "ArrowDown" ? 1 : e.key === "ArrowLeft" || e.key === "ArrowUp" ? -1 : 0;
			if (!step) return;
			const next = levels[(i + step + levels.length) % levels.length] as Level;
			store.setLevel(next);
			levelButtons.get(next)?.focus();
			e.preventDefault();
		});
		levelButtons.set(level, b);
		levelToggle.appendChild(b);
	}
	showLevel();
}

/** Shows the level of the view state: the table and detail panel of that level; the map and Outliers tab follow it themselves. */
function showLevel(): void {
	const level = store.view.level;
	for (const [l, b] of levelButtons) {
		const on = l === level;
		b.setAttribute("aria-checked", String(on));
		b.setAttribute("tabindex", on ? "0" : "-1");
		b.classList.toggle("active", on);
	}
	images.root.hidden = level !== "images";
	series.root.hidden = level !== "series";
	showSide();
	const label = tabButtons.get("images")?.querySelector("span:not(.codicon)");
	if (label) label.textContent = store.t(level === "series" ? "levelSeries" : "tabImages");
	document.body.dataset["level"] = level;
	if (level === "series") store.requestSeries();
}
store.on("level", showLevel);

/**
 * The side panel: the selected series and its most similar series on the tabs that follow the level
 * (table, map, outliers) at series level; else the selected image (or failure) and its neighbours.
 */
function showSide(): void {
	const bySeries = store.view.level === "series" && (store.view.tab === "images" || store.view.tab === "map" || store.view.tab === "outliers");
	detail.root.hidden = bySeries;
	series.side.hidden = !bySeries;
}

function buildTabs(): void {
	while (tablist.firstChild) tablist.removeChild(tablist.firstChild);
	for (const id of tabOrder) {
		const n = id === "failures" ? (store.summary?.failed ?? 0) : id === "skipped" ? (store.summary?.skipped ?? 0) : 0;
		const count = n ? ` (${n})` : "";
		const b = el("button", { class: `tab${id === "failures" && n ? " has-failures" : ""}`, attrs: { type: "button", role: "tab", id: `tab-${id}`, "aria-controls": `panel-${id}`, "data-tab": id } }, icon(tabIcon[id]), el("span", { text: store.t(tabTitle[id]) + count }));
		b.addEventListener("click", () => showTab(id, true));
		b.addEventListener("keydown", (e) => {
			const i = tabOrder.indexOf(id);
			const next = e.key === "ArrowRight" ? tabOrder[(i + 1) % tabOrder.length] : e.key === "ArrowLeft" ? tabOrder[(i + tabOrder.length - 1) % tabOrder.length] : undefined;
			if (next) {
				showTab(next, true);
				tabButtons.get(next)?.focus();
				e.preventDefault();
			}
		});
		tabButtons.set(id, b);
		tablist.appendChild(b);
	}
	showTab(store.view.tab, false);
	showLevel();
}

function showTab(id: TabId, save: boolean): void {
	for (const t of tabOrder) {
		const on = t === id;
		const b = tabButtons.get(t);
		b?.setAttribute("aria-selected", String(on));
		b?.setAttribute("tabindex", on ? "0" : "-1");
		b?.classList.toggle("active", on);
		panels[t].hidden = !on;
	}
	map.setVisible(id === "map");
	if (save) store.setView({ tab: id }, false);
	showSide();
}

for (const id of tabOrder) {
	panels[id].id = `panel-${id}`;
	panels[id].setAttribute("role", "tabpanel");
	panels[id].setAttribute("aria-labelledby", `tab-${id}`);
	panels[id].classList.add("panel");
}

document.body.appendChild(
	el(
		"div",
		{ class: "app" },
		summary.root,
		errorBar,
		noticeBar,
		el("div", { class: "workspace" }, el("main", { class: "main" }, el("div", { class: "tabs-row" }, tablist, levelToggle), busyBar, ...tabOrder.map((t) => panels[t])), detail.root, series.side),
	),
);
buildTabs();
buildLevelToggle();

function showError(message: string): void {
	errorBar.hidden = false;
	errorBar.textContent = message;
}

function updateBusy(): void {
	busyBar.hidden = store.busy.size === 0;
	busyBar.textContent = store.busy.size ? `${store.t("working")} (${[...store.busy].join(", ")})` : "";
	document.body.classList.toggle("is-busy", store.busy.size > 0);
}

function handle(msg: ToWebview): void {
	switch (msg.type) {
		case "init":
			if (store.summary) {
				// The host re-read the folder (a run on it ended): new data, same view state (tab, filter, sort, selection, scroll).
				store.resetData();
				errorBar.hidden = true;
				images.restoreScroll();
			}
			store.strings = { ...store.strings, ...msg.strings };
			store.summary = msg.summary;
			if (store.view.outDir !== msg.summary.outDir) {
				// Another folder than the saved state's: its selection and scroll position do not apply.
				store.setView({ outDir: msg.summary.outDir, selected: undefined, scrollTop: 0 }, false);
			}
			store.total = msg.total;
			store.failureCount = msg.failureCount;
			store.rows = new Array(msg.total);
			store.failures = new Array(msg.failureCount);
			document.title = store.t("title");
			buildTabs();
			buildLevelToggle();
			store.emit("init");
			for (const topic of ["labels", "query", "outliers", "neighbors", "selection"] as const) store.emit(topic);
			return;
		case "rows":
			for (let i = 0; i < msg.rows.length; i++) store.rows[msg.start + i] = msg.rows[i] as (typeof store.rows)[number];
			store.emit("rows");
			if (msg.start + msg.rows.length >= store.total) {
				store.restoreSelection();
				images.restoreScroll();
			}
			return;
		case "failures":
			for (let i = 0; i < msg.items.length; i++) store.failures[msg.start + i] = msg.items[i] as (typeof store.failures)[number];
			store.emit("failures");
			store.restoreSelection();
			return;
		case "map":
			store.coords = new Float32Array(msg.coords);
			store.explained = msg.explained;
			store.mapMethod = msg.method;
			store.emit("map");
			return;
		case "neighbors":
			store.neighbors = { index: msg.index, items: msg.items };
			store.emit("neighbors");
			return;
		case "outliers":
			store.outliers = { items: msg.items, exact: msg.exact, k: msg.k };
			store.outlierScores = new Float32Array(msg.scores);
			store.emit("outliers");
			return;
		case "labels":
			store.labels = { labels: msg.labels, best: new Int32Array(msg.best), probability: new Float32Array(msg.probability) };
			store.emit("labels");
			return;
		case "labelsCleared":
			store.labels = undefined;
			store.emit("labels");
			return;
		case "query":
			store.query = { text: msg.text, scores: new Float32Array(msg.scores) };
			store.emit("query");
			return;
		case "queryCleared":
			store.query = undefined;
			store.emit("query");
			return;
		case "series":
			store.series = { items: msg.items, withoutUid: msg.withoutUid };
			store.emit("series");
			store.restoreSeriesSelection();
			return;
		case "seriesMap":
			store.seriesMap = { coords: new Float32Array(msg.coords), explained: msg.explained, method: msg.method };
			store.emit("seriesMap");
			return;
		case "seriesNeighbors":
			store.seriesNeighbors = { index: msg.index, items: msg.items };
			store.emit("series");
			return;
		case "seriesOutliers":
			store.seriesOutliers = { items: msg.items, exact: msg.exact, k: msg.k, scores: new Float32Array(msg.scores) };
			store.emit("series");
			store.emit("outliers");
			return;
		case "busy":
			if (msg.busy) {
				store.busy.add(msg.task);
				errorBar.hidden = true;
			} else store.busy.delete(msg.task);
			updateBusy();
			store.emit("busy");
			return;
		case "error":
			store.errors.push(msg);
			showError(msg.message);
			store.emit("error");
			return;
		case "notice":
			noticeBar.textContent = msg.message;
			noticeBar.hidden = false;
			if (noticeTimer !== undefined) clearTimeout(noticeTimer);
			noticeTimer = setTimeout(() => (noticeBar.hidden = true), 4000);
			return;
		default:
			unreachable(msg);
	}
}

function unreachable(_m: never): void {
	return undefined;
}

window.addEventListener("message", (e: MessageEvent) => {
	const msg = parseToWebview(e.data);
	if (msg) handle(msg);
});

vscode.postMessage({ type: "ready" });
