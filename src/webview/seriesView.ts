/**
 * The Series tab (PRODUCT.md §10): one row per series with its study, modality, description, image
 * count and (once computed) outlier score; selecting a series lists the most similar series by the
 * cosine of their embeddings (each the L2-normalised mean of its images'). The host computes
 * everything; this view only shows it. DICOM text is set through textContent only.
 */
import type { SeriesData } from "../core/protocol/webview";
import { button, clear, el, format, thumb } from "./dom";
import type { Store } from "./store";

type SeriesSort = "description" | "modality" | "study" | "images" | "outlier";

export class SeriesView {
	readonly root: HTMLElement;
	private readonly caption: HTMLParagraphElement;
	private readonly body: HTMLTableSectionElement;
	private readonly side: HTMLDivElement;
	private readonly kInput: HTMLInputElement;
	private sortKey: SeriesSort = "study";
	private sortDesc = false;
	private selected = -1;
	private requested = false;

	constructor(private readonly s: Store) {
		this.caption = el("p", { class: "caption" });
		this.kInput = el("input", { class: "input narrow", attrs: { type: "number", min: "1", max: "100", "aria-label": "k" } });
		this.kInput.value = String(s.view.outlierK);
		const outliers = button(s.t("computeSeriesOutliers"), "telescope", () => {
			const k = Math.max(1, Math.min(100, Math.round(Number(this.kInput.value) || 5)));
			this.kInput.value = String(k);
			s.post({ type: "seriesOutliers", k });
		}, "action-series-outliers");
		const exportCsv = button(s.t("exportSeriesCsv"), "export", () => s.post({ type: "exportSeries" }), "action-series-export");
		const head = el("tr");
		const cols: [SeriesSort | undefined, keyof Store["strings"]][] = [
			[undefined, "noThumbnail"],
			["description", "colDescription"],
			["modality", "colModality"],
			["study", "colStudy"],
			["images", "colImages"],
			["outlier", "colOutlier"],
		];
		for (const [key, label] of cols) {
			const th = el("th", { attrs: { scope: "col" } });
			if (key) {
				th.appendChild(
					el("button", {
						class: "series-sort",
						text: s.t(label),
						attrs: { type: "button", "data-sort": key },
						on: {
							click: () => {
								this.sortDesc = this.sortKey === key ? !this.sortDesc : key === "images" || key === "outlier";
								this.sortKey = key;
								this.renderTable();
							},
						},
					}),
				);
			}
			head.appendChild(th);
		}
		this.body = el("tbody");
		this.side = el("div", { class: "series-side" }, el("p", { class: "caption", text: s.t("seriesHint") }));
		this.root = el(
			"div",
			{ class: "series-view" },
			el("div", { class: "toolbar" }, this.caption, el("label", { class: "inline-label", text: "k" }), this.kInput, outliers, exportCsv),
			el("div", { class: "series-layout" }, el("div", { class: "series-table-wrap" }, el("table", { class: "series-table" }, el("thead", {}, head), this.body)), this.side),
		);
		s.on("init", () => this.request());
		s.on("series", () => this.render());
		s.on("rows", () => this.renderTable());
		s.on("busy", () => this.root.classList.toggle("busy", s.busy.has("series")));
	}

	/** Asks the host for the series (once per page load). */
	private request(): void {
		if (this.requested) return;
		this.requested = true;
		this.selected = -1;
		this.s.post({ type: "series" });
	}

	private render(): void {
		const data = this.s.series;
		if (!data) return;
		const images = data.items.reduce((n, x) => n + x.images, 0);
		this.caption.textContent = format(this.s.t("seriesCount"), data.items.length, images) + (data.withoutUid ? ` ${format(this.s.t("seriesWithoutUid"), data.withoutUid)}` : "");
		this.renderTable();
		this.renderSide();
	}

	private value(x: SeriesData, i: number): string | number {
		switch (this.sortKey) {
			case "description":
				return x.description.toLowerCase();
			case "modality":
				return x.modality;
			case "study":
				return `${x.studyInstanceUid}\0${x.seriesInstanceUid}`;
			case "images":
				return x.images;
			case "outlier":
				return this.s.seriesOutliers?.scores[i] ?? -1;
		}
	}

	private renderTable(): void {
		const data = this.s.series;
		if (!data) return;
		const order = data.items.map((_, i) => i);
		order.sort((a, b) => {
			const va = this.value(data.items[a] as SeriesData, a);
			const vb = this.value(data.items[b] as SeriesData, b);
			const c = va < vb ? -1 : va > vb ? 1 : a - b;
			return this.sortDesc ? -c : c;
		});
		clear(this.body);
		const scores = this.s.seriesOutliers?.scores;
		for (const i of order) {
			const x = data.items[i] as SeriesData;
			const row = this.s.rows[x.first];
			const tr = el(
				"tr",
				{ class: i === this.selected ? "selected" : "", attrs: { tabindex: "0", "data-series": String(i), "aria-selected": String(i === this.selected) } },
				el("td", {}, thumb(row?.thumbnail, "series-thumb", "")),
				el("td", { text: x.description || this.s.t("none"), title: x.seriesInstanceUid }),
				el("td", { text: x.modality }),
				el("td", { class: "uid", text: x.studyInstanceUid }),
				el("td", { class: "num", text: String(x.images) }),
				el("td", { class: "num", text: scores ? (scores[i] as number).toFixed(3) : "" }),
			);
			tr.addEventListener("click", () => this.select(i));
			tr.addEventListener("keydown", (e) => {
				if (e.key === "Enter" || e.key === " ") {
					this.select(i);
					e.preventDefault();
				}
			});
			this.body.appendChild(tr);
		}
	}

	private select(i: number): void {
		this.selected = i;
		this.s.seriesNeighbors = undefined;
		this.s.post({ type: "selectSeries", index: i, k: this.s.view.k });
		this.renderTable();
		this.renderSide();
	}

	private renderSide(): void {
		const data = this.s.series;
		clear(this.side);
		const x = data?.items[this.selected];
		if (!data || !x) {
			this.side.appendChild(el("p", { class: "caption", text: this.s.t("seriesHint") }));
			return;
		}
		this.side.appendChild(el("h3", { text: x.description || x.seriesInstanceUid }));
		this.side.appendChild(el("p", { class: "caption uid", text: `${x.modality} · ${format(this.s.t("images"), x.images)} · ${x.seriesInstanceUid}` }));
		const o = this.s.seriesOutliers;
		if (o) this.side.appendChild(el("p", { class: "caption", text: format(this.s.t("seriesOutliersCaption"), o.k) }));
		this.side.appendChild(el("h4", { text: this.s.t("similarSeries") }));
		const n = this.s.seriesNeighbors;
		if (!n || n.index !== this.selected) return;
		const ol = el("ol", { class: "ranked series-neighbours" });
		for (const item of n.items) {
			const y = data.items[item.index];
			if (!y) continue;
			ol.appendChild(
				el(
					"li",
					{},
					el(
						"button",
						{ class: "ranked-item", attrs: { type: "button", "data-series": String(item.index) }, title: y.seriesInstanceUid, on: { click: () => this.select(item.index) } },
						thumb(this.s.rows[y.first]?.thumbnail, "nb-thumb", ""),
						el("span", { class: "nb-path", text: y.description || y.seriesInstanceUid }),
						el("span", { class: "nb-meta", text: `${y.modality} · ${format(this.s.t("images"), y.images)}` }),
						el("span", { class: "nb-score", text: item.score.toFixed(3) }),
					),
				),
			);
		}
		this.side.appendChild(ol);
	}
}
