/**
 * The Outliers tab: images (or, at series level, series) least similar to their nearest neighbours,
 * computed by the host on demand.
 */
import { button, clear, el, format, thumb } from "./dom";
import { renderRanked } from "./rankedList";
import type { Store } from "./store";

export class OutliersView {
	readonly root: HTMLElement;
	private readonly list: HTMLDivElement;
	private readonly caption: HTMLParagraphElement;
	private readonly kInput: HTMLInputElement;
	private readonly help: HTMLParagraphElement;

	constructor(private readonly s: Store) {
		this.kInput = el("input", { class: "input narrow", attrs: { type: "number", min: "1", max: "100", id: "outliers-k", "aria-describedby": "outliers-k-help" } });
		this.kInput.value = String(s.view.outlierK);
		this.list = el("div", { class: "ranked-wrap" });
		this.caption = el("p", { class: "caption" });
		const run = button(s.t("computeOutliers"), "search", () => {
			const k = Math.max(1, Math.min(100, Math.round(Number(this.kInput.value) || 5)));
			this.kInput.value = String(k);
			s.setView({ outlierK: k }, false);
			s.post(s.view.level === "series" ? { type: "seriesOutliers", k } : { type: "outliers", k });
		}, "action-outliers");
		this.help = el("p", { class: "hint k-help", text: s.t("outliersKHelp"), attrs: { id: "outliers-k-help" } });
		this.root = el(
			"div",
			{ class: "outliers-view" },
			el("div", { class: "toolbar" }, el("label", { class: "inline-label", text: s.t("outliersK"), attrs: { for: "outliers-k" } }), this.kInput, run),
			this.help,
			this.caption,
			this.list,
		);
		s.on("outliers", () => this.render());
		s.on("rows", () => this.render());
		s.on("level", () => this.render());
		s.on("series", () => this.render());
		s.on("init", () => this.render());
		s.on("busy", () => this.root.classList.toggle("busy", s.busy.has(s.view.level === "series" ? "series" : "outliers")));
	}

	private render(): void {
		const series = this.s.view.level === "series";
		this.root.dataset["level"] = this.s.view.level;
		this.help.textContent = this.s.t(series ? "seriesOutliersK" : "outliersKHelp");
		if (series) return this.renderSeries();
		const o = this.s.outliers;
		if (!o) {
			this.caption.textContent = "";
			clear(this.list);
			return;
		}
		this.caption.textContent = format(this.s.t(o.exact ? "outliersExact" : "outliersApprox"), o.k);
		renderRanked(this.s, this.list, o.items, "outliers");
	}

	/** The outlier series, best first: click or Enter selects the series (its neighbours show in the side panel). */
	private renderSeries(): void {
		const s = this.s;
		const o = s.seriesOutliers;
		const data = s.series;
		clear(this.list);
		if (!o || !data) {
			this.caption.textContent = "";
			return;
		}
		this.caption.textContent = format(s.t("seriesOutliersCaption"), o.k);
		const ol = el("ol", { class: "ranked series-outliers" });
		for (const item of o.items.slice(0, 100)) {
			const x = data.items[item.index];
			if (!x) continue;
			ol.appendChild(
				el(
					"li",
					{},
					el(
						"button",
						{ class: "ranked-item", attrs: { type: "button", "data-series": String(item.index) }, title: x.seriesInstanceUid, on: { click: () => s.selectSeries(item.index) } },
						thumb(s.rows[x.first]?.thumbnail, "nb-thumb", ""),
						el("span", { class: "nb-path", text: x.description || x.seriesInstanceUid }),
						el("span", { class: "nb-meta", text: `${x.modality} · ${s.n(x.images, "imagesOne", "images")}` }),
						el("span", { class: "nb-score", text: item.score.toFixed(3) }),
					),
				),
			);
		}
		this.list.appendChild(ol);
	}
}
