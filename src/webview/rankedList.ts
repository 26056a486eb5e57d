/** A short list of images with thumbnail, path and a score (outliers, best matches); click or Enter selects. */
import type { ScoredIndex } from "../core/protocol/webview";
import { clear, el, thumb } from "./dom";
import type { Store } from "./store";

export function renderRanked(s: Store, into: HTMLElement, items: ScoredIndex[], cls: string, limit = 100): void {
	clear(into);
	const ol = el("ol", { class: `ranked ${cls}` });
	for (const item of items.slice(0, limit)) {
		const r = s.rows[item.index];
		if (!r) continue;
		ol.appendChild(
			el(
				"li",
				{},
				el(
					"button",
					{ class: "ranked-item", attrs: { type: "button", "data-index": String(item.index) }, title: r.path, on: { click: () => s.select(item.index) } },
					thumb(r.thumbnail, "nb-thumb", ""),
					el("span", { class: "nb-path", text: r.path }),
					el("span", { class: "nb-meta", text: [r.modality, r.seriesDescription].filter(Boolean).join(" · ") }),
					el("span", { class: "nb-score", text: item.score.toFixed(3) }),
				),
			),
		);
	}
	into.appendChild(ol);
}
