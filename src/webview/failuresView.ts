/** The Failures tab: every failed or skipped file with its stage and reason, and "Retry Failed". */
import { button, el, format } from "./dom";
import type { Store } from "./store";
import { VirtualList } from "./virtualList";

export class FailuresView {
	readonly root: HTMLElement;
	private readonly list: VirtualList;
	private readonly empty: HTMLParagraphElement;
	private readonly count: HTMLSpanElement;

	constructor(private readonly s: Store) {
		this.list = new VirtualList({
			rowHeight: 30,
			className: "failures",
			label: s.t("tabFailures"),
			render: (row, i) => {
				while (row.firstChild) row.removeChild(row.firstChild);
				const f = s.failures[i];
				if (!f) return;
				row.classList.toggle("skipped-row", f.stage === "skipped");
				row.appendChild(el("span", { class: "cell path", text: f.path, title: f.path, attrs: { role: "gridcell" } }));
				row.appendChild(el("span", { class: `cell status ${f.stage === "skipped" ? "skipped" : "failed"}`, text: f.stage, attrs: { role: "gridcell" } }));
				row.appendChild(el("span", { class: "cell error-text", text: f.error, title: f.error, attrs: { role: "gridcell" } }));
			},
			onActivate: (i) => s.select(s.total + i),
		});
		this.empty = el("p", { class: "hint", text: s.t("noFailures") });
		this.count = el("span", { class: "count" });
		const header = el(
			"div",
			{ class: "vrow header", attrs: { role: "row" } },
			el("span", { class: "cell", text: s.t("colPath"), attrs: { role: "columnheader" } }),
			el("span", { class: "cell", text: s.t("colStage"), attrs: { role: "columnheader" } }),
			el("span", { class: "cell", text: s.t("colError"), attrs: { role: "columnheader" } }),
		);
		this.root = el(
			"div",
			{ class: "failures-view" },
			el("div", { class: "toolbar" }, button(s.t("retryFailed"), "refresh", () => s.post({ type: "retryFailed" }), "action-retry"), this.count),
			this.empty,
			el("div", { class: "table failures-table" }, header, this.list.root),
		);
		s.on("failures", () => this.update());
		s.on("init", () => this.update());
		s.on("selection", () => this.list.setSelected(s.selectedId >= s.total ? s.selectedId - s.total : undefined, false));
	}

	private update(): void {
		const n = this.s.failures.length;
		const idx = new Int32Array(n);
		for (let i = 0; i < n; i++) idx[i] = i;
		this.list.setEntries(idx);
		this.empty.hidden = n > 0;
		this.count.textContent = format(this.s.t("images"), n);
	}
}
