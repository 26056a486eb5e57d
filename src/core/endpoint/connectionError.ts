/**
 * Connection errors in words (issue 13 §6): Node's and undici's error codes (ECONNREFUSED, ENOTFOUND,
 * certificate errors, …) become a sentence that says what is wrong and what to check; the technical
 * chain is kept apart for the log. Used by the endpoint client for failure reasons and fatal messages,
 * and by the extension's Test Connection.
 */
import { redactUrl, redactUrlsIn } from "../util/redactUrl";

export interface ConnectionErrorDescription {
	/** The Node/undici error code found in the error or its causes ("ECONNREFUSED"), or "UNKNOWN". */
	code: string;
	/** One plain sentence for the user: "Cannot reach the endpoint at …: nothing is listening at 127.0.0.1:9. Check the URL." */
	message: string;
	/** The technical chain (messages and codes of the error and its causes), for the log. */
	detail: string;
	/** The short reason inside `message` ("nothing is listening at 127.0.0.1:9 (connection refused)"), for per-image failure reasons. */
	reason: string;
	/** What kind of problem it is: the address cannot be reached, TLS refused, or something else on the connection. */
	kind: "unreachable" | "tls" | "connection";
}

const certificateCodes: Record<string, string> = {
	CERT_HAS_EXPIRED: "the server's TLS certificate has expired. Check that the URL names the right host; the endpoint's owner must renew its certificate",
	CERT_NOT_YET_VALID: "the server's TLS certificate is not valid yet. Check this computer's clock and the URL's host",
	DEPTH_ZERO_SELF_SIGNED_CERT: "the server presents a self-signed TLS certificate. Check the URL; behind a TLS-inspecting proxy, give Node its CA with NODE_EXTRA_CA_CERTS",
	SELF_SIGNED_CERT_IN_CHAIN: "the server's TLS certificate chain ends in a self-signed certificate that is not trusted. Behind a TLS-inspecting proxy, give Node its CA with NODE_EXTRA_CA_CERTS",
	UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's TLS certificate cannot be verified (an intermediate certificate is missing, or a proxy replaces it). Check the URL; behind a proxy, set NODE_EXTRA_CA_CERTS to its CA",
	UNABLE_TO_GET_ISSUER_CERT: "the issuer of the server's TLS certificate is unknown. Check the URL; behind a proxy, set NODE_EXTRA_CA_CERTS to its CA",
	UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the issuer of the server's TLS certificate is not trusted on this computer. Behind a TLS-inspecting proxy, set NODE_EXTRA_CA_CERTS to its CA",
	ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is not issued for this host name. Check the host name in the URL",
	CERT_SIGNATURE_FAILURE: "the server's TLS certificate has an invalid signature. Check the URL and any proxy on the way",
	CERT_REVOKED: "the server's TLS certificate has been revoked. Check the URL",
	ERR_SSL_WRONG_VERSION_NUMBER: "the TLS handshake failed: the server does not speak https on this port. Check http:// versus https:// and the port in the URL",
	EPROTO: "the TLS handshake failed. Check http:// versus https:// and the port in the URL",
};

interface Found {
	code: string | undefined;
	host: string | undefined;
	port: string | undefined;
	hostname: string | undefined;
	messages: string[];
}

/** Walks `err`, its `cause` chain and AggregateError members, collecting codes and messages. */
function walk(err: unknown): Found {
	const found: Found = { code: undefined, host: undefined, port: undefined, hostname: undefined, messages: [] };
	const seen = new Set<unknown>();
	const visit = (e: unknown, depth: number) => {
		if (depth > 6 || e === null || e === undefined || seen.has(e)) return;
		seen.add(e);
		if (typeof e !== "object") {
			found.messages.push(String(e));
			return;
		}
		const o = e as { message?: unknown; code?: unknown; address?: unknown; port?: unknown; hostname?: unknown; cause?: unknown; errors?: unknown };
		const code = typeof o.code === "string" ? o.code : undefined;
		const msg = typeof o.message === "string" ? o.message : "";
		if (msg || code) found.messages.push(code && !msg.includes(code) ? `${msg} (${code})` : msg);
		// The innermost specific code wins over wrappers such as UND_ERR_SOCKET.
		if (code && (!found.code || found.code.startsWith("UND_ERR"))) found.code = code;
		if (typeof o.address === "string") found.host ??= o.address;
		if (typeof o.port === "number" || typeof o.port === "string") found.port ??= String(o.port);
		if (typeof o.hostname === "string") found.hostname ??= o.hostname;
		if (!code && /bad port/i.test(msg)) found.code ??= "BAD_PORT";
		visit(o.cause, depth + 1);
		if (Array.isArray(o.errors)) for (const x of o.errors) visit(x, depth + 1);
	};
	visit(err, 0);
	return found;
}

function hostOf(url: string): { host: string; port: string } {
	try {
		const u = new URL(url);
		return { host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port || (u.protocol === "https:" ? "443" : "80") };
	} catch {
		return { host: "(invalid URL)", port: "" };
	}
}

/**
 * What a failed connection to `url` means, in words. `err` is what fetch (or a socket) threw; `url` the
 * endpoint URL (it is redacted in the message). Never throws.
 */
export function describeConnectionError(err: unknown, url: string): ConnectionErrorDescription {
	const f = walk(err);
	const target = hostOf(url);
	const host = f.hostname ?? target.host;
	const where = `${f.host ?? target.host}:${f.port ?? target.port}`;
	const code = f.code ?? "UNKNOWN";
	let reason: string;
	let kind: ConnectionErrorDescription["kind"] = "unreachable";
	let check = "Check the URL.";
	switch (code) {
		case "ECONNREFUSED":
			reason = `nothing is listening at ${where} (connection refused)`;
			check = "Check the URL and that the endpoint is running.";
			break;
		case "ENOTFOUND":
			reason = `no such host ${host} (the name does not resolve)`;
			check = "Check the host name in the URL.";
			break;
		case "EAI_AGAIN":
			reason = `the name ${host} could not be resolved right now (DNS lookup failed)`;
			check = "Check the network connection and the host name in the URL.";
			break;
		case "ETIMEDOUT":
		case "UND_ERR_CONNECT_TIMEOUT":
			reason = `no answer from ${where} while connecting (timed out)`;
			check = "Check the URL, the network, and any firewall or proxy on the way.";
			break;
		case "EHOSTUNREACH":
		case "ENETUNREACH":
		case "EADDRNOTAVAIL":
			reason = `${where} cannot be reached from this computer (${code === "ENETUNREACH" ? "network unreachable" : "host unreachable"})`;
			check = "Check the URL and the network connection.";
			break;
		case "BAD_PORT":
			reason = `port ${target.port} is refused for HTTP requests (it is reserved for another protocol)`;
			check = "Check the port in the URL.";
			break;
		case "ECONNRESET":
		case "UND_ERR_SOCKET":
		case "EPIPE":
			kind = "connection";
			reason = `the connection to ${where} was closed before an answer (connection reset)`;
			check = "Check the URL (http:// versus https://) and any proxy or firewall on the way.";
			break;
		default:
			if (certificateCodes[code] !== undefined || /^ERR_SSL_|^ERR_TLS_|CERT/.test(code)) {
				kind = "tls";
				reason = certificateCodes[code] ?? `the TLS connection to ${host} failed (${code})`;
				check = "";
			} else {
				kind = "connection";
				const first = f.messages.find((m) => m && !/^fetch failed$/i.test(m)) ?? "unknown error";
				reason = `connection error: ${redactUrlsIn(first)}`;
			}
	}
	const detail = f.messages.filter(Boolean).join("; caused by: ") || String(err);
	const message = `Cannot reach the endpoint at ${redactUrl(url)}: ${reason}.${check ? ` ${check}` : ""}`;
	return { code, message, detail: redactAll(detail, url), reason, kind };
}

/** The detail may quote the URL (undici does for some errors): redact it there too. */
function redactAll(text: string, url: string): string {
	return redactUrlsIn(url ? text.split(url).join(redactUrl(url)) : text);
}
