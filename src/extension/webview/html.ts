/**
 * The results webview's HTML (no vscode import, so the browser test harness renders the very same page).
 * Strict CSP: nothing inline except the nonce'd bundle, styles and images from the webview's own origin.
 */
import type { WebviewStrings } from "../../core/protocol/webview";

export interface HtmlParts {
	/** webview.cspSource */
	cspSource: string;
	/** A fresh random nonce per render. */
	nonce: string;
	scriptUri: string;
	styleUri: string;
	codiconUri: string;
	strings: WebviewStrings;
	lang?: string;
}

function attr(s: string): string {
	return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** JSON that is safe inside a <script type="application/json"> element (no "</script>", no "<!--"). */
function scriptJson(v: unknown): string {
	return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
	return [
		"default-src 'none'",
		`script-src 'nonce-${nonce}'`,
		`style-src ${cspSource}`,
		`img-src ${cspSource} data:`,
		`font-src ${cspSource}`,
	].join("; ");
}

export function renderHtml(p: HtmlParts): string {
	if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(p.nonce)) throw new Error("The nonce must be at least 16 base64 characters.");
	return `<!DOCTYPE html>
<html lang="${attr(p.lang ?? "en")}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${attr(p.codiconUri)}" rel="stylesheet">
<link href="${attr(p.styleUri)}" rel="stylesheet">
<title>${attr(p.strings.title)}</title>
</head>
<body>
<script type="application/json" id="l10n">${scriptJson(p.strings)}</script>
<script nonce="${attr(p.nonce)}" src="${attr(p.scriptUri)}"></script>
</body>
</html>`;
}

/** A static page (no script, no resource) that only says why the panel shows nothing, e.g. a refused folder. */
export function renderMessagePage(p: { title: string; message: string; lang?: string }): string {
	return `<!DOCTYPE html>
<html lang="${attr(p.lang ?? "en")}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<title>${attr(p.title)}</title>
</head>
<body>
<h1>${attr(p.title)}</h1>
<p id="message">${attr(p.message)}</p>
</body>
</html>`;
}
