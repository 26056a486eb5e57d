/** The Outliers tab: images least similar to their nearest neighbours, computed by the host on demand. */
import { button, clear, el, format } from "./dom";
import { renderRanked } from "./rankedList";
import type { Store } from "./store";

export class OutliersView {
	readonly root: HTMLElement;
	private readonly list: HTMLDivElement;
	private readonly caption: HTMLParagraphElement;
	private readonly kInput: HTMLInputElement;

	constructor(private readonly s: Store) {
		this.kInput = el("input", { class: "input narrow", attrs: { type: "number", min: "1", max: "100", id: "outliers-k", "aria-describedby": "outliers-k-help" } });
		this.kInput.value = String(s.view.outlierK);
		this.list = el("div", { class: "ranked-wrap" });
		this.caption = el("p", { class: "caption" });
		const run = button(s.t("computeOutliers"), "search", () => {
			const k = Math.max(1, Math.min(100, Math.round(Number(this.kInput.value) || 5)));
			this.kInput.value = String(k);
			s.setView({ outlierK: k }, false);
			s.post({ type: "outliers", k });
		}, "action-outliers");
		this.root = el(
			"div",
			{ class: "outliers-view" },
			el("div", { class: "toolbar" }, el("label", { class: "inline-label", text: s.t("outliersK"), attrs: { for: "outliers-k" } }), this.kInput, run),
			el("p", { class: "hint k-help", text: s.t("outliersKHelp"), attrs: { id: "outliers-k-help" } }),
			this.caption,
			this.list,
		);
		s.on("outliers", () => this.render());
		s.on("rows", () => this.render());
		s.on("busy", () => this.root.classList.toggle("busy", s.busy.has("outliers")));
	}

	private render(): void {
		const o = this.s.outliers;
		if (!o) {
			this.caption.textContent = "";
			clear(this.list);
			return;
		}
		this.caption.textContent = format(this.s.t(o.exact ? "outliersExact" : "outliersApprox"), o.k);
		renderRanked(this.s, this.list, o.items, "outliers");
	}
}
