/**
 * URL redaction: every message, log line or file that may hold the endpoint URL goes through here, so
 * that credentials carried in a URL (user info, `?code=…`, `?sig=…`, tokens) never leave in clear.
 */

const secretParam = /key|code|sig|token|secret|password|auth/i;

/** The URL as recorded: no user info, and the values of query parameters that may be credentials replaced. */
export function redactUrl(url: string): string {
	try {
		const u = new URL(url);
		u.username = "";
		u.password = "";
		for (const name of [...u.searchParams.keys()]) if (secretParam.test(name)) u.searchParams.set(name, "redacted");
		return u.href;
	} catch {
		return "(invalid URL)";
	}
}

/** `text` with every http(s) URL in it redacted (for messages built from errors that may quote a URL). */
export function redactUrlsIn(text: string): string {
	return text.replace(/\bhttps?:\/\/[^\s"'<>`]+/gi, (m) => {
		// Keep punctuation that ends a sentence outside the URL.
		const trail = /[.,;:!?)\]]+$/.exec(m)?.[0] ?? "";
		const url = trail ? m.slice(0, -trail.length) : m;
		return redactUrl(url) + trail;
	});
}
