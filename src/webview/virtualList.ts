/**
 * A virtualised list of fixed-height rows: only the rows in view (plus a margin) exist in the DOM, so
 * 10,000+ entries scroll smoothly. Keyboard: arrows / Page Up / Page Down / Home / End move the cursor,
 * Enter or Space activates; a click activates the clicked row.
 */
import { el } from "./dom";

export interface VirtualListOptions {
	rowHeight: number;
	className: string;
	label: string;
	/** Draws `entry` into `row` (called again only when the entry in that row changes or on refresh()). */
	render(row: HTMLElement, entry: number): void;
	onActivate(entry: number): void;
	onScroll?(scrollTop: number): void;
}

const overscan = 6;

export class VirtualList {
	readonly root: HTMLDivElement;
	private readonly spacer: HTMLDivElement;
	private entries: ArrayLike<number> = [];
	private pool: HTMLDivElement[] = [];
	private cursor = -1;
	private selected: number | undefined;
	private frame = 0;

	constructor(private readonly o: VirtualListOptions) {
		this.spacer = el("div", { class: "vlist-spacer" });
		this.root = el("div", { class: `vlist ${o.className}`, attrs: { tabindex: "0", role: "grid", "aria-label": o.label, "aria-rowcount": "0" } }, this.spacer);
		this.root.addEventListener("scroll", () => {
			this.schedule();
			o.onScroll?.(this.root.scrollTop);
		});
		this.root.addEventListener("keydown", (e) => this.onKey(e));
		this.root.addEventListener("click", (e) => {
			const row = (e.target as HTMLElement).closest<HTMLElement>(".vrow");
			if (!row || row.dataset["pos"] === undefined) return;
			const pos = Number(row.dataset["pos"]);
			this.setCursor(pos, false);
			this.o.onActivate(this.entries[pos] as number);
		});
		new ResizeObserver(() => this.schedule()).observe(this.root);
	}

	get length(): number {
		return this.entries.length;
	}

	get scrollTop(): number {
		return this.root.scrollTop;
	}

	setEntries(entries: ArrayLike<number>): void {
		this.entries = entries;
		this.spacer.style.height = `${entries.length * this.o.rowHeight}px`;
		this.root.setAttribute("aria-rowcount", String(entries.length));
		if (this.cursor >= entries.length) this.cursor = entries.length - 1;
		this.refresh();
	}

	/** Marks the entry shown as selected (and moves the cursor to it when it is in the list). */
	setSelected(entry: number | undefined, reveal: boolean): void {
		this.selected = entry;
		if (entry !== undefined) {
			for (let i = 0; i < this.entries.length; i++) {
				if (this.entries[i] === entry) {
					this.cursor = i;
					if (reveal) this.reveal(i);
					break;
				}
			}
		}
		this.refresh();
	}

	scrollTo(top: number): void {
		this.root.scrollTop = top;
		this.schedule();
	}

	/** Redraws every visible row (after the data behind them changed). */
	refresh(): void {
		for (const r of this.pool) delete r.dataset["entry"];
		this.schedule();
	}

	private schedule(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.draw();
		});
	}

	private draw(): void {
		const h = this.o.rowHeight;
		const height = this.root.clientHeight || 400;
		const first = Math.max(0, Math.floor(this.root.scrollTop / h) - overscan);
		const last = Math.min(this.entries.length, Math.ceil((this.root.scrollTop + height) / h) + overscan);
		const need = last - first;
		while (this.pool.length < need) {
			const row = el("div", { class: "vrow", attrs: { role: "row" } });
			this.pool.push(row);
			this.root.appendChild(row);
		}
		for (let i = 0; i < this.pool.length; i++) {
			const row = this.pool[i] as HTMLDivElement;
			const pos = first + i;
			if (pos >= last) {
				row.hidden = true;
				continue;
			}
			row.hidden = false;
			const entry = this.entries[pos] as number;
			row.dataset["pos"] = String(pos);
			row.style.transform = `translateY(${pos * h}px)`;
			row.setAttribute("aria-rowindex", String(pos + 1));
			if (row.dataset["entry"] !== String(entry)) {
				row.dataset["entry"] = String(entry);
				this.o.render(row, entry);
			}
			row.classList.toggle("selected", entry === this.selected);
			row.setAttribute("aria-selected", String(entry === this.selected));
			row.classList.toggle("cursor", pos === this.cursor);
		}
	}

	private reveal(pos: number): void {
		const h = this.o.rowHeight;
		const top = pos * h;
		const view = this.root.clientHeight;
		if (top < this.root.scrollTop) this.root.scrollTop = top;
		else if (top + h > this.root.scrollTop + view) this.root.scrollTop = top + h - view;
	}

	private setCursor(pos: number, reveal: boolean): void {
		if (this.entries.length === 0) return;
		this.cursor = Math.max(0, Math.min(this.entries.length - 1, pos));
		if (reveal) this.reveal(this.cursor);
		this.schedule();
	}

	private onKey(e: KeyboardEvent): void {
		const page = Math.max(1, Math.floor(this.root.clientHeight / this.o.rowHeight) - 1);
		const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
		if (e.key in moves) {
			this.setCursor((this.cursor < 0 ? -1 : this.cursor) + (moves[e.key] as number), true);
		} else if (e.key === "Home") {
			this.setCursor(0, true);
		} else if (e.key === "End") {
			this.setCursor(this.entries.length - 1, true);
		} else if ((e.key === "Enter" || e.key === " ") && this.cursor >= 0 && this.cursor < this.entries.length) {
			this.o.onActivate(this.entries[this.cursor] as number);
		} else {
			return;
		}
		e.preventDefault();
	}
}

/**
 * Keeps a table's header (in `headerBox`, which clips it) aligned with the list's columns: the box is
 * as wide as the list's client area (without its vertical scroll bar) and follows its horizontal scroll.
 */
export function syncHeaderScroll(headerBox: HTMLElement, list: HTMLElement): void {
	const follow = (): void => {
		if (headerBox.scrollLeft !== list.scrollLeft) headerBox.scrollLeft = list.scrollLeft;
	};
	list.addEventListener("scroll", follow, { passive: true });
	new ResizeObserver(() => {
		headerBox.style.width = `${list.clientWidth}px`;
		follow();
	}).observe(list);
}
