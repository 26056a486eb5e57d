/**
 * Reads a run's output folder (PRODUCT.md §4) into a compact in-memory model for the results view:
 * one metadata row per embedded image and one Float32Array N×D matrix of L2-normalised embeddings.
 * embeddings.jsonl and failures.jsonl are streamed line by line; the latest record per path wins, and a
 * failure whose path was embedded later is dropped; one recorded after the path's embedding is kept apart
 * (laterFailures), so that a run that failed on already embedded files is not hidden.
 */
import { createReadStream, promises as fs } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import type { Logger } from "../util/logger";
import type { FailureRecord } from "./types";

/** What the view needs of one embedded image (the embedding itself lives in ResultsModel.vectors). */
export interface ResultsRow {
	path: string;
	sha256: string;
	key: string;
	sopInstanceUid: string;
	seriesInstanceUid: string;
	studyInstanceUid: string;
	modality: string;
	seriesDescription?: string;
	studyDescription?: string;
	/** Relative to the output folder; only set when it stays inside it. */
	thumbnail?: string;
	rows?: number;
	columns?: number;
	time: string;
}

/** The parts of run.json the view shows; every field is optional because older runs may lack it. */
export interface RunView {
	simulated: boolean;
	endpointUrl?: string;
	/** Flattened settings (`endpoint.batchSize` → "10"), for display. Never holds a key. */
	settings: [string, string][];
	startedAt?: string;
	finishedAt?: string;
	elapsedMs?: number;
	/** Counts recorded by the run (found, ignored, embedded, failed, skipped, …). */
	counts: Record<string, number>;
	cancelled?: boolean;
	/** Why the run stopped early (run.json `fatal`), e.g. the endpoint could not be reached. */
	fatal?: { code: string; message: string };
	/** As recorded by the run (images embedded in that run per second). */
	imagesPerSecond?: number;
}

export interface ResultsModel {
	outDir: string;
	rows: ResultsRow[];
	/** Embedding length (0 when nothing was embedded). */
	dim: number;
	/** rows.length × dim values, row-major, each row L2-normalised. */
	vectors: Float32Array;
	/** The endpoint's logit scale (from the latest record that carried one). */
	scalingFactor?: number;
	/** Failed and skipped files whose path has no embedding, latest record per path. */
	failures: FailureRecord[];
	/**
	 * Failures (not skips) recorded after the latest embedding of their path, e.g. a later run against
	 * another endpoint that failed: the earlier embedding stays in `rows`, the failure is the latest attempt
	 * (the paths "Retry failed" re-runs, src/core/results/retryList.ts).
	 */
	laterFailures?: FailureRecord[];
	run?: RunView;
	/** Lines that could not be used ("embeddings.jsonl:12: not JSON"), at most 100. */
	problems: string[];
}

export interface ReadOptions {
	signal?: AbortSignal;
	logger?: Logger;
}

const maxProblems = 100;
/** Setting names that must never be shown even if a writer put them in run.json by mistake. */
const secretName = /key|token|secret|password|authorization/i;

function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
	return typeof v === "string" ? v : undefined;
}

function num(v: unknown): number | undefined {
	return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** A thumbnail path is kept only when it is relative and stays inside the output folder. */
function safeRelative(p: string | undefined): string | undefined {
	if (!p || path.isAbsolute(p) || p.includes("\0")) return undefined;
	const norm = path.posix.normalize(p.replace(/\\/g, "/"));
	return norm.startsWith("../") || norm === ".." ? undefined : norm;
}

async function* lines(file: string, signal: AbortSignal | undefined): AsyncGenerator<[number, string]> {
	let stream;
	try {
		await fs.access(file);
		stream = createReadStream(file, { encoding: "utf8" });
	} catch {
		return;
	}
	const rl = createInterface({ input: stream, crlfDelay: Infinity });
	let n = 0;
	try {
		for await (const line of rl) {
			n++;
			signal?.throwIfAborted();
			if (line.trim() !== "") yield [n, line];
		}
	} finally {
		rl.close();
		stream.destroy();
	}
}

function flatten(prefix: string, v: unknown, out: [string, string][]): void {
	if (out.length > 200) return;
	if (isRecord(v)) {
		for (const [k, x] of Object.entries(v)) {
			if (secretName.test(k)) continue;
			flatten(prefix ? `${prefix}.${k}` : k, x, out);
		}
	} else if (Array.isArray(v)) {
		out.push([prefix, v.map((x) => (isRecord(x) ? JSON.stringify(x) : String(x))).join(", ")]);
	} else if (v !== undefined && v !== null) {
		out.push([prefix, String(v)]);
	}
}

/** Reads run.json leniently: the view shows what is there and never fails because of it. */
export function parseRunInfo(raw: unknown): RunView | undefined {
	if (!isRecord(raw)) return undefined;
	const endpoint = raw["endpoint"];
	const settingsRaw = raw["settings"];
	const timings = isRecord(raw["timings"]) ? raw["timings"] : {};
	const countsRaw = isRecord(raw["counts"]) ? raw["counts"] : isRecord(raw["summary"]) ? raw["summary"] : {};
	const counts: Record<string, number> = {};
	for (const [k, v] of Object.entries(countsRaw)) {
		const n = num(v);
		if (n !== undefined) counts[k] = n;
	}
	const settings: [string, string][] = [];
	if (isRecord(settingsRaw)) flatten("", settingsRaw, settings);
	else {
		// The store's run.json (src/core/results/runInfo.ts): endpoint and convert settings at the top level.
		const shown: Record<string, unknown> = {};
		if (isRecord(endpoint)) shown["endpoint"] = Object.fromEntries(Object.entries(endpoint).filter(([k]) => k !== "url" && k !== "simulated"));
		for (const k of ["convert", "workers", "retryFailedOnly", "inputs"]) if (raw[k] !== undefined) shown[k] = raw[k];
		if (isRecord(raw["product"]) && typeof raw["product"]["version"] === "string") shown["version"] = raw["product"]["version"];
		flatten("", shown, settings);
	}
	const endpointUrl =
		str(raw["endpointUrl"]) ??
		(isRecord(endpoint) ? str(endpoint["url"]) : str(endpoint)) ??
		(isRecord(settingsRaw) && isRecord(settingsRaw["endpoint"]) ? str(settingsRaw["endpoint"]["url"]) : undefined);
	const startedAt = str(raw["startedAt"]) ?? str(timings["startedAt"]);
	const finishedAt = str(raw["finishedAt"]) ?? str(raw["endedAt"]) ?? str(timings["finishedAt"]) ?? str(timings["endedAt"]);
	let elapsedMs = num(raw["elapsedMs"]) ?? num(raw["durationMs"]) ?? num(timings["elapsedMs"]);
	if (elapsedMs === undefined && startedAt && finishedAt) {
		const d = Date.parse(finishedAt) - Date.parse(startedAt);
		if (Number.isFinite(d) && d >= 0) elapsedMs = d;
	}
	const simulated =
		raw["simulated"] === true ||
		(isRecord(endpoint) && endpoint["simulated"] === true) ||
		(isRecord(settingsRaw) && settingsRaw["simulated"] === true);
	const cancelled = typeof raw["cancelled"] === "boolean" ? raw["cancelled"] : isRecord(raw["summary"]) && typeof raw["summary"]["cancelled"] === "boolean" ? raw["summary"]["cancelled"] : undefined;
	const info: RunView = { simulated, settings, counts };
	const rate = num(raw["imagesPerSecond"]);
	if (rate !== undefined) info.imagesPerSecond = rate;
	if (endpointUrl !== undefined) info.endpointUrl = endpointUrl;
	if (startedAt !== undefined) info.startedAt = startedAt;
	if (finishedAt !== undefined) info.finishedAt = finishedAt;
	if (elapsedMs !== undefined) info.elapsedMs = elapsedMs;
	if (cancelled !== undefined) info.cancelled = cancelled;
	const fatal = raw["fatal"];
	if (isRecord(fatal) && typeof fatal["message"] === "string") info.fatal = { code: str(fatal["code"]) ?? "", message: fatal["message"] };
	return info;
}

/** Reads outDir/embeddings.jsonl, failures.jsonl and run.json. Missing files count as empty. */
export async function readResults(outDir: string, options: ReadOptions = {}): Promise<ResultsModel> {
	const { signal, logger } = options;
	const problems: string[] = [];
	const problem = (msg: string): void => {
		if (problems.length < maxProblems) problems.push(msg);
	};

	const rows: ResultsRow[] = [];
	const byPath = new Map<string, number>();
	let dim = 0;
	let capacity = 0;
	let vectors = new Float32Array(0);
	let scalingFactor: number | undefined;

	for await (const [n, line] of lines(path.join(outDir, "embeddings.jsonl"), signal)) {
		let rec: unknown;
		try {
			rec = JSON.parse(line);
		} catch {
			problem(`embeddings.jsonl:${n}: not valid JSON (truncated line?)`);
			continue;
		}
		if (!isRecord(rec) || typeof rec["path"] !== "string" || !Array.isArray(rec["embedding"])) {
			problem(`embeddings.jsonl:${n}: no path or embedding`);
			continue;
		}
		const emb = rec["embedding"] as unknown[];
		if (emb.length === 0 || (dim !== 0 && emb.length !== dim)) {
			problem(`embeddings.jsonl:${n}: embedding has ${emb.length} values, expected ${dim || "more than 0"}`);
			continue;
		}
		let norm = 0;
		let finite = true;
		for (const x of emb) {
			if (typeof x !== "number" || !Number.isFinite(x)) {
				finite = false;
				break;
			}
			norm += x * x;
		}
		if (!finite) {
			problem(`embeddings.jsonl:${n}: embedding holds a value that is not a finite number`);
			continue;
		}
		if (dim === 0) dim = emb.length;
		const p = rec["path"];
		let index = byPath.get(p);
		if (index === undefined) {
			index = rows.length;
			if (index >= capacity) {
				capacity = Math.max(256, capacity * 2);
				const grown = new Float32Array(capacity * dim);
				grown.set(vectors);
				vectors = grown;
			}
			byPath.set(p, index);
			rows.push(undefined as unknown as ResultsRow);
		}
		const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
		const base = index * dim;
		for (let d = 0; d < dim; d++) vectors[base + d] = (emb[d] as number) * inv;
		const row: ResultsRow = {
			path: p,
			sha256: str(rec["sha256"]) ?? "",
			key: str(rec["key"]) ?? "",
			sopInstanceUid: str(rec["sopInstanceUid"]) ?? "",
			seriesInstanceUid: str(rec["seriesInstanceUid"]) ?? "",
			studyInstanceUid: str(rec["studyInstanceUid"]) ?? "",
			modality: str(rec["modality"]) ?? "",
			time: str(rec["time"]) ?? "",
		};
		const sd = str(rec["seriesDescription"]);
		if (sd !== undefined) row.seriesDescription = sd;
		const std = str(rec["studyDescription"]);
		if (std !== undefined) row.studyDescription = std;
		const thumb = safeRelative(str(rec["thumbnail"]));
		if (thumb !== undefined) row.thumbnail = thumb;
		const r = num(rec["rows"]);
		if (r !== undefined) row.rows = r;
		const c = num(rec["columns"]);
		if (c !== undefined) row.columns = c;
		rows[index] = row;
		const sf = num(rec["scalingFactor"]);
		if (sf !== undefined) scalingFactor = sf;
	}

	const failuresByPath = new Map<string, FailureRecord>();
	for await (const [n, line] of lines(path.join(outDir, "failures.jsonl"), signal)) {
		let rec: unknown;
		try {
			rec = JSON.parse(line);
		} catch {
			problem(`failures.jsonl:${n}: not valid JSON (truncated line?)`);
			continue;
		}
		if (!isRecord(rec) || typeof rec["path"] !== "string") {
			problem(`failures.jsonl:${n}: no path`);
			continue;
		}
		const f: FailureRecord = {
			path: rec["path"],
			stage: str(rec["stage"]) ?? "unknown",
			error: str(rec["error"]) ?? "(no reason recorded)",
			time: str(rec["time"]) ?? "",
		};
		const sha = str(rec["sha256"]);
		if (sha !== undefined) f.sha256 = sha;
		const key = str(rec["key"]);
		if (key !== undefined) f.key = key;
		failuresByPath.delete(f.path);
		failuresByPath.set(f.path, f);
	}
	const failures = [...failuresByPath.values()].filter((f) => !byPath.has(f.path));
	const laterFailures = [...failuresByPath.values()].filter((f) => {
		const at = byPath.get(f.path);
		if (at === undefined || f.stage === "skipped" || !f.time) return false;
		const embeddedAt = rows[at]?.time ?? "";
		return embeddedAt !== "" && embeddedAt < f.time;
	});

	let run: RunView | undefined;
	try {
		run = parseRunInfo(JSON.parse(await fs.readFile(path.join(outDir, "run.json"), "utf8")));
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== "ENOENT") problem(`run.json: ${(e as Error).message}`);
	}

	if (problems.length) logger?.warn(`Results in ${outDir}: ${problems.length} unusable line(s); first: ${problems[0]}`);
	const model: ResultsModel = {
		outDir,
		rows,
		dim,
		// Trimmed to N×D with one copy when the doubling left more than a quarter unused; else a view.
		vectors: vectors.length === rows.length * dim ? vectors : vectors.length > 1.25 * rows.length * dim ? vectors.slice(0, rows.length * dim) : vectors.subarray(0, rows.length * dim),
		failures,
		problems,
	};
	if (scalingFactor !== undefined) model.scalingFactor = scalingFactor;
	if (laterFailures.length) model.laterFailures = laterFailures;
	if (run !== undefined) model.run = run;
	return model;
}
