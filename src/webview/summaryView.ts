/**
 * The summary header: the output folder's totals (every file counted once, by its latest record), what the
 * last run did (duration, rate, counts from run.json, stated as the last run's), the endpoint (with a
 * simulation badge), the output folder and actions.
 */
import { button, clear, el, format, icon } from "./dom";
import type { Store } from "./store";

function duration(ms: number): string {
	const s = Math.round(ms / 1000);
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m} min ${s % 60} s`;
	return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export class SummaryView {
	readonly root: HTMLElement;

	constructor(private readonly s: Store) {
		this.root = el("header", { class: "summary", attrs: { "aria-label": s.t("title") } }, el("p", { class: "loading", text: s.t("loading") }));
		s.on("init", () => this.render());
	}

	private stat(cls: string, label: string, value: string, iconName: string): HTMLElement {
		return el("div", { class: `stat ${cls}` }, icon(iconName), el("span", { class: "stat-value", text: value }), el("span", { class: "stat-label", text: label }));
	}

	private render(): void {
		const { s } = this;
		const sum = s.summary;
		clear(this.root);
		if (!sum) return;
		const stats = el(
			"div",
			{ class: "stats" },
			el("span", { class: "stats-title", text: `${s.t("folderTotals")}:` }),
			this.stat("embedded", s.t("embedded"), String(sum.embedded), "pass"),
			this.stat(sum.failed ? "failed nonzero" : "failed", s.t("failed"), String(sum.failed), "error"),
			this.stat("skipped", s.t("skipped"), String(sum.skipped), "circle-slash"),
		);
		if (sum.failedWithEmbedding) stats.appendChild(el("span", { class: "stats-note", text: s.n(sum.failedWithEmbedding, "failedWithEmbeddingOne", "failedWithEmbedding") }));
		const last = sum.lastRun;
		let lastLine: HTMLElement | undefined;
		if (last) {
			const parts: string[] = [];
			if (last.elapsedMs !== undefined) parts.push(duration(last.elapsedMs));
			if (last.rate !== undefined) parts.push(`${last.rate.toFixed(1)} ${s.t("imagesPerSecond")}`);
			if (last.embedded !== undefined) parts.push(format(s.t("embeddedNow"), last.embedded));
			if (last.alreadyDone) parts.push(format(s.t("alreadyEmbedded"), last.alreadyDone));
			if (last.failed) parts.push(format(s.t("failedCount"), last.failed));
			if (last.skipped) parts.push(format(s.t("skippedCount"), last.skipped));
			if (sum.ignored) parts.push(`${sum.ignored} ${s.t("ignored").toLowerCase()}`);
			if (last.cancelled) parts.push(s.t("lastRunCancelled"));
			if (last.stopped) parts.push(format(s.t("lastRunStopped"), last.stopped));
			if (parts.length) {
				lastLine = el("div", { class: "last-run", title: last.finishedAt ?? "" }, icon("history"), el("span", { class: "meta-label", text: `${s.t("lastRun")}:` }), el("span", { class: "last-run-text", text: parts.join(", ") }));
			}
		}
		const endpoint = el("div", { class: "endpoint" }, el("span", { class: "meta-label", text: `${s.t("endpoint")}:` }), el("code", { class: "endpoint-url", text: sum.endpointUrl ?? s.t("none") }));
		if (sum.simulated) endpoint.appendChild(el("span", { class: "badge simulation", text: s.t("simulation"), title: s.t("simulationTooltip") }));
		const output = el(
			"div",
			{ class: "output" },
			el("span", { class: "meta-label", text: `${s.t("output")}:` }),
			el("code", { class: "output-path", text: sum.outDir, title: sum.outDir }),
			button(s.t("revealOutput"), "folder-opened", () => s.post({ type: "reveal" }), "action-reveal"),
			button(s.t("copyJsonlPath"), "copy", () => s.post({ type: "copyPath", which: "jsonl" }), "action-copy-jsonl"),
			sum.hasNpy ? button(s.t("copyNpyPath"), "copy", () => s.post({ type: "copyPath", which: "npy" }), "action-copy-npy") : undefined,
			// Exports the level shown: every image (and failure), or every series.
			button(s.t("exportCsv"), "export", () => s.post({ type: s.view.level === "series" ? "exportSeries" : "export" }), "action-export"),
		);
		this.root.appendChild(stats);
		if (lastLine) this.root.appendChild(lastLine);
		this.root.appendChild(el("div", { class: "meta" }, endpoint, output));
		if (sum.settings.length || sum.problems.length) {
			const details = el("details", { class: "settings" }, el("summary", { text: `${s.t("settings")} (${sum.settings.length})${sum.problems.length ? ` · ${s.t("problems")}: ${sum.problems.length}` : ""}` }));
			const dl = el("dl", { class: "settings-list" });
			for (const [k, v] of sum.settings) {
				dl.appendChild(el("dt", { text: k }));
				dl.appendChild(el("dd", { text: v }));
			}
			details.appendChild(dl);
			if (sum.problems.length) {
				const ul = el("ul", { class: "problems" });
				for (const p of sum.problems) ul.appendChild(el("li", { text: p }));
				details.appendChild(ul);
			}
			this.root.appendChild(details);
		}
	}
}
