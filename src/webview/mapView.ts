/**
 * The Map tab: the 2-D map of the embeddings (PCA at once, UMAP when the host has it) on a <canvas>,
 * coloured by modality, series or zero-shot label with theme colours. Hover shows the thumbnail and
 * path; a click selects the image; the selected image and its neighbours are ringed. At series level
 * (the view's Images | Series toggle) it shows one point per series (its embedding, the normalised
 * mean of its images'), coloured by modality; hover shows the series, a click selects it.
 */
import { clear, el, format, thumb } from "./dom";
import type { ColorBy, Store } from "./store";

/** Categorical colours: --mii-cat-* (styles.css), a set of well-separated hues per theme kind; the last is "other". */
const paletteVars = Array.from({ length: 10 }, (_, i) => `--mii-cat-${i}`);

const margin = 16;
const hoverRadius = 8;

export class MapView {
	readonly root: HTMLElement;
	readonly canvas: HTMLCanvasElement;
	private readonly legend: HTMLDivElement;
	private readonly caption: HTMLParagraphElement;
	private readonly tooltip: HTMLDivElement;
	private readonly colorSelect: HTMLSelectElement;
	private screen = new Float32Array(0);
	private category = new Int32Array(0);
	/** How many points share each point's spot on the canvas (duplicates and near-duplicates). */
	private stack = new Int32Array(0);
	private stackOf: Float32Array | undefined;
	private hovered = -1;
	private frame = 0;
	private visible = false;

	constructor(private readonly s: Store) {
		this.canvas = el("canvas", { class: "map-canvas", attrs: { tabindex: "0", role: "img", "aria-label": s.t("tabMap") } });
		this.legend = el("div", { class: "legend", attrs: { "aria-live": "polite" } });
		this.caption = el("p", { class: "caption", text: s.t("mapComputing") });
		this.tooltip = el("div", { class: "tooltip", attrs: { role: "tooltip" } });
		this.tooltip.hidden = true;
		this.colorSelect = el("select", { class: "select", attrs: { "aria-label": s.t("colorBy") } });
		this.fillColorOptions();
		this.colorSelect.addEventListener("change", () => {
			s.setView({ colorBy: this.colorSelect.value as ColorBy }, false);
			this.recolor();
		});
		const stage = el("div", { class: "map-stage" }, this.canvas, this.tooltip);
		this.root = el("div", { class: "map-view" }, el("div", { class: "toolbar" }, el("label", { class: "inline-label", text: s.t("colorBy") }), this.colorSelect, this.caption), stage, this.legend);
		this.canvas.addEventListener("mousemove", (e) => this.onHover(e));
		this.canvas.addEventListener("mouseleave", () => this.setHover(-1, 0, 0));
		this.canvas.addEventListener("click", (e) => {
			const i = this.hit(e);
			if (i >= 0) this.selectPoint(i);
		});
		// Keyboard: arrows walk from point to point (starting at the selection), Enter selects.
		this.canvas.addEventListener("keydown", (e) => {
			const dirs: Record<string, [number, number]> = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
			const dir = dirs[e.key];
			if (dir) {
				const sel = this.selectedPoint();
				const from = this.hovered >= 0 ? this.hovered : sel >= 0 ? sel : 0;
				const next = this.step(from, dir[0], dir[1]);
				if (next >= 0) this.setHover(next, this.screen[2 * next] as number, this.screen[2 * next + 1] as number);
				e.preventDefault();
			} else if ((e.key === "Enter" || e.key === " ") && this.hovered >= 0) {
				this.selectPoint(this.hovered);
				e.preventDefault();
			}
		});
		new ResizeObserver(() => this.schedule()).observe(stage);
		// Theme changes swap the CSS variables and the body class: redraw with the new colours.
		new MutationObserver(() => this.schedule()).observe(document.body, { attributes: true, attributeFilter: ["class"] });
		const caption = (): void => this.updateCaption();
		s.on("map", () => {
			caption();
			this.recolor();
		});
		s.on("seriesMap", () => {
			caption();
			this.recolor();
		});
		s.on("series", () => this.recolor());
		s.on("level", () => {
			this.setHover(-1, 0, 0);
			this.fillColorOptions();
			caption();
			this.recolor();
		});
		s.on("seriesSelection", () => this.schedule());
		s.on("busy", caption);
		s.on("rows", () => this.recolor());
		s.on("labels", () => {
			this.fillColorOptions();
			this.recolor();
		});
		s.on("selection", () => this.schedule());
		s.on("neighbors", () => this.schedule());
	}

	private get series(): boolean {
		return this.s.view.level === "series";
	}

	/** The points of the level shown: coordinates (n × 2) and n. */
	private points(): { coords: Float32Array | undefined; n: number } {
		const s = this.s;
		if (this.series) {
			const coords = s.seriesMap?.coords;
			return { coords, n: Math.min(s.series?.items.length ?? 0, coords ? coords.length / 2 : 0) };
		}
		return { coords: s.coords, n: Math.min(s.total, s.coords ? s.coords.length / 2 : 0) };
	}

	private selectedPoint(): number {
		return this.series ? this.s.selectedSeries : this.s.selectedId < this.s.total ? this.s.selectedId : -1;
	}

	private selectPoint(i: number): void {
		if (this.series) this.s.selectSeries(i);
		else this.s.select(i);
	}

	private updateCaption(): void {
		const s = this.s;
		const m = this.series ? s.seriesMap : s.coords ? { method: s.mapMethod, explained: s.explained } : undefined;
		// While the host computes the map of the level shown (PCA, then UMAP), the region says so to assistive technology.
		this.root.setAttribute("aria-busy", String(s.busy.has(this.series ? "seriesMap" : "map")));
		if (!m) {
			this.caption.textContent = s.t("mapComputing");
			return;
		}
		const pct = ((m.explained[0] ?? 0) * 100 + (m.explained[1] ?? 0) * 100).toFixed(1);
		const busy = s.busy.has(this.series ? "seriesMap" : "map");
		this.caption.textContent =
			m.method === "umap"
				? s.t(this.series ? "seriesMapUmap" : "mapUmap")
				: format(s.t(this.series ? "seriesMapPca" : "mapPca"), pct) + (busy ? ` ${s.t("mapUmapComing")}` : "");
	}

	setVisible(v: boolean): void {
		this.visible = v;
		if (v) this.schedule();
	}

	private fillColorOptions(): void {
		clear(this.colorSelect);
		// A series is one point: it is coloured by its modality (labels and series colours are per image).
		this.colorSelect.disabled = this.series;
		if (this.series) {
			this.colorSelect.appendChild(el("option", { text: this.s.t("colorModality"), attrs: { value: "modality" } }));
			this.colorSelect.value = "modality";
			return;
		}
		const opts: [ColorBy, "colorModality" | "colorSeries" | "colorLabel"][] = [["modality", "colorModality"], ["series", "colorSeries"]];
		if (this.s.labels) opts.push(["label", "colorLabel"]);
		for (const [v, k] of opts) this.colorSelect.appendChild(el("option", { text: this.s.t(k), attrs: { value: v } }));
		const want = this.s.view.colorBy === "label" && !this.s.labels ? "modality" : this.s.view.colorBy;
		this.colorSelect.value = want;
	}

	/** Assigns each point a category (by frequency; the 12 most common get a colour, the rest "other"). */
	private recolor(): void {
		const s = this.s;
		const by = this.colorSelect.value as ColorBy;
		const seriesItems = this.series ? (s.series?.items ?? []) : undefined;
		const n = seriesItems ? seriesItems.length : s.total;
		const keyOf = (i: number): string => {
			if (seriesItems) return seriesItems[i]?.modality ?? "";
			const r = s.rows[i];
			if (!r) return "";
			if (by === "label" && s.labels) return s.labels.labels[s.labels.best[i] as number] ?? "";
			if (by === "series") return r.seriesDescription ? `${r.seriesDescription} (${r.modality})` : r.seriesInstanceUid;
			return r.modality;
		};
		const counts = new Map<string, number>();
		const keys: string[] = new Array<string>(n);
		for (let i = 0; i < n; i++) {
			const k = keyOf(i);
			keys[i] = k;
			counts.set(k, (counts.get(k) ?? 0) + 1);
		}
		// Labels keep their order (so colours match the label list); other keys are ranked by frequency.
		const ranked =
			by === "label" && s.labels
				? s.labels.labels.map((l): [string, number] => [l, counts.get(l) ?? 0])
				: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
		const index = new Map<string, number>();
		ranked.forEach(([k], i) => index.set(k, Math.min(i, paletteVars.length)));
		this.category = new Int32Array(n);
		for (let i = 0; i < n; i++) this.category[i] = index.get(keys[i] as string) ?? paletteVars.length;
		clear(this.legend);
		const other = ranked.slice(paletteVars.length).reduce((a, [, c]) => a + c, 0);
		ranked.slice(0, paletteVars.length).forEach(([k, c], i) => {
			this.legend.appendChild(el("span", { class: "legend-item" }, el("span", { class: `swatch swatch-${i}` }), el("span", { text: `${k || s.t("none")} (${c})` })));
		});
		if (other > 0) this.legend.appendChild(el("span", { class: "legend-item" }, el("span", { class: "swatch swatch-other" }), el("span", { text: `${s.t("other")} (${other})` })));
		this.schedule();
	}

	private schedule(): void {
		if (this.frame || !this.visible) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.draw();
		});
	}

	private draw(): void {
		const c = this.canvas;
		const rect = c.getBoundingClientRect();
		const dpr = window.devicePixelRatio || 1;
		const w = Math.max(1, Math.floor(rect.width));
		const h = Math.max(1, Math.floor(rect.height));
		if (c.width !== w * dpr || c.height !== h * dpr) {
			c.width = w * dpr;
			c.height = h * dpr;
		}
		const ctx = c.getContext("2d");
		if (!ctx) return;
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		const style = getComputedStyle(document.body);
		// The body's own colour (from --vscode-foreground) when a theme lacks both variables.
		const color = (v: string, fallback: string): string => style.getPropertyValue(v).trim() || style.getPropertyValue(fallback).trim() || style.color;
		ctx.fillStyle = color("--vscode-editor-background", "--vscode-sideBar-background");
		ctx.fillRect(0, 0, w, h);
		const { coords, n } = this.points();
		if (!coords || n === 0) {
			this.screen = new Float32Array(0);
			return;
		}
		let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
		for (let i = 0; i < n; i++) {
			const x = coords[2 * i] as number, y = coords[2 * i + 1] as number;
			if (x < minX) minX = x;
			if (x > maxX) maxX = x;
			if (y < minY) minY = y;
			if (y > maxY) maxY = y;
		}
		const sx = (w - 2 * margin) / (maxX - minX || 1);
		const sy = (h - 2 * margin) / (maxY - minY || 1);
		const scale = Math.min(sx, sy);
		const ox = (w - (maxX - minX) * scale) / 2;
		const oy = (h - (maxY - minY) * scale) / 2;
		this.screen = new Float32Array(2 * n);
		for (let i = 0; i < n; i++) {
			this.screen[2 * i] = ox + ((coords[2 * i] as number) - minX) * scale;
			this.screen[2 * i + 1] = h - (oy + ((coords[2 * i + 1] as number) - minY) * scale);
		}
		const colors = paletteVars.map((v) => color(v, "--vscode-foreground"));
		colors.push(color("--mii-cat-other", "--vscode-disabledForeground"));
		// Points large enough to see and to hit; fewer points are drawn larger.
		const radius = n > 5000 ? 2.5 : n > 1000 ? 3.5 : 4.5;
		// Images with the very same coordinates (duplicates: the same picture embedded more than once) are
		// counted and ringed, so that a stack stands out from a single point.
		const spotOf = (i: number): string => `${coords[2 * i]},${coords[2 * i + 1]}`;
		if (this.stackOf !== coords || this.stack.length !== n) {
			// Counted once per map (not on every redraw).
			const spots = new Map<string, number>();
			for (let i = 0; i < n; i++) {
				const k = spotOf(i);
				spots.set(k, (spots.get(k) ?? 0) + 1);
			}
			this.stack = new Int32Array(n);
			for (let i = 0; i < n; i++) this.stack[i] = spots.get(spotOf(i)) ?? 1;
			this.stackOf = coords;
		}
		const background = color("--vscode-editor-background", "--vscode-sideBar-background");
		ctx.lineWidth = 1;
		ctx.strokeStyle = background;
		for (let cat = colors.length - 1; cat >= 0; cat--) {
			ctx.fillStyle = colors[cat] as string;
			ctx.beginPath();
			for (let i = 0; i < n; i++) {
				if (this.category[i] !== cat) continue;
				const x = this.screen[2 * i] as number;
				const y = this.screen[2 * i + 1] as number;
				ctx.moveTo(x + radius, y);
				ctx.arc(x, y, radius, 0, Math.PI * 2);
			}
			ctx.globalAlpha = 0.9;
			ctx.fill();
			// A thin outline in the background colour keeps overlapping points apart.
			ctx.globalAlpha = 0.6;
			ctx.stroke();
		}
		ctx.globalAlpha = 1;
		const ringed = new Set<string>();
		ctx.strokeStyle = color("--vscode-editor-foreground", "--vscode-foreground");
		ctx.lineWidth = 1.5;
		ctx.beginPath();
		for (let i = 0; i < n; i++) {
			if ((this.stack[i] as number) < 2) continue;
			const k = spotOf(i);
			if (ringed.has(k)) continue;
			ringed.add(k);
			const x = this.screen[2 * i] as number;
			const y = this.screen[2 * i + 1] as number;
			ctx.moveTo(x + radius + 2, y);
			ctx.arc(x, y, radius + 2, 0, Math.PI * 2);
		}
		ctx.stroke();
		const ring = (i: number, r: number, stroke: string, width: number): void => {
			if (i < 0 || i >= n) return;
			ctx.beginPath();
			ctx.arc(this.screen[2 * i] as number, this.screen[2 * i + 1] as number, r, 0, Math.PI * 2);
			ctx.strokeStyle = stroke;
			ctx.lineWidth = width;
			ctx.stroke();
		};
		const selected = this.selectedPoint();
		const nb = this.series ? this.s.seriesNeighbors : this.s.neighbors;
		if (nb && nb.index === selected) for (const x of nb.items) ring(x.index, 5, color("--vscode-focusBorder", "--vscode-foreground"), 1.5);
		ring(selected, 7, color("--vscode-editor-foreground", "--vscode-foreground"), 2.5);
		ring(this.hovered, 6, color("--vscode-focusBorder", "--vscode-foreground"), 2);
	}

	/** The nearest point roughly in direction (dx, dy) from point `from` (within ±45°), or −1. */
	private step(from: number, dx: number, dy: number): number {
		const n = this.screen.length / 2;
		if (from < 0 || from >= n) return n > 0 ? 0 : -1;
		const x0 = this.screen[2 * from] as number;
		const y0 = this.screen[2 * from + 1] as number;
		let best = -1;
		let bestCost = Infinity;
		for (let i = 0; i < n; i++) {
			const vx = (this.screen[2 * i] as number) - x0;
			const vy = (this.screen[2 * i + 1] as number) - y0;
			const along = vx * dx + vy * dy;
			const across = Math.abs(vx * dy - vy * dx);
			if (along <= 0.5 || across > along) continue;
			const cost = along + 2 * across;
			if (cost < bestCost) {
				bestCost = cost;
				best = i;
			}
		}
		return best;
	}

	private hit(e: MouseEvent): number {
		const rect = this.canvas.getBoundingClientRect();
		const x = e.clientX - rect.left;
		const y = e.clientY - rect.top;
		let best = -1;
		let bestD = hoverRadius * hoverRadius;
		const n = this.screen.length / 2;
		for (let i = 0; i < n; i++) {
			const dx = (this.screen[2 * i] as number) - x;
			const dy = (this.screen[2 * i + 1] as number) - y;
			const d = dx * dx + dy * dy;
			if (d <= bestD) {
				bestD = d;
				best = i;
			}
		}
		return best;
	}

	private onHover(e: MouseEvent): void {
		const rect = this.canvas.getBoundingClientRect();
		this.setHover(this.hit(e), e.clientX - rect.left, e.clientY - rect.top);
	}

	private setHover(i: number, x: number, y: number): void {
		if (i === this.hovered && i < 0) return;
		const changed = i !== this.hovered;
		this.hovered = i;
		const g = this.series && i >= 0 ? this.s.series?.items[i] : undefined;
		const r = i >= 0 ? this.s.rows[g ? g.first : i] : undefined;
		if (!r || (this.series && !g)) {
			this.tooltip.hidden = true;
		} else {
			if (changed && g) {
				// A series: its representative image (its first), description, modality and image count.
				clear(this.tooltip);
				this.tooltip.appendChild(thumb(r.thumbnail, "tooltip-thumb", ""));
				this.tooltip.appendChild(el("div", { class: "tooltip-path", text: g.description || g.seriesInstanceUid }));
				this.tooltip.appendChild(el("div", { class: "tooltip-meta", text: [g.modality, this.s.n(g.images, "imagesOne", "images")].filter(Boolean).join(" · ") }));
				const stacked = this.stack[i] ?? 1;
				if (stacked > 1) this.tooltip.appendChild(el("div", { class: "tooltip-stack", text: format(this.s.t("seriesAtThisPoint"), stacked) }));
			} else if (changed) {
				clear(this.tooltip);
				this.tooltip.appendChild(thumb(r.thumbnail, "tooltip-thumb", ""));
				this.tooltip.appendChild(el("div", { class: "tooltip-path", text: r.path }));
				this.tooltip.appendChild(el("div", { class: "tooltip-meta", text: [r.modality, r.seriesDescription].filter(Boolean).join(" · ") }));
				const stacked = this.stack[i] ?? 1;
				if (stacked > 1) this.tooltip.appendChild(el("div", { class: "tooltip-stack", text: format(this.s.t("atThisPoint"), stacked) }));
			}
			this.tooltip.hidden = false;
			// Beside the cursor, flipped left/up when it would leave the canvas.
			const stageW = this.canvas.clientWidth;
			const stageH = this.canvas.clientHeight;
			const tw = this.tooltip.offsetWidth;
			const th = this.tooltip.offsetHeight;
			const left = x + 14 + tw > stageW ? x - 14 - tw : x + 14;
			const top = y + 14 + th > stageH ? y - 14 - th : y + 14;
			this.tooltip.style.left = `${Math.max(0, left)}px`;
			this.tooltip.style.top = `${Math.max(0, top)}px`;
		}
		if (changed) this.schedule();
	}
}
