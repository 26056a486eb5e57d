/**
 * A DICOMweb client for sources (PRODUCT.md §9): QIDO-RS to enumerate studies → series → instances
 * (paged, so a server's page size never truncates a run) and WADO-RS to retrieve each instance in its
 * stored encoding (`transfer-syntax=*`), read as a multipart stream.
 *
 * The same rules as the endpoint client: redirects are never followed (a 3xx is a configuration error
 * that names where it pointed, so credentials and queries go nowhere else); 401/403 stop at once;
 * 408/429/5xx and connection errors are retried with jittered exponential backoff, `Retry-After`
 * honoured up to the maximum delay; every request has a timeout and follows the caller's signal;
 * retrievals have their own concurrency limit; bodies are bounded.
 */
import type { Logger } from "../../util/logger";
import { readMultipart, parseContentType, MultipartError } from "./multipart";
import type { DicomwebAuth, DicomwebSource, InstanceRef } from "./types";
import { describeTarget, type DicomwebTarget } from "./url";
import { readBodyCapped } from "../../util/readBody";

export type { DicomwebAuth, DicomwebSource, InstanceRef } from "./types";

export const noAuth: DicomwebAuth = { kind: "none", header: () => Promise.resolve(undefined) };

export function basicAuth(user: string, password: string): DicomwebAuth {
	const value = `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}`;
	return { kind: "basic", header: () => Promise.resolve(value) };
}

/** A bearer token from a provider (an environment variable, Microsoft Entra ID for Azure's DICOM service). */
export function bearerAuth(getToken: (signal?: AbortSignal) => Promise<string>): DicomwebAuth {
	return {
		kind: "bearer",
		async header(signal) {
			const token = (await getToken(signal)).trim();
			if (!token) throw new DicomwebError("unauthorized", "No DICOMweb token is set (MEDIMAGEINSIGHT_DICOMWEB_TOKEN).", true);
			return `Bearer ${token}`;
		},
	};
}

/** Scope of Azure Health Data Services' DICOM service for Microsoft Entra ID tokens. */
export const azureDicomScope = "https://dicom.healthcareapis.azure.com/.default";

export type DicomwebErrorCode = "unauthorized" | "redirect" | "not-found" | "bad-request" | "http" | "network" | "timeout" | "malformed" | "too-large";

export class DicomwebError extends Error {
	constructor(
		readonly code: DicomwebErrorCode,
		message: string,
		/** True when the whole source is unusable (bad credentials, a redirect): stop, do not go on per item. */
		readonly fatal = false,
		readonly status?: number,
		readonly retryAfterMs?: number,
	) {
		super(message);
		this.name = "DicomwebError";
	}
}

export interface DicomwebClientOptions {
	auth?: DicomwebAuth;
	/** Retrievals (WADO-RS) in flight at most. */
	retrievalConcurrency?: number;
	/** Attempts per request, the first included. */
	attempts?: number;
	minRetryDelayMs?: number;
	maxRetryDelayMs?: number;
	/** Per-request timeout (a retrieval: until its last byte). */
	timeoutMs?: number;
	/** QIDO-RS page size asked for (`limit`); a server may answer with fewer. */
	pageSize?: number;
	/** One instance larger than this fails (the file size limit of local inputs). */
	maxInstanceBytes?: number;
	/** One QIDO-RS page larger than this is malformed. */
	maxQidoBytes?: number;
	logger?: Logger;
}

/** One DICOM JSON data set (PS3.18 F.2): tag → { vr, Value }. */
export type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

/** The first value of a tag as a string ("" when absent); person names give their Alphabetic form. */
export function jsonValue(ds: DicomJson, tag: string): string {
	const v = ds[tag]?.Value?.[0];
	if (v === undefined || v === null) return "";
	if (typeof v === "object") return String((v as { Alphabetic?: unknown }).Alphabetic ?? "");
	return String(v);
}

export const dicomwebDefaults = Object.freeze({
	retrievalConcurrency: 4,
	attempts: 6,
	minRetryDelayMs: 500,
	maxRetryDelayMs: 30_000,
	timeoutMs: 120_000,
	pageSize: 500,
	maxInstanceBytes: 2048 * 1024 * 1024,
	maxQidoBytes: 64 * 1024 * 1024,
});

const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const t = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
		function done() {
			signal?.removeEventListener("abort", onAbort);
			resolve();
		}
		function onAbort() {
			clearTimeout(t);
			reject(signal!.reason);
		}
		signal?.addEventListener("abort", onAbort, { once: true });
	});
}

function retryAfterMs(headers: Headers): number | undefined {
	const v = headers.get("retry-after");
	if (v === null) return undefined;
	if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v) * 1000;
	const at = Date.parse(v);
	return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function networkWords(e: unknown): string {
	const cause = (e as { cause?: { code?: string; message?: string } }).cause;
	const code = cause?.code ?? (e as { code?: string }).code;
	switch (code) {
		case "ECONNREFUSED":
			return "connection refused (nothing is listening there)";
		case "ENOTFOUND":
		case "EAI_AGAIN":
			return "no such host";
		case "ECONNRESET":
		case "UND_ERR_SOCKET":
			return "the connection was dropped";
		case "ETIMEDOUT":
		case "UND_ERR_CONNECT_TIMEOUT":
			return "the connection timed out";
		default:
			if (code && /CERT|SSL|TLS/i.test(code)) return `the server's TLS certificate was refused (${code})`;
			return cause?.message ?? (e instanceof Error ? e.message : String(e));
	}
}

/** A small counting semaphore: retrievals wait for a slot. */
class Slots {
	private active = 0;
	private readonly waiting: (() => void)[] = [];
	constructor(private readonly size: number) {}
	async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
		if (this.active >= this.size) {
			await new Promise<void>((resolve, reject) => {
				const go = () => {
					signal?.removeEventListener("abort", onAbort);
					resolve();
				};
				const onAbort = () => {
					const i = this.waiting.indexOf(go);
					if (i >= 0) this.waiting.splice(i, 1);
					reject(signal!.reason);
				};
				this.waiting.push(go);
				signal?.addEventListener("abort", onAbort, { once: true });
			});
		} else {
			this.active++;
		}
		try {
			return await fn();
		} finally {
			const next = this.waiting.shift();
			if (next) next();
			else this.active--;
		}
	}
}

export class DicomwebClient implements DicomwebSource {
	private readonly o: Required<Omit<DicomwebClientOptions, "logger">> & { logger?: Logger };
	private readonly slots: Slots;

	constructor(options: DicomwebClientOptions = {}) {
		this.o = { ...dicomwebDefaults, auth: noAuth, ...options };
		this.slots = new Slots(Math.max(1, this.o.retrievalConcurrency));
	}

	/** One GET with retries; `read` consumes the response (its errors are retried too, unless fatal). */
	private async request<T>(url: string, accept: string, signal: AbortSignal | undefined, read: (res: Response, signal: AbortSignal) => Promise<T>): Promise<T> {
		const shown = url.replace(/\?.*$/, "");
		let last: unknown;
		for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
			signal?.throwIfAborted();
			const timeout = AbortSignal.timeout(this.o.timeoutMs);
			const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
			try {
				const headers: Record<string, string> = { accept };
				const auth = await this.o.auth.header(s);
				if (auth) headers["authorization"] = auth;
				let res: Response;
				try {
					res = await fetch(url, { headers, redirect: "manual", signal: s });
				} catch (e) {
					if (signal?.aborted) throw e;
					if (timeout.aborted) throw new DicomwebError("timeout", `No answer from ${shown} within ${Math.round(this.o.timeoutMs / 1000)} s.`);
					throw new DicomwebError("network", `Cannot reach the DICOMweb server at ${new URL(url).host}: ${networkWords(e)}.`);
				}
				if (res.status >= 300 && res.status < 400) {
					await res.body?.cancel();
					const where = res.headers.get("location");
					throw new DicomwebError(
						"redirect",
						`The DICOMweb server redirected ${shown} (HTTP ${res.status})${where ? ` to ${where.replace(/\?.*$/, "")}` : ""}. Redirects are not followed, so that credentials and images go nowhere else: use the final URL.`,
						true,
						res.status,
					);
				}
				if (res.status === 401 || res.status === 403) {
					await res.body?.cancel();
					throw new DicomwebError(
						"unauthorized",
						`The DICOMweb server refused the credentials (HTTP ${res.status}) for ${shown}. Check the user and password or the token (MEDIMAGEINSIGHT_DICOMWEB_TOKEN), or sign in.`,
						true,
						res.status,
					);
				}
				if (res.status === 404) {
					await res.body?.cancel();
					throw new DicomwebError("not-found", `Not found on the DICOMweb server (HTTP 404): ${shown}.`, false, 404);
				}
				if (!res.ok) {
					const text = (await res.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ").trim();
					const code = retryableStatuses.has(res.status) ? "http" : "bad-request";
					throw new DicomwebError(code, `The DICOMweb server answered HTTP ${res.status} for ${shown}${text ? `: ${text}` : ""}.`, false, res.status, retryAfterMs(res.headers));
				}
				return await read(res, s);
			} catch (e) {
				if (signal?.aborted) throw signal.reason;
				let err = e;
				if (!(err instanceof DicomwebError)) {
					if (timeout.aborted) err = new DicomwebError("timeout", `No complete answer from ${shown} within ${Math.round(this.o.timeoutMs / 1000)} s.`);
					else if (err instanceof MultipartError) err = new DicomwebError("malformed", `${err.message} (${shown})`);
					else err = new DicomwebError("network", `The transfer from ${new URL(url).host} failed: ${networkWords(err)}.`);
				}
				const de = err as DicomwebError;
				const retryable = !de.fatal && (de.code === "network" || de.code === "timeout" || (de.code === "http" && de.status !== undefined && retryableStatuses.has(de.status)) || (de.code === "malformed" && attempt < 3));
				last = de;
				if (!retryable || attempt === this.o.attempts) throw de;
				const backoff = Math.min(this.o.maxRetryDelayMs, this.o.minRetryDelayMs * 2 ** (attempt - 1));
				const wait = Math.min(this.o.maxRetryDelayMs, de.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
				this.o.logger?.warn(`DICOMweb: ${de.message} Retrying in ${(wait / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${this.o.attempts}).`);
				await sleep(wait, signal);
			}
		}
		throw last;
	}

	/** One QIDO-RS page. */
	private async qidoPage(url: string, signal?: AbortSignal): Promise<DicomJson[]> {
		return this.request(url, "application/dicom+json", signal, async (res) => {
			if (res.status === 204) return [];
			const len = Number(res.headers.get("content-length") ?? "0");
			if (len > this.o.maxQidoBytes) throw new DicomwebError("too-large", `A QIDO-RS answer of ${len} bytes is too large.`);
			const text = await readText(res, this.o.maxQidoBytes);
			if (text.trim() === "") return [];
			let json: unknown;
			try {
				json = JSON.parse(text);
			} catch {
				throw new DicomwebError("malformed", `The QIDO-RS answer from ${url.replace(/\?.*$/, "")} is not JSON.`);
			}
			if (!Array.isArray(json) || !json.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) {
				throw new DicomwebError("malformed", `The QIDO-RS answer from ${url.replace(/\?.*$/, "")} is not a list of DICOM JSON data sets.`);
			}
			return json as DicomJson[];
		});
	}

	/**
	 * Every match of a QIDO-RS search, page after page (limit/offset). A page shorter than asked is not
	 * taken as the end (servers cap pages): only an empty page is. A server that ignores `offset` (the
	 * same first match again) is an error rather than an endless loop.
	 */
	async *search(path: string, params: [string, string][], key: string, signal?: AbortSignal, first = 0, max = Infinity): AsyncGenerator<DicomJson> {
		let offset = first;
		let taken = 0;
		let previousFirst: string | undefined;
		for (;;) {
			const q = new URLSearchParams(params);
			const want = Math.min(this.o.pageSize, max - taken);
			if (want <= 0) return;
			q.set("limit", String(want));
			q.set("offset", String(offset));
			const page = await this.qidoPage(`${path}?${q.toString()}`, signal);
			if (page.length === 0) return;
			const head = jsonValue(page[0]!, key);
			if (offset > first && head !== "" && head === previousFirst) {
				throw new DicomwebError("malformed", `The DICOMweb server ignores QIDO-RS paging (offset) at ${path}: the same results came back twice.`);
			}
			previousFirst = head;
			for (const ds of page.slice(0, max - taken)) yield ds;
			taken += page.length;
			offset += page.length;
			if (taken >= max) return;
		}
	}

	/** Studies matching QIDO-RS parameters (the VS Code study search, and study queries). */
	studies(base: string, params: [string, string][], signal?: AbortSignal, first = 0, max = Infinity): AsyncGenerator<DicomJson> {
		return this.search(`${base}/studies`, params, "0020000D", signal, first, max);
	}

	series(base: string, studyUid: string, signal?: AbortSignal): AsyncGenerator<DicomJson> {
		return this.search(`${base}/studies/${studyUid}/series`, [], "0020000E", signal);
	}

	/**
	 * Every instance a target names, in QIDO order: studies → series → instances. Study and series
	 * descriptions and the modality come along for the records.
	 */
	async *instances(target: DicomwebTarget, signal?: AbortSignal): AsyncGenerator<InstanceRef> {
		const base = target.base;
		const studies: { uid: string; description?: string }[] = [];
		if (target.studyUid) {
			studies.push({ uid: target.studyUid });
		}
		const fromStudy = async function* (this: DicomwebClient, study: { uid: string; description?: string }): AsyncGenerator<InstanceRef> {
			const seriesList: { uid: string; modality?: string; description?: string }[] = [];
			if (target.seriesUid) seriesList.push({ uid: target.seriesUid });
			else {
				for await (const s of this.series(base, study.uid, signal)) {
					const uid = jsonValue(s, "0020000E");
					if (!uid) continue;
					seriesList.push({ uid, modality: jsonValue(s, "00080060") || undefined, description: jsonValue(s, "0008103E") || undefined });
				}
			}
			for (const se of seriesList) {
				const params: [string, string][] = [["includefield", "00080060"], ["includefield", "0008103E"], ["includefield", "00081030"]];
				if (target.sopInstanceUid) params.push(["SOPInstanceUID", target.sopInstanceUid]);
				for await (const inst of this.search(`${base}/studies/${study.uid}/series/${se.uid}/instances`, params, "00080018", signal)) {
					const sop = jsonValue(inst, "00080018");
					if (!sop) continue;
					const ref: InstanceRef = { base, studyUid: study.uid, seriesUid: se.uid, sopInstanceUid: sop, path: `${study.uid}/${se.uid}/${sop}` };
					const modality = jsonValue(inst, "00080060") || se.modality;
					const seriesDescription = jsonValue(inst, "0008103E") || se.description;
					const studyDescription = jsonValue(inst, "00081030") || study.description;
					if (modality) ref.modality = modality;
					if (seriesDescription) ref.seriesDescription = seriesDescription;
					if (studyDescription) ref.studyDescription = studyDescription;
					yield ref;
				}
			}
		};
		if (target.level === "studies") {
			for await (const s of this.studies(base, target.query, signal, target.firstStudy ?? 0, target.maxStudies ?? Infinity)) {
				const uid = jsonValue(s, "0020000D");
				if (!uid) continue;
				const description = jsonValue(s, "00081030");
				yield* fromStudy.call(this, description ? { uid, description } : { uid });
			}
			return;
		}
		yield* fromStudy.call(this, studies[0]!);
	}

	/**
	 * The stored bytes of one instance (WADO-RS, `transfer-syntax=*`, multipart/related read as a
	 * stream). A server that cannot send the stored encoding and sends a single application/dicom
	 * body is accepted too.
	 */
	retrieve(ref: Pick<InstanceRef, "base" | "studyUid" | "seriesUid" | "sopInstanceUid">, signal?: AbortSignal): Promise<Uint8Array> {
		const url = `${ref.base}/studies/${ref.studyUid}/series/${ref.seriesUid}/instances/${ref.sopInstanceUid}`;
		return this.slots.run(
			() =>
				this.request(url, 'multipart/related; type="application/dicom"; transfer-syntax=*', signal, async (res) => {
					const len = Number(res.headers.get("content-length") ?? "0");
					if (len > this.o.maxInstanceBytes + 64 * 1024) {
						await res.body?.cancel();
						throw new DicomwebError("too-large", `The instance is ${Math.round(len / 1048576)} MB, above the ${Math.round(this.o.maxInstanceBytes / 1048576)} MB limit.`);
					}
					const ct = parseContentType(res.headers.get("content-type") ?? "");
					if (!res.body) throw new DicomwebError("malformed", "The WADO-RS answer has no body.");
					if (ct.type === "application/dicom") return new Uint8Array(await readBytes(res, this.o.maxInstanceBytes));
					if (ct.type !== "multipart/related") {
						await res.body.cancel();
						throw new DicomwebError("malformed", `The WADO-RS answer is ${ct.type || "untyped"}, not multipart/related.`);
					}
					let found: Uint8Array | undefined;
					for await (const part of readMultipart(res.body, ct.params["boundary"] ?? "", this.o.maxInstanceBytes)) {
						if (found) throw new DicomwebError("malformed", "The WADO-RS answer for one instance holds more than one part.");
						found = part.body;
					}
					if (!found) throw new DicomwebError("malformed", "The WADO-RS answer holds no instance.");
					return found;
				}),
			signal,
		);
	}
}

async function readBytes(res: Response, max: number): Promise<Buffer> {
	const read = await readBodyCapped(res, max);
	if (!read.ok) throw new DicomwebError("too-large", `The answer is larger than ${Math.round(max / 1048576)} MB.`);
	return read.bytes;
}

async function readText(res: Response, max: number): Promise<string> {
	return (await readBytes(res, max)).toString("utf8");
}

/** The label of a source for records and logs (no credentials, no query values beyond the user's own). */
export function sourceLabel(target: DicomwebTarget): string {
	return describeTarget(target);
}
