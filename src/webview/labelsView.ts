/** The Labels & Search tab: zero-shot labels (one per line) and a free-text query that ranks images. */
import { limits } from "../core/protocol/webview";
import { button, clear, el } from "./dom";
import { renderRanked } from "./rankedList";
import type { Store } from "./store";

export class LabelsView {
	readonly root: HTMLElement;
	private readonly textarea: HTMLTextAreaElement;
	private readonly counts: HTMLDivElement;
	private readonly queryInput: HTMLInputElement;
	private readonly matches: HTMLDivElement;

	constructor(private readonly s: Store) {
		this.textarea = el("textarea", { class: "input labels-input", attrs: { rows: "6", "aria-label": s.t("labelsHeading"), spellcheck: "false" } });
		this.textarea.value = s.view.labelsText;
		this.textarea.addEventListener("input", () => s.setView({ labelsText: this.textarea.value }, false));
		this.counts = el("div", { class: "label-counts" });
		this.queryInput = el("input", { class: "input query-input", attrs: { type: "search", placeholder: s.t("queryPlaceholder"), "aria-label": s.t("queryHeading"), maxlength: String(limits.maxQueryLength) } });
		this.queryInput.value = s.view.queryText;
		this.queryInput.addEventListener("input", () => s.setView({ queryText: this.queryInput.value }, false));
		this.queryInput.addEventListener("keydown", (e) => {
			if (e.key === "Enter") this.search();
		});
		this.matches = el("div", { class: "ranked-wrap" });
		const apply = button(s.t("applyLabels"), "tag", () => this.apply(), "action-apply-labels primary");
		const clearLabels = button(s.t("clearLabels"), "clear-all", () => s.post({ type: "clearLabels" }), "action-clear-labels");
		const search = button(s.t("runQuery"), "search", () => this.search(), "action-search primary");
		const clearQuery = button(s.t("clearQuery"), "close", () => s.post({ type: "clearQuery" }), "action-clear-query");
		this.root = el(
			"div",
			{ class: "labels-view" },
			el(
				"section",
				{ class: "labels-section" },
				el("h3", { text: s.t("labelsHeading") }),
				el("p", { class: "hint", text: s.t("labelsHint") }),
				this.textarea,
				el("div", { class: "toolbar" }, apply, clearLabels),
				this.counts,
			),
			el("section", { class: "query-section" }, el("h3", { text: s.t("queryHeading") }), el("div", { class: "toolbar" }, this.queryInput, search, clearQuery), this.matches),
		);
		s.on("labels", () => this.renderCounts());
		s.on("query", () => this.renderMatches());
		s.on("rows", () => {
			this.renderCounts();
			this.renderMatches();
		});
		s.on("busy", () => {
			this.root.classList.toggle("busy-labels", s.busy.has("labels"));
			this.root.classList.toggle("busy-query", s.busy.has("query"));
		});
	}

	private apply(): void {
		const labels = [...new Set(this.textarea.value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean))].slice(0, limits.maxLabels).map((l) => l.slice(0, limits.maxLabelLength));
		if (labels.length) this.s.post({ type: "labels", labels });
	}

	private search(): void {
		const text = this.queryInput.value.trim().slice(0, limits.maxQueryLength);
		if (text) this.s.post({ type: "query", text });
	}

	private renderCounts(): void {
		clear(this.counts);
		const l = this.s.labels;
		if (!l) return;
		const n = new Array<number>(l.labels.length).fill(0);
		for (let i = 0; i < this.s.total; i++) n[l.best[i] as number] = (n[l.best[i] as number] ?? 0) + 1;
		this.counts.appendChild(el("h4", { text: this.s.t("labelCounts") }));
		const ul = el("ul", { class: "counts" });
		l.labels.forEach((label, j) => {
			ul.appendChild(el("li", {}, el("span", { class: `swatch swatch-${Math.min(j, 12)}` }), el("span", { class: "count-label", text: label }), el("span", { class: "count-value", text: String(n[j] ?? 0) })));
		});
		this.counts.appendChild(ul);
	}

	private renderMatches(): void {
		clear(this.matches);
		const q = this.s.query;
		if (!q) return;
		const items: { index: number; score: number }[] = [];
		for (let i = 0; i < q.scores.length; i++) items.push({ index: i, score: q.scores[i] as number });
		items.sort((a, b) => b.score - a.score || a.index - b.index);
		this.matches.appendChild(el("h4", { text: `${this.s.t("topMatches")}: “${q.text}”` }));
		const wrap = el("div", {});
		renderRanked(this.s, wrap, items.slice(0, 50), "matches");
		this.matches.appendChild(wrap);
	}
}
