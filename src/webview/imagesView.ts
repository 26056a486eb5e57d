/**
 * The Images tab: every embedded image and every failed/skipped file in one virtualised table,
 * sortable by any column, filtered by text and modality, optionally grouped by study or series.
 */
import type { StringKey } from "../core/protocol/webview";
import { clear, el, format, thumb } from "./dom";
import type { GroupBy, SortKey, Store } from "./store";
import { syncHeaderScroll, VirtualList } from "./virtualList";

interface Column {
	key: SortKey | "thumb";
	title: StringKey | "";
	width: string;
	when?: (s: Store) => boolean;
}

const columns: Column[] = [
	{ key: "thumb", title: "", width: "36px" },
	{ key: "path", title: "colPath", width: "minmax(180px, 3fr)" },
	{ key: "modality", title: "colModality", width: "80px" },
	{ key: "study", title: "colStudy", width: "minmax(90px, 1.3fr)" },
	{ key: "series", title: "colSeries", width: "minmax(90px, 1.5fr)" },
	{ key: "status", title: "colStatus", width: "120px" },
	{ key: "label", title: "colLabel", width: "minmax(100px, 1.5fr)", when: (s) => s.labels !== undefined },
	{ key: "probability", title: "colProbability", width: "90px", when: (s) => s.labels !== undefined },
	{ key: "score", title: "colScore", width: "90px", when: (s) => s.query !== undefined },
	{ key: "outlier", title: "colOutlier", width: "100px", when: (s) => s.outlierScores !== undefined },
];

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export class ImagesView {
	readonly root: HTMLElement;
	private readonly list: VirtualList;
	private readonly header: HTMLDivElement;
	private readonly filterInput: HTMLInputElement;
	private readonly modalitySelect: HTMLSelectElement;
	private readonly groupSelect: HTMLSelectElement;
	private readonly countLabel: HTMLSpanElement;
	private groups: { title: string; count: number }[] = [];
	private haystack: string[] = [];
	private active: Column[] = [];
	private recomputeTimer: ReturnType<typeof setTimeout> | undefined;
	private pendingScroll: number | undefined;

	constructor(private readonly s: Store) {
		this.filterInput = el("input", { class: "input filter", attrs: { type: "search", "aria-label": s.t("filterPlaceholder"), placeholder: s.t("filterPlaceholder") } });
		this.filterInput.value = s.view.filter;
		this.filterInput.addEventListener("input", () => {
			s.setView({ filter: this.filterInput.value }, false);
			this.scheduleRecompute();
		});
		this.modalitySelect = el("select", { class: "select", attrs: { "aria-label": s.t("colModality") } });
		this.modalitySelect.addEventListener("change", () => {
			s.setView({ modality: this.modalitySelect.value }, false);
			this.recompute();
		});
		this.groupSelect = el("select", { class: "select", attrs: { "aria-label": s.t("groupBy") } });
		for (const [v, k] of [["none", "groupNone"], ["study", "groupStudy"], ["series", "groupSeries"]] as const) {
			this.groupSelect.appendChild(el("option", { text: k === "groupNone" ? s.t(k) : `${s.t("groupBy")}: ${s.t(k)}`, attrs: { value: v } }));
		}
		this.groupSelect.value = s.view.groupBy;
		this.groupSelect.addEventListener("change", () => {
			s.setView({ groupBy: this.groupSelect.value as GroupBy }, false);
			this.recompute();
		});
		this.countLabel = el("span", { class: "count", attrs: { "aria-live": "polite" } });
		this.header = el("div", { class: "vrow header", attrs: { role: "row" } });
		this.list = new VirtualList({
			rowHeight: 30,
			className: "images",
			label: s.t("tabImages"),
			render: (row, entry) => this.renderRow(row, entry),
			onActivate: (entry) => {
				if (entry >= 0) s.select(entry);
			},
			onScroll: (top) => s.setView({ scrollTop: top }, false),
		});
		const headerBox = el("div", { class: "header-scroll" }, this.header);
		const table = el("div", { class: "table", attrs: { role: "presentation" } }, headerBox, this.list.root);
		syncHeaderScroll(headerBox, this.list.root);
		this.root = el(
			"div",
			{ class: "images-view" },
			el("div", { class: "toolbar" }, this.filterInput, this.modalitySelect, this.groupSelect, this.countLabel),
			table,
		);
		s.on("rows", () => this.onData());
		s.on("failures", () => this.onData());
		s.on("labels", () => {
			// The filter matches labels too: their text changed.
			this.haystack = [];
			this.onColumns();
		});
		s.on("query", () => this.onColumns());
		s.on("outliers", () => this.onColumns());
		s.on("selection", () => this.list.setSelected(s.selectedId, false));
		this.onColumns();
	}

	/** Restores the saved scroll position once the rows are in the list (after the next recompute). */
	restoreScroll(): void {
		this.pendingScroll = this.s.view.scrollTop;
	}

	focus(): void {
		this.list.root.focus();
	}

	private onData(): void {
		this.haystack = [];
		this.fillModalities();
		this.scheduleRecompute(30);
	}

	private onColumns(): void {
		this.active = columns.filter((c) => !c.when || c.when(this.s));
		this.root.style.setProperty("--grid", this.active.map((c) => c.width).join(" "));
		// Rows and header are at least as wide as the columns' minimum widths (+ 8 px gaps, 2 × 8 px padding), so the list scrolls to the last column and the header with it.
		const minWidth = this.active.reduce((sum, c) => sum + Number(/^(?:minmax\()?(\d+)px/.exec(c.width)?.[1] ?? 0), 0) + 8 * (this.active.length - 1) + 16;
		this.root.style.setProperty("--grid-min", `${minWidth}px`);
		clear(this.header);
		for (const c of this.active) {
			if (c.key === "thumb" || c.title === "") {
				this.header.appendChild(el("span", { class: "cell", attrs: { role: "columnheader" } }));
				continue;
			}
			const sorted = this.s.view.sortKey === c.key;
			const key = c.key;
			const b = el("button", {
				class: `cell sort${sorted ? " sorted" : ""}`,
				text: this.s.t(c.title) + (sorted ? (this.s.view.sortDesc ? " ▼" : " ▲") : ""),
				attrs: { type: "button", role: "columnheader", "aria-sort": sorted ? (this.s.view.sortDesc ? "descending" : "ascending") : "none", "data-key": c.key },
				on: {
					click: () => {
						const desc = this.s.view.sortKey === key ? !this.s.view.sortDesc : key === "score" || key === "probability" || key === "outlier";
						this.s.setView({ sortKey: key, sortDesc: desc }, false);
						this.onColumns();
					},
				},
			});
			this.header.appendChild(b);
		}
		this.recompute();
	}

	private fillModalities(): void {
		const counts = new Map<string, number>();
		for (const r of this.s.rows) if (r) counts.set(r.modality, (counts.get(r.modality) ?? 0) + 1);
		const want = this.s.view.modality;
		clear(this.modalitySelect);
		this.modalitySelect.appendChild(el("option", { text: this.s.t("allModalities"), attrs: { value: "" } }));
		for (const [m, n] of [...counts].sort((a, b) => collator.compare(a[0], b[0]))) {
			this.modalitySelect.appendChild(el("option", { text: `${m || this.s.t("none")} (${n})`, attrs: { value: m } }));
		}
		this.modalitySelect.value = counts.has(want) ? want : "";
	}

	private scheduleRecompute(ms = 120): void {
		if (this.recomputeTimer !== undefined) clearTimeout(this.recomputeTimer);
		this.recomputeTimer = setTimeout(() => {
			this.recomputeTimer = undefined;
			this.recompute();
		}, ms);
	}

	private text(id: number): string {
		let h = this.haystack[id];
		if (h === undefined) {
			const s = this.s;
			if (id < s.total) {
				const r = s.rows[id];
				const label = r && s.labels ? (s.labels.labels[s.labels.best[id] as number] ?? "") : "";
				h = r ? [r.path, r.modality, r.studyDescription, r.seriesDescription, r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid, label].join("\n").toLowerCase() : "";
			} else {
				const f = s.failures[id - s.total];
				h = f ? [f.path, f.stage, f.error].join("\n").toLowerCase() : "";
			}
			this.haystack[id] = h;
		}
		return h;
	}

	private sortValue(id: number, key: SortKey): string | number {
		const s = this.s;
		const r = id < s.total ? s.rows[id] : undefined;
		const f = id >= s.total ? s.failures[id - s.total] : undefined;
		switch (key) {
			case "path":
				return r?.path ?? f?.path ?? "";
			case "modality":
				return r?.modality ?? "";
			case "study":
				return r ? r.studyDescription || r.studyInstanceUid : "";
			case "series":
				return r ? r.seriesDescription || r.seriesInstanceUid : "";
			case "status":
				return r ? "0" : f?.stage === "skipped" ? "2" : "1";
			case "label":
				return r && s.labels ? (s.labels.labels[s.labels.best[id] as number] ?? "") : "";
			case "probability":
				return r && s.labels ? (s.labels.probability[id] as number) : -Infinity;
			case "score":
				return r && s.query ? (s.query.scores[id] as number) : -Infinity;
			case "outlier":
				return r && s.outlierScores ? (s.outlierScores[id] as number) : -Infinity;
		}
	}

	private groupKey(id: number, by: GroupBy): string {
		const r = id < this.s.total ? this.s.rows[id] : undefined;
		if (!r) return "\uffff";
		return by === "study" ? r.studyInstanceUid : r.seriesInstanceUid;
	}

	private groupTitle(id: number, by: GroupBy): string {
		const r = id < this.s.total ? this.s.rows[id] : undefined;
		if (!r) return this.s.t("tabFailures");
		return by === "study" ? `${this.s.t("groupStudy")}: ${r.studyDescription || r.studyInstanceUid || this.s.t("none")}` : `${this.s.t("groupSeries")}: ${r.seriesDescription || r.seriesInstanceUid || this.s.t("none")} · ${r.modality}`;
	}

	/** Filter, sort and group into the list's entries (negative entries are group headers). */
	recompute(): void {
		const s = this.s;
		const needle = s.view.filter.trim().toLowerCase();
		const modality = s.view.modality;
		const ids: number[] = [];
		const all = s.total + s.failures.length;
		let n = 0;
		for (let id = 0; id < all; id++) {
			if (id < s.total ? !s.rows[id] : !s.failures[id - s.total]) continue;
			// A failed later attempt of an embedded image is listed in the Failed tab; here the image is one row.
			if (id >= s.total && s.failures[id - s.total]?.embedded) continue;
			n++;
			if (modality && (id >= s.total || s.rows[id]?.modality !== modality)) continue;
			if (needle && !this.text(id).includes(needle)) continue;
			ids.push(id);
		}
		const key = s.view.sortKey;
		const dir = s.view.sortDesc ? -1 : 1;
		const values = new Map<number, string | number>();
		for (const id of ids) values.set(id, this.sortValue(id, key));
		const cmp = (a: number, b: number): number => {
			const va = values.get(a) as string | number;
			const vb = values.get(b) as string | number;
			const c = typeof va === "number" && typeof vb === "number" ? va - vb : collator.compare(String(va), String(vb));
			return c * dir || a - b;
		};
		const by = s.view.groupBy;
		let entries: number[];
		this.groups = [];
		if (by === "none") {
			entries = ids.sort(cmp);
		} else {
			const byGroup = new Map<string, number[]>();
			for (const id of ids) {
				const g = this.groupKey(id, by);
				let list = byGroup.get(g);
				if (!list) byGroup.set(g, (list = []));
				list.push(id);
			}
			entries = [];
			// Groups by title; the failures (no study or series) come last.
			const title = (g: string): string => this.groupTitle((byGroup.get(g) as number[])[0] as number, by);
			const keys = [...byGroup.keys()].sort((a, b) => Number(a === "\uffff") - Number(b === "\uffff") || collator.compare(title(a), title(b)));
			for (const g of keys) {
				const members = (byGroup.get(g) as number[]).sort(cmp);
				this.groups.push({ title: this.groupTitle(members[0] as number, by), count: members.length });
				entries.push(-this.groups.length);
				for (const id of members) entries.push(id);
			}
		}
		this.countLabel.textContent = format(s.form(n, "shownOne", "shown"), ids.length, n);
		this.list.setEntries(entries);
		this.list.setSelected(s.selectedId, false);
		if (this.pendingScroll !== undefined && entries.length === n) {
			this.list.scrollTo(this.pendingScroll);
			this.pendingScroll = undefined;
		}
	}

	private cell(cls: string, text: string, title?: string): HTMLSpanElement {
		return el("span", title === undefined ? { class: `cell ${cls}`, text, attrs: { role: "gridcell" } } : { class: `cell ${cls}`, text, title, attrs: { role: "gridcell" } });
	}

	private renderRow(row: HTMLElement, entry: number): void {
		clear(row);
		const s = this.s;
		row.classList.remove("group", "failed-row", "skipped-row");
		if (entry < 0) {
			const g = this.groups[-entry - 1];
			row.classList.add("group");
			row.appendChild(el("span", { class: "cell group-title", text: g ? `${g.title} — ${s.n(g.count, "imagesOne", "images")}` : "", attrs: { role: "gridcell" } }));
			return;
		}
		const r = entry < s.total ? s.rows[entry] : undefined;
		const f = entry >= s.total ? s.failures[entry - s.total] : undefined;
		if (f) row.classList.add(f.stage === "skipped" ? "skipped-row" : "failed-row");
		for (const c of this.active) {
			switch (c.key) {
				case "thumb":
					row.appendChild(el("span", { class: "cell thumb-cell", attrs: { role: "gridcell" } }, thumb(r?.thumbnail, "thumb", "")));
					break;
				case "path": {
					const p = r?.path ?? f?.path ?? "";
					row.appendChild(this.cell("path", p, p));
					break;
				}
				case "modality":
					row.appendChild(this.cell("modality", r?.modality ?? ""));
					break;
				case "study":
					row.appendChild(this.cell("study", r ? r.studyDescription || r.studyInstanceUid : "", r ? `${r.studyDescription}\n${r.studyInstanceUid}` : undefined));
					break;
				case "series":
					row.appendChild(this.cell("series", r ? r.seriesDescription || r.seriesInstanceUid : f?.error ?? "", r ? `${r.seriesDescription}\n${r.seriesInstanceUid}` : f?.error));
					break;
				case "status":
					row.appendChild(this.cell(`status ${r ? "ok" : f?.stage === "skipped" ? "skipped" : "failed"}`, r ? s.t("statusEmbedded") : f?.stage === "skipped" ? s.t("skipped").toLowerCase() : `${s.t("failed").toLowerCase()} (${f?.stage ?? ""})`));
					break;
				case "label":
					row.appendChild(this.cell("label", r && s.labels ? (s.labels.labels[s.labels.best[entry] as number] ?? "") : ""));
					break;
				case "probability":
					row.appendChild(this.cell("num probability", r && s.labels ? `${((s.labels.probability[entry] as number) * 100).toFixed(1)} %` : ""));
					break;
				case "score":
					row.appendChild(this.cell("num score", r && s.query ? (s.query.scores[entry] as number).toFixed(3) : ""));
					break;
				case "outlier": {
					const o = r && s.outlierScores ? s.outlierScores[entry] : undefined;
					row.appendChild(this.cell("num outlier", o === undefined ? "" : o.toFixed(3)));
					break;
				}
			}
		}
	}
}
