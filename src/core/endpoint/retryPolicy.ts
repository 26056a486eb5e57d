/**
 * What a failed request means and whether to try again (PRODUCT.md §3). One named policy, one
 * predicate, so the rules are read in one place.
 */
import { redactUrl } from "../util/redactUrl";
import type { ConnectionErrorDescription } from "./connectionError";
import { FatalEndpointError } from "./types";

/**
 * How an attempt failed:
 * - `refusal`: the endpoint as a whole refuses (429 rate limit, 503, 424 with model status 429/503);
 * - `overload`: 429 "Too many pending requests" (we have too many requests in flight);
 * - `server`: 408, 5xx, 424 with model status 408/500/504 — transient;
 * - `unreachable`: the connection could not be made (refused, no such host, host unreachable);
 * - `network` / `timeout`: no answer (the connection broke, or nothing came in time);
 * - `malformed`: a 2xx whose body breaks the contract;
 * - `model`: 424 with any other model status — the model refused this batch (maybe one poison image);
 * - `too-large`: 413 (or a 400 that says the body is too large) — split the batch.
 */
export type AttemptFailureKind = "refusal" | "overload" | "server" | "unreachable" | "network" | "timeout" | "malformed" | "model" | "too-large";

export class AttemptError extends Error {
	constructor(
		readonly kind: AttemptFailureKind,
		message: string,
		readonly status?: number,
		/** Delay the server asked for (Retry-After), in ms. */
		readonly retryAfterMs?: number,
		/** For `unreachable` / `network`: the connection error in words, with its technical detail. */
		readonly connection?: ConnectionErrorDescription,
	) {
		super(message);
		this.name = "AttemptError";
	}
}

/** Retry policy: which kinds are retried, and how many attempts a malformed body gets at most. */
export const retryPolicy = Object.freeze({
	retryable: new Set<AttemptFailureKind>(["refusal", "overload", "server", "unreachable", "network", "timeout", "malformed"]),
	/**
	 * Kinds that mean "the endpoint as a whole is refusing": they pause the client instead of failing
	 * images. `unreachable` is one of them once a request has succeeded (an endpoint that worked and is
	 * restarting); before that it is fatal after `firstContactAttempts`.
	 */
	endpointWide: new Set<AttemptFailureKind>(["refusal", "overload", "unreachable"]),
	/**
	 * Until a first request succeeds, connection failures (`unreachable`, `network`) get this many quick
	 * attempts in all, `firstContactDelayMs` × n apart, then the run stops with a plain reason: a wrong or
	 * dead URL is said within seconds, not after minutes of backoff.
	 */
	firstContactAttempts: 3,
	firstContactDelayMs: 250,
	/** A response body may hold at most rows × perRowResponseBytes + baseResponseBytes; above, it is malformed and not read further. */
	perRowResponseBytes: 64 * 1024,
	baseResponseBytes: 1024 * 1024,
	/** Bytes of an error answer's body that are read (for its message); the rest is dropped. */
	errorBodyBytes: 64 * 1024,
	/** Kinds after which a failed multi-image batch is retried image by image (a poison image is possible). */
	splitToSingles: new Set<AttemptFailureKind>(["model", "server", "malformed"]),
	maxMalformedAttempts: 3,
	/** Model statuses (header ms-azureml-model-error-statuscode on a 424) worth retrying. */
	retryableModelStatuses: new Set([408, 429, 500, 503, 504]),
});

/** Whether to try `error` again after `attempt` attempts (1-based). */
export function isRetryable(error: unknown, attempt: number): boolean {
	if (!(error instanceof AttemptError)) return false;
	if (!retryPolicy.retryable.has(error.kind)) return false;
	if (error.kind === "malformed" && attempt >= retryPolicy.maxMalformedAttempts) return false;
	return true;
}

/** `Retry-After` (seconds or an HTTP date) or Azure's `retry-after-ms` / `x-ms-retry-after-ms`, in ms. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
	for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
		const v = headers.get(name);
		if (v !== null && /^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.max(0, Number(v));
	}
	const v = headers.get("retry-after");
	if (v === null) return undefined;
	if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.max(0, Number(v) * 1000);
	const date = Date.parse(v);
	if (Number.isNaN(date)) return undefined;
	return Math.max(0, date - now);
}

/** First line of a body, shortened, with the credential removed, for an error message. */
export function bodySnippet(body: string, secret?: string): string {
	let s = body.replace(/\s+/g, " ").trim();
	if (secret) s = s.split(secret).join("***");
	return s.length > 160 ? `${s.slice(0, 160)}…` : s;
}

/**
 * The meaning of a non-2xx answer: an AttemptError (retry, split or fail the batch) or a
 * FatalEndpointError (stop the run, say what to fix). `secret` is removed from any quoted body.
 */
export function classifyHttpFailure(status: number, headers: Headers, body: string, secret: string, url: string): AttemptError | FatalEndpointError {
	const snippet = bodySnippet(body, secret);
	const detail = snippet ? `: ${snippet}` : "";
	const retryAfterMs = parseRetryAfter(headers);
	switch (status) {
		case 401:
			return new FatalEndpointError("unauthorized", `The endpoint refused the credential (HTTP 401): set the correct endpoint key (or, for an aad_token endpoint, sign in with Microsoft Entra ID).`, status);
		case 403:
			return new FatalEndpointError("forbidden", `The endpoint denied access (HTTP 403): the key or identity has no access to this endpoint or deployment; check the key and the deployment name.`, status);
		case 404:
			return new FatalEndpointError("not-found", `The endpoint was not found (HTTP 404) at ${redactUrl(url)}: check the scoring URL (it usually ends in /score) and the deployment name.`, status);
		case 413:
			return new AttemptError("too-large", `the endpoint refused the request as too large (HTTP 413)`, status);
		case 408:
			return new AttemptError("server", `the endpoint timed out (HTTP 408)${detail}`, status, retryAfterMs);
		case 429:
			if (/too many pending/i.test(body)) return new AttemptError("overload", `too many pending requests (HTTP 429)`, status, retryAfterMs);
			return new AttemptError("refusal", `the endpoint is throttling (HTTP 429)${detail}`, status, retryAfterMs);
		case 503:
			return new AttemptError("refusal", `the endpoint is unavailable (HTTP 503)${detail}`, status, retryAfterMs);
		case 424: {
			const model = Number(headers.get("ms-azureml-model-error-statuscode"));
			const what = Number.isFinite(model) && model > 0 ? `the model failed with status ${model} (HTTP 424)` : "the model failed (HTTP 424)";
			if (model === 429 || model === 503) return new AttemptError("refusal", `${what}${detail}`, status, retryAfterMs);
			if (retryPolicy.retryableModelStatuses.has(model)) return new AttemptError("server", `${what}${detail}`, status, retryAfterMs);
			if (model === 413) return new AttemptError("too-large", `${what}${detail}`, status);
			return new AttemptError("model", `${what}${detail}`, status);
		}
		case 400:
			if (/too large|payload|size|exceed/i.test(body)) return new AttemptError("too-large", `the endpoint refused the request as too large (HTTP 400)${detail}`, status);
			return new FatalEndpointError("bad-request", `The endpoint rejected the request (HTTP 400)${detail}. Check that the URL is a MedImageInsight scoring URI.`, status);
	}
	if (status >= 300 && status < 400) {
		const location = headers.get("location");
		let target = "no Location given";
		if (location) {
			try {
				target = redactUrl(new URL(location, url).href);
			} catch {
				target = "an invalid Location";
			}
		}
		return new FatalEndpointError(
			"redirect",
			`The endpoint answered with a redirect (HTTP ${status}) to ${target}. Redirects are not followed, so that images go only to the configured URL: check the scoring URL (set it to the final address if that is the right endpoint).`,
			status,
		);
	}
	if (status >= 500) return new AttemptError("server", `the endpoint failed (HTTP ${status})${detail}`, status, retryAfterMs);
	return new FatalEndpointError("bad-request", `The endpoint answered HTTP ${status}${detail}. Check the scoring URL and the deployment name.`, status);
}
