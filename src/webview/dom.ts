/** Building DOM without innerHTML: every text goes through textContent, attributes through setAttribute. */
export interface Props {
	class?: string;
	text?: string;
	title?: string;
	attrs?: Record<string, string>;
	on?: { [K in keyof HTMLElementEventMap]?: (e: HTMLElementEventMap[K]) => void };
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | undefined)[]): HTMLElementTagNameMap[K] {
	const e = document.createElement(tag);
	if (props.class) e.className = props.class;
	if (props.text !== undefined) e.textContent = props.text;
	if (props.title !== undefined) e.title = props.title;
	if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) e.setAttribute(k, v);
	if (props.on) {
		for (const [k, fn] of Object.entries(props.on)) e.addEventListener(k, fn as EventListener);
	}
	for (const c of children) if (c) e.appendChild(c);
	return e;
}

/** A codicon (from codicon.css, shipped beside the bundle). */
export function icon(name: string): HTMLSpanElement {
	return el("span", { class: `codicon codicon-${name}`, attrs: { "aria-hidden": "true" } });
}

/** A toolbar button with a codicon and a label. */
export function button(label: string, iconName: string | undefined, onClick: () => void, cls = ""): HTMLButtonElement {
	const b = el("button", { class: `btn ${cls}`.trim(), attrs: { type: "button" }, on: { click: () => onClick() } });
	if (iconName) b.appendChild(icon(iconName));
	b.appendChild(el("span", { text: label }));
	return b;
}

/** Replaces the placeholders {0}, {1}, … in a translated string. */
export function format(template: string, ...args: (string | number)[]): string {
	return template.replace(/\{(\d+)\}/g, (m, i: string) => {
		const v = args[Number(i)];
		return v === undefined ? m : String(v);
	});
}

export function clear(e: Element): void {
	while (e.firstChild) e.removeChild(e.firstChild);
}

/** A thumbnail image, or a placeholder icon when there is none. */
export function thumb(src: string | undefined, cls: string, alt: string): HTMLElement {
	if (!src) return el("span", { class: `${cls} thumb-missing`, attrs: { "aria-hidden": "true" } }, icon("file-media"));
	const img = el("img", { class: cls, attrs: { alt, decoding: "async", draggable: "false" } });
	img.src = src;
	return img;
}
