/**
 * The Failed and Skipped tabs (one instance each): the files of that kind with their stage and reason
 * in a table sortable by any column; the Failed tab offers "Retry N failed images" when something failed.
 */
import { button, clear, el } from "./dom";
import type { Store } from "./store";
import { syncHeaderScroll, VirtualList } from "./virtualList";

export type FailureKind = "failed" | "skipped";
type FailureSort = "path" | "stage" | "error";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export class FailuresView {
	readonly root: HTMLElement;
	private readonly list: VirtualList;
	private readonly empty: HTMLParagraphElement;
	private readonly count: HTMLSpanElement;
	private readonly header: HTMLDivElement;
	private readonly retry: HTMLButtonElement | undefined;
	private readonly table: HTMLDivElement;
	private sortKey: FailureSort = "path";
	private sortDesc = false;

	constructor(
		private readonly s: Store,
		readonly kind: FailureKind,
	) {
		this.list = new VirtualList({
			rowHeight: 30,
			className: `failures ${kind}`,
			label: s.t(kind === "failed" ? "tabFailures" : "tabSkipped"),
			render: (row, i) => this.renderRow(row, i),
			onActivate: (i) => s.select(s.total + i),
		});
		this.empty = el("p", { class: "hint empty", text: s.t(kind === "failed" ? "noFailures" : "noSkipped") });
		this.count = el("span", { class: "count", attrs: { "aria-live": "polite" } });
		this.header = el("div", { class: "vrow header", attrs: { role: "row" } });
		this.renderHeader();
		if (kind === "failed") {
			this.retry = button(s.t("retryFailed"), "refresh", () => s.post({ type: "retryFailed" }), "action-retry");
			this.retry.hidden = true;
		}
		this.table = el("div", { class: "table failures-table" }, el("div", { class: "header-scroll" }, this.header), this.list.root);
		syncHeaderScroll(this.header.parentElement as HTMLElement, this.list.root);
		this.root = el(
			"div",
			{ class: `failures-view ${kind}-view` },
			el("div", { class: "toolbar" }, this.retry, this.count),
			el("p", { class: "hint", text: s.t(kind === "failed" ? "failedHint" : "skippedHint") }),
			this.empty,
			this.table,
		);
		s.on("failures", () => this.update());
		s.on("init", () => this.update());
		s.on("selection", () => this.list.setSelected(s.selectedId >= s.total ? s.selectedId - s.total : undefined, false));
	}

	private isKind(i: number): boolean {
		const f = this.s.failures[i];
		return f !== undefined && (f.stage === "skipped") === (this.kind === "skipped");
	}

	private renderHeader(): void {
		clear(this.header);
		const cols: [FailureSort, "colPath" | "colStage" | "colError"][] = [
			["path", "colPath"],
			["stage", "colStage"],
			["error", "colError"],
		];
		for (const [key, title] of cols) {
			const sorted = this.sortKey === key;
			this.header.appendChild(
				el("button", {
					class: `cell sort${sorted ? " sorted" : ""}`,
					text: this.s.t(title) + (sorted ? (this.sortDesc ? " ▼" : " ▲") : ""),
					attrs: { type: "button", role: "columnheader", "aria-sort": sorted ? (this.sortDesc ? "descending" : "ascending") : "none", "data-key": key },
					on: {
						click: () => {
							this.sortDesc = this.sortKey === key ? !this.sortDesc : false;
							this.sortKey = key;
							this.renderHeader();
							this.update();
						},
					},
				}),
			);
		}
	}

	private renderRow(row: HTMLElement, i: number): void {
		clear(row);
		const f = this.s.failures[i];
		if (!f) return;
		const skipped = f.stage === "skipped";
		row.classList.toggle("skipped-row", skipped);
		row.classList.toggle("failed-row", !skipped);
		const reason = f.embedded ? `${f.error} (${this.s.t("earlierEmbeddingKept")})` : f.error;
		row.appendChild(el("span", { class: "cell path", text: f.path, title: f.path, attrs: { role: "gridcell" } }));
		row.appendChild(el("span", { class: `cell status ${skipped ? "skipped" : "failed"}`, text: f.stage, attrs: { role: "gridcell" } }));
		row.appendChild(el("span", { class: "cell error-text", text: reason, title: reason, attrs: { role: "gridcell" } }));
	}

	private update(): void {
		const s = this.s;
		const ids: number[] = [];
		for (let i = 0; i < s.failures.length; i++) if (this.isKind(i)) ids.push(i);
		const key = this.sortKey;
		const dir = this.sortDesc ? -1 : 1;
		ids.sort((a, b) => collator.compare(s.failures[a]?.[key] ?? "", s.failures[b]?.[key] ?? "") * dir || a - b);
		this.list.setEntries(Int32Array.from(ids));
		this.list.setSelected(s.selectedId >= s.total ? s.selectedId - s.total : undefined, false);
		// Before the pages arrive, the counts come from the summary.
		const n = Math.max(ids.length, (this.kind === "failed" ? s.summary?.failed : s.summary?.skipped) ?? 0);
		this.empty.hidden = n > 0;
		this.table.hidden = n === 0;
		this.count.textContent = n > 0 ? s.n(n, "filesOne", "files") : "";
		if (this.retry) {
			this.retry.hidden = n === 0;
			const label = this.retry.querySelector("span:last-child");
			if (label) label.textContent = s.n(n, "retryFailedCountOne", "retryFailedCount");
		}
	}
}
