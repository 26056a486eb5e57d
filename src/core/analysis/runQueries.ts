/**
 * Questions about one results folder, answered from the results model alone: which image a user
 * means, its most similar images (or series), zero-shot labels, and a summary of the run. The
 * language model tools (src/extension/tools) put these answers in front of a model, so they hold
 * paths, UIDs, modality, scores, labels and counts only: never pixels, descriptions or other header
 * text.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { TextEmbeddings } from "../endpoint/types";
import type { ResultsModel, ResultsRow } from "../results/reader";
import { resultFiles } from "../results/types";
import { groupEmbeddings } from "./series";
import { nearestNeighbors, normalize } from "./similarity";
import { zeroShot } from "./zeroShot";

/** ln(100): the logit scale CLIP-style models converge to; used only when the endpoint reports none (as the results view does). */
export const defaultScalingFactor = Math.log(100);

/** An image as the tools report it. */
export interface ImageRef {
	/** Relative to the folder the run was given (as in the results table). */
	path: string;
	sopInstanceUid: string;
	seriesInstanceUid: string;
	studyInstanceUid: string;
	modality: string;
}

export function imageRef(r: ResultsRow): ImageRef {
	return { path: r.path, sopInstanceUid: r.sopInstanceUid, seriesInstanceUid: r.seriesInstanceUid, studyInstanceUid: r.studyInstanceUid, modality: r.modality };
}

/** A question that cannot be answered from this folder, with the reason (shown to the model and the user). */
export class QueryError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "QueryError";
	}
}

/** The input folders recorded in run.json (empty when it is missing or has none). */
export async function runInputs(outDir: string): Promise<string[]> {
	try {
		const info = JSON.parse(await fs.readFile(path.join(outDir, resultFiles.run), "utf8")) as { inputs?: unknown };
		return Array.isArray(info.inputs) ? info.inputs.filter((p): p is string => typeof p === "string") : [];
	} catch {
		return [];
	}
}

function toPosix(p: string): string {
	return p.replace(/\\/g, "/");
}

/**
 * The row of the image `query` names: its path as in the results (relative), an absolute path under
 * one of the run's input folders, its SOP Instance UID, or a path suffix that only one image has.
 */
export function findImage(model: ResultsModel, query: string, inputs: readonly string[]): number {
	const q = query.trim();
	if (!q) throw new QueryError("No image given.");
	const rows = model.rows;
	const byPath = (p: string): number => rows.findIndex((r) => r.path === p);
	let i = byPath(toPosix(q));
	if (i >= 0) return i;
	if (path.isAbsolute(q)) {
		for (const input of inputs) {
			const rel = toPosix(path.relative(input, q));
			i = rel === "" ? byPath(toPosix(path.basename(q))) : rel.startsWith("../") || path.isAbsolute(rel) ? -1 : byPath(rel);
			if (i >= 0) return i;
		}
	}
	i = rows.findIndex((r) => r.sopInstanceUid === q);
	if (i >= 0) return i;
	const suffix = toPosix(q).replace(/^\/+/, "");
	const matches: number[] = [];
	rows.forEach((r, j) => {
		if (r.path.endsWith(`/${suffix}`)) matches.push(j);
	});
	if (matches.length === 1) return matches[0] as number;
	if (matches.length > 1) {
		throw new QueryError(`"${q}" matches ${matches.length} images (e.g. ${matches.slice(0, 3).map((j) => rows[j]?.path).join(", ")}): give more of the path.`);
	}
	const failed = model.failures.find((f) => f.path === toPosix(q) || f.path.endsWith(`/${suffix}`));
	if (failed) throw new QueryError(`"${q}" has no embedding: it ${failed.stage === "skipped" ? "was skipped" : "failed"} (${failed.stage}: ${failed.error}).`);
	throw new QueryError(`No embedded image in ${model.outDir} matches "${q}" (give its path as in the results, an absolute path, or its SOP Instance UID).`);
}

export interface SimilarImages {
	resultsFolder: string;
	level: "image";
	query: ImageRef;
	similar: (ImageRef & { score: number })[];
}

export interface SimilarSeries {
	resultsFolder: string;
	level: "series";
	query: { seriesInstanceUid: string; studyInstanceUid: string; modality: string; images: number };
	similar: { seriesInstanceUid: string; studyInstanceUid: string; modality: string; images: number; score: number }[];
}

/** Scores rounded to 4 decimals: enough to rank, short for a model to read. */
function round4(x: number): number {
	return Math.round(x * 1e4) / 1e4;
}

/** The k images (or series) most similar to image `index` (or its series) by cosine similarity. */
export function similarTo(model: ResultsModel, index: number, k: number, level: "image" | "series"): SimilarImages | SimilarSeries {
	const row = model.rows[index];
	if (!row) throw new QueryError(`No image ${index}.`);
	if (level === "image") {
		const items = nearestNeighbors(model.vectors, model.dim, index, k);
		return {
			resultsFolder: model.outDir,
			level,
			query: imageRef(row),
			similar: items.map((s) => ({ ...imageRef(model.rows[s.index] as ResultsRow), score: round4(s.score) })),
		};
	}
	if (!row.seriesInstanceUid) throw new QueryError(`${row.path} has no SeriesInstanceUID: ask at image level.`);
	const g = groupEmbeddings(model, "series");
	const gi = g.groups.findIndex((x) => x.seriesInstanceUid === row.seriesInstanceUid);
	const items = nearestNeighbors(g.vectors, g.dim, gi, k);
	const describe = (i: number) => {
		const x = g.groups[i]!;
		return { seriesInstanceUid: x.seriesInstanceUid, studyInstanceUid: x.studyInstanceUid, modality: x.modality, images: x.members.length };
	};
	return { resultsFolder: model.outDir, level, query: describe(gi), similar: items.map((s) => ({ ...describe(s.index), score: round4(s.score) })) };
}

export interface LabelOptions {
	/** Only these rows (default: every image). */
	rows?: number[];
	/** At most this many images listed one by one (counts cover all). */
	limit: number;
	signal: AbortSignal;
}

export interface LabelResult {
	resultsFolder: string;
	labels: string[];
	/** Images labelled, per label (most probable label per image). */
	counts: Record<string, number>;
	labelled: number;
	/** The first `limit` images, with their most probable label and its probability. */
	images: (Pick<ImageRef, "path" | "sopInstanceUid" | "seriesInstanceUid"> & { label: string; probability: number })[];
	/** True when more images were labelled than listed. */
	truncated: boolean;
	scalingFactor: number;
}

/**
 * Zero-shot labels as the results view computes them: the labels' text embeddings from the endpoint,
 * softmax(exp(scalingFactor) · image · textᵀ) per image, the most probable label.
 */
export async function labelImages(
	model: ResultsModel,
	labels: readonly string[],
	embedTexts: (texts: string[], signal: AbortSignal) => Promise<TextEmbeddings>,
	options: LabelOptions,
): Promise<LabelResult> {
	const unique = [...new Set(labels.map((l) => l.trim()).filter((l) => l !== ""))];
	if (unique.length < 2) throw new QueryError("Give at least two different candidate labels.");
	if (model.rows.length === 0) throw new QueryError(`${model.outDir} holds no embedded image.`);
	const t = await embedTexts(unique, options.signal);
	if (t.embeddings.length !== unique.length) throw new Error(`The endpoint returned ${t.embeddings.length} text embeddings for ${unique.length} labels.`);
	const texts = t.embeddings.map((e) => {
		if (e.length !== model.dim) throw new Error(`The label embeddings have ${e.length} values but the images ${model.dim}: is the endpoint the model that embedded these images?`);
		return normalize(Float32Array.from(e));
	});
	const scalingFactor = t.scalingFactor ?? model.scalingFactor ?? defaultScalingFactor;
	const rows = options.rows ?? model.rows.map((_, i) => i);
	const sub = new Float32Array(rows.length * model.dim);
	rows.forEach((r, j) => sub.set(model.vectors.subarray(r * model.dim, (r + 1) * model.dim), j * model.dim));
	const z = zeroShot(sub, model.dim, texts, scalingFactor);
	const counts: Record<string, number> = Object.fromEntries(unique.map((l) => [l, 0]));
	const images: LabelResult["images"] = [];
	rows.forEach((r, j) => {
		const label = unique[z.best[j] as number] as string;
		counts[label] = (counts[label] ?? 0) + 1;
		if (images.length < options.limit) {
			const row = model.rows[r] as ResultsRow;
			images.push({ path: row.path, sopInstanceUid: row.sopInstanceUid, seriesInstanceUid: row.seriesInstanceUid, label, probability: round4(z.probability[j] as number) });
		}
	});
	return { resultsFolder: model.outDir, labels: unique, counts, labelled: rows.length, images, truncated: rows.length > images.length, scalingFactor };
}

export interface RunSummaryView {
	resultsFolder: string;
	embedded: number;
	failed: number;
	skipped: number;
	ignored?: number;
	series: number;
	studies: number;
	modalities: Record<string, number>;
	/** Failed and skipped files grouped by stage and reason, most frequent first, with up to 3 example paths. */
	failuresByReason: { stage: string; reason: string; count: number; examples: string[] }[];
	imagesPerSecond?: number;
	elapsedSeconds?: number;
	startedAt?: string;
	finishedAt?: string;
	cancelled?: boolean;
	simulatedEndpoint: boolean;
	dimension: number;
	unusableLines: number;
}

/** Counts, failures by reason and rate of a run, from its results folder. */
export function summarizeRun(model: ResultsModel): RunSummaryView {
	const run = model.run;
	const failed = model.failures.filter((f) => f.stage !== "skipped").length;
	const reasons = new Map<string, { stage: string; reason: string; count: number; examples: string[] }>();
	for (const f of model.failures) {
		const key = `${f.stage}\0${f.error}`;
		let r = reasons.get(key);
		if (!r) reasons.set(key, (r = { stage: f.stage, reason: f.error, count: 0, examples: [] }));
		r.count++;
		if (r.examples.length < 3) r.examples.push(f.path);
	}
	const modalities: Record<string, number> = {};
	for (const r of model.rows) modalities[r.modality || "(none)"] = (modalities[r.modality || "(none)"] ?? 0) + 1;
	const s: RunSummaryView = {
		resultsFolder: model.outDir,
		embedded: model.rows.length,
		failed,
		skipped: model.failures.length - failed,
		series: new Set(model.rows.map((r) => r.seriesInstanceUid).filter(Boolean)).size,
		studies: new Set(model.rows.map((r) => r.studyInstanceUid).filter(Boolean)).size,
		modalities,
		failuresByReason: [...reasons.values()].sort((a, b) => b.count - a.count || a.stage.localeCompare(b.stage)),
		simulatedEndpoint: run?.simulated ?? false,
		dimension: model.dim,
		unusableLines: model.problems.length,
	};
	if (run?.counts["ignored"] !== undefined) s.ignored = run.counts["ignored"];
	if (run?.elapsedMs !== undefined) s.elapsedSeconds = Math.round(run.elapsedMs / 100) / 10;
	if (run?.imagesPerSecond !== undefined) s.imagesPerSecond = Math.round(run.imagesPerSecond * 100) / 100;
	else if (run?.elapsedMs) s.imagesPerSecond = Math.round(((run.counts["embedded"] ?? model.rows.length) / (run.elapsedMs / 1000)) * 100) / 100;
	if (run?.startedAt !== undefined) s.startedAt = run.startedAt;
	if (run?.finishedAt !== undefined) s.finishedAt = run.finishedAt;
	if (run?.cancelled !== undefined) s.cancelled = run.cancelled;
	return s;
}
