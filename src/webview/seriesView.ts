/**
 * The table at series level (PRODUCT.md §10): one row per series with its study, modality, description,
 * image count and (once computed) outlier score; `side` (the detail panel at series level) shows the
 * selected series and the most similar series by the cosine of their embeddings (each the
 * L2-normalised mean of its images'). The host computes everything; this view only shows it. DICOM
 * text is set through textContent only.
 */
import type { SeriesData } from "../core/protocol/webview";
import { clear, el, format, thumb } from "./dom";
import type { Store } from "./store";

type SeriesSort = "description" | "modality" | "study" | "images" | "outlier";

export class SeriesView {
	readonly root: HTMLElement;
	/** The detail panel at series level: the selected series and its most similar series. */
	readonly side: HTMLElement;
	private readonly caption: HTMLParagraphElement;
	private readonly body: HTMLTableSectionElement;
	private readonly sideBody: HTMLDivElement;
	private sortKey: SeriesSort = "study";
	private sortDesc = false;

	constructor(private readonly s: Store) {
		this.caption = el("p", { class: "caption series-caption" });
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
		this.sideBody = el("div", { class: "detail-body series-side" });
		this.side = el("aside", { class: "detail", attrs: { "aria-label": s.t("similarSeries") } }, this.sideBody);
		this.root = el(
			"div",
			{ class: "series-view" },
			el("div", { class: "toolbar" }, this.caption),
			el("p", { class: "hint", text: s.t("seriesHint") }),
			el("div", { class: "series-table-wrap" }, el("table", { class: "series-table" }, el("thead", {}, head), this.body)),
		);
		s.on("series", () => this.render());
		s.on("seriesSelection", () => {
			this.renderTable();
			this.renderSide();
			this.body.querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
		});
		s.on("rows", () => {
			this.renderTable();
			this.renderSide();
		});
		s.on("init", () => this.renderSide());
		s.on("busy", () => this.root.classList.toggle("busy", s.busy.has("series")));
	}

	private render(): void {
		const data = this.s.series;
		if (!data) {
			this.caption.textContent = this.s.t("working");
			clear(this.body);
			this.renderSide();
			return;
		}
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
		const selected = this.s.selectedSeries;
		const scores = this.s.seriesOutliers?.scores;
		for (const i of order) {
			const x = data.items[i] as SeriesData;
			const row = this.s.rows[x.first];
			const tr = el(
				"tr",
				{ class: i === selected ? "selected" : "", attrs: { tabindex: "0", "data-series": String(i), "aria-selected": String(i === selected) } },
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
		this.s.selectSeries(i);
	}

	private renderSide(): void {
		const data = this.s.series;
		const side = this.sideBody;
		clear(side);
		const selected = this.s.selectedSeries;
		const x = data?.items[selected];
		if (!data || !x) {
			side.appendChild(el("p", { class: "hint", text: this.s.t("seriesNoSelection") }));
			return;
		}
		side.appendChild(thumb(this.s.rows[x.first]?.thumbnail, "detail-thumb", x.description || x.seriesInstanceUid));
		side.appendChild(el("h2", { class: "detail-path", text: x.description || x.seriesInstanceUid }));
		side.appendChild(el("p", { class: "caption uid", text: `${x.modality} · ${this.s.n(x.images, "imagesOne", "images")} · ${x.seriesInstanceUid}` }));
		const o = this.s.seriesOutliers;
		if (o) side.appendChild(el("p", { class: "caption series-outlier-score", text: `${this.s.t("colOutlier")}: ${(o.scores[selected] ?? 0).toFixed(3)}`, title: format(this.s.t("seriesOutliersCaption"), o.k) }));
		side.appendChild(el("h3", { text: this.s.t("similarSeries") }));
		const n = this.s.seriesNeighbors;
		if (!n || n.index !== selected) {
			side.appendChild(el("p", { class: "hint", text: this.s.t("working") }));
			return;
		}
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
						el("span", { class: "nb-meta", text: `${y.modality} · ${this.s.n(y.images, "imagesOne", "images")}` }),
						el("span", { class: "nb-score", text: item.score.toFixed(3) }),
					),
				),
			);
		}
		side.appendChild(ol);
	}
}
