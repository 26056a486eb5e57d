/**
 * Endpoint URLs and endpoint-supplied text as the shell uses them: which URLs may receive the key,
 * the origin a key belongs to, and text made safe to show in a notification. Plain functions with no
 * `vscode` import, so unit tests run them under node.
 */

/** True for loopback hosts: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(hostname: string): boolean {
	const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
	if (h === "localhost" || h.endsWith(".localhost")) return true;
	if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
	const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
	return m !== null && m.slice(1).every((x) => Number(x) <= 255) && Number(m[1]) === 127;
}

export type EndpointUrlProblem = "empty" | "not-a-url" | "scheme" | "credentials" | "plain-http";

/**
 * Why `url` must not receive the key or images, or undefined when it may: an https URL, or plain
 * http only to a loopback address (the simulation, a local proxy).
 */
export function endpointUrlProblem(url: string): EndpointUrlProblem | undefined {
	const t = url.trim();
	if (!t) return "empty";
	let u: URL;
	try {
		u = new URL(t);
	} catch {
		return "not-a-url";
	}
	if (u.protocol !== "https:" && u.protocol !== "http:") return "scheme";
	if (u.username || u.password) return "credentials";
	if (u.protocol === "http:" && !isLoopbackHost(u.hostname)) return "plain-http";
	return undefined;
}

/** The origin a key is stored for ("https://x.westeurope.inference.ml.azure.com"), or undefined. */
export function endpointOrigin(url: string): string | undefined {
	try {
		const u = new URL(url.trim());
		return u.protocol === "https:" || u.protocol === "http:" ? u.origin : undefined;
	} catch {
		return undefined;
	}
}

/**
 * Text that came from an endpoint (an error body, an endpoint's name, a URL) made inert for a VS Code
 * notification, which renders markdown links (also `command:` links that run commands when clicked)
 * and `$(icon)` codicons: links become their label, codicon syntax and link brackets are broken,
 * control characters go, and the length is capped.
 */
export function plainText(text: string, max = 600): string {
	let s = Array.from(String(text), (ch) => (isInvisible(ch.codePointAt(0) ?? 0) ? " " : ch))
		.join("")
		// [label](target) and [label][ref] → label
		.replace(/!?\[([^\]\n]*)\]\s*\(([^)\n]*)\)/g, (_m, label: string) => label)
		.replace(/!?\[([^\]\n]*)\]\s*\[[^\]\n]*\]/g, (_m, label: string) => label)
		// <command:x> / <https://x> autolinks → the bare text, never a link
		.replace(/<((?:command|https?|file|vscode|vscode-[\w-]+):[^>\s]*)>/gi, "$1")
		// $(icon) → icon
		.replace(/\$\(([^)\s]*)\)/g, "$1")
		// What could still start a link or an icon: "](" and "$(".
		.replace(/\]\s*\(/g, "] (")
		.replace(/\$\(/g, "$ (")
		// A bare command: URI is not a link in plain text, but name it as text, not as a target.
		.replace(/\bcommand:/gi, "command ")
		.replace(/[ \t]{2,}/g, " ")
		.trim();
	if (s.length > max) s = `${s.slice(0, max - 1)}…`;
	return s;
}

/** Control characters (but tab and newline), zero-width and bidirectional formatting characters. */
function isInvisible(c: number): boolean {
	return (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}
