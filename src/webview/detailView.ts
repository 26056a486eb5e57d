/** The side panel: the selected image (or failure) and its nearest neighbours by cosine similarity. */
import { clear, el, thumb } from "./dom";
import type { Store } from "./store";

export class DetailView {
	readonly root: HTMLElement;
	private readonly body: HTMLDivElement;
	private readonly kSelect: HTMLSelectElement;

	constructor(private readonly s: Store) {
		this.kSelect = el("select", { class: "select", attrs: { "aria-label": s.t("neighbourCount") } });
		for (const k of [4, 8, 16, 32]) this.kSelect.appendChild(el("option", { text: String(k), attrs: { value: String(k) } }));
		this.kSelect.value = String([4, 8, 16, 32].includes(s.view.k) ? s.view.k : 8);
		this.kSelect.addEventListener("change", () => {
			s.setView({ k: Number(this.kSelect.value) }, false);
			if (s.selectedId >= 0 && s.selectedId < s.total) s.post({ type: "select", index: s.selectedId, k: s.view.k });
		});
		this.body = el("div", { class: "detail-body" });
		this.root = el("aside", { class: "detail", attrs: { "aria-label": s.t("neighbours") } }, this.body);
		s.on("selection", () => this.render());
		s.on("neighbors", () => this.render());
		s.on("init", () => this.render());
		s.on("busy", () => this.root.classList.toggle("busy", s.busy.has("neighbors")));
	}

	private render(): void {
		const { s } = this;
		clear(this.body);
		const id = s.selectedId;
		if (id < 0) {
			this.body.appendChild(el("p", { class: "hint", text: s.t("noSelection") }));
			return;
		}
		if (id >= s.total) {
			const f = s.failures[id - s.total];
			if (!f) return;
			this.body.appendChild(el("h2", { class: "detail-path", text: f.path }));
			this.body.appendChild(el("p", { class: `status ${f.stage === "skipped" ? "skipped" : "failed"}`, text: `${f.stage === "skipped" ? s.t("skipped") : s.t("failed")} · ${f.stage}` }));
			this.body.appendChild(el("p", { class: "error-text", text: f.error }));
			return;
		}
		const r = s.rows[id];
		if (!r) return;
		this.body.appendChild(thumb(r.thumbnail, "detail-thumb", r.path));
		this.body.appendChild(el("h2", { class: "detail-path", text: r.path }));
		const dl = el("dl", { class: "detail-meta" });
		const add = (k: string, v: string): void => {
			if (!v) return;
			dl.appendChild(el("dt", { text: k }));
			dl.appendChild(el("dd", { text: v }));
		};
		add(s.t("colModality"), r.modality);
		add(s.t("colStudy"), r.studyDescription);
		add(s.t("colSeries"), r.seriesDescription);
		if (s.labels) add(s.t("colLabel"), `${s.labels.labels[s.labels.best[id] as number] ?? ""} (${((s.labels.probability[id] as number) * 100).toFixed(1)} %)`);
		add("StudyInstanceUID", r.studyInstanceUid);
		add("SeriesInstanceUID", r.seriesInstanceUid);
		add("SOPInstanceUID", r.sopInstanceUid);
		this.body.appendChild(dl);
		this.body.appendChild(el("div", { class: "detail-head" }, el("h3", { text: s.t("neighbours") }), el("label", { class: "inline-label", text: "k" }), this.kSelect));
		const nb = s.neighbors;
		if (!nb || nb.index !== id) {
			this.body.appendChild(el("p", { class: "hint", text: s.t("working") }));
			return;
		}
		const list = el("ol", { class: "neighbours", attrs: { "aria-label": s.t("neighbours") } });
		for (const item of nb.items) {
			const n = s.rows[item.index];
			if (!n) continue;
			const b = el(
				"button",
				{ class: "neighbour", attrs: { type: "button", "data-index": String(item.index) }, title: n.path, on: { click: () => s.select(item.index) } },
				thumb(n.thumbnail, "nb-thumb", ""),
				el("span", { class: "nb-path", text: n.path }),
				el("span", { class: "nb-score", text: item.score.toFixed(3), title: s.t("similarity") }),
			);
			list.appendChild(el("li", {}, b));
		}
		this.body.appendChild(list);
	}
}
