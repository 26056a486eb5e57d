/**
 * MedImageInsight as language model tools for Copilot's agent mode (contributes.languageModelTools in
 * package.json, vscode.lm.registerTool here): find similar images, label images zero-shot, summarise
 * a run. The answers come from src/core/analysis/runQueries.ts and hold paths, UIDs, modality,
 * scores, labels and counts only: never pixels, descriptions or other header text.
 */
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { findImage, labelImages, QueryError, runInputs, similarTo, summarizeRun } from "../../core/analysis/runQueries";
import type { ImageEmbedder } from "../../core/endpoint/types";
import { readResults, type ResultsModel } from "../../core/results/reader";
import { resultFiles } from "../../core/results/types";
import type { Logger } from "../../core/util/logger";

export const toolNames = Object.freeze({
	findSimilarImages: "medImageInsight_findSimilarImages",
	labelImages: "medImageInsight_labelImages",
	summarizeRun: "medImageInsight_summarizeRun",
});

export interface FindSimilarInput {
	image?: string;
	resultsFolder?: string;
	k?: number;
	level?: "image" | "series";
}

export interface LabelImagesInput {
	labels: string[];
	resultsFolder?: string;
	images?: string[];
	limit?: number;
}

export interface SummarizeRunInput {
	resultsFolder?: string;
}

export interface ToolDeps {
	log: Logger;
	/** The results view that was active last: its folder and selected image. */
	currentView(): { outDir: string; selectedPath: string | undefined } | undefined;
	/** The output folder of this workspace's last run. */
	lastRunOutDir(): string | undefined;
	/** The shared endpoint client (text embeddings). */
	embedder(): Promise<ImageEmbedder>;
	/** The configured endpoint URL and whether it is the built-in simulation (no confirmation needed: nothing leaves the machine). */
	endpoint(): { url: string; simulated: boolean };
}

/** The tool input, validated again here (a caller other than the chat may skip the schema). */
function optString(v: unknown, name: string): string | undefined {
	if (v === undefined || v === null) return undefined;
	if (typeof v !== "string") throw new QueryError(`${name} must be a string.`);
	return v.trim() === "" ? undefined : v.trim();
}

function optInt(v: unknown, name: string, min: number, max: number, fallback: number): number {
	if (v === undefined || v === null) return fallback;
	if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new QueryError(`${name} must be a whole number from ${min} to ${max}.`);
	return v;
}

function stringList(v: unknown, name: string, max: number): string[] {
	if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new QueryError(`${name} must be a list of strings.`);
	if (v.length > max) throw new QueryError(`${name} holds ${v.length} entries; at most ${max}.`);
	return v as string[];
}

function textResult(value: unknown): vscode.LanguageModelToolResult {
	return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(JSON.stringify(value))]);
}

function abortSignal(token: vscode.CancellationToken): AbortSignal {
	const ac = new AbortController();
	if (token.isCancellationRequested) ac.abort();
	else token.onCancellationRequested(() => ac.abort());
	return ac.signal;
}

/** Reads results folders, keeping the last one read while its files are unchanged. */
class ResultsCache {
	private cached: { outDir: string; stamp: string; model: ResultsModel; inputs: string[] } | undefined;

	constructor(private readonly log: Logger) {}

	private async stamp(outDir: string): Promise<string> {
		const parts = await Promise.all(
			[resultFiles.embeddings, resultFiles.failures, resultFiles.run].map(async (f) => {
				const s = await fs.stat(path.join(outDir, f)).catch(() => undefined);
				return s ? `${s.size}:${s.mtimeMs}` : "-";
			}),
		);
		return parts.join("|");
	}

	async load(outDir: string, signal: AbortSignal): Promise<{ model: ResultsModel; inputs: string[] }> {
		const stamp = await this.stamp(outDir);
		if (this.cached?.outDir === outDir && this.cached.stamp === stamp) return this.cached;
		const model = await readResults(outDir, { signal, logger: this.log });
		const inputs = await runInputs(outDir);
		this.cached = { outDir, stamp, model, inputs };
		return this.cached;
	}
}

function isResultsFolder(dir: string): boolean {
	return existsSync(path.join(dir, resultFiles.embeddings)) || existsSync(path.join(dir, resultFiles.failures));
}

/** The results folder a tool works on: the one given (absolute, or relative to the first workspace folder), else the open results view's, else the last run's. */
function resolveFolder(deps: ToolDeps, given: string | undefined): string {
	if (given !== undefined) {
		const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
		const dir = path.isAbsolute(given) ? given : root ? path.join(root, given) : path.resolve(given);
		if (!isResultsFolder(dir)) throw new QueryError(`${dir} is not a MedImageInsight results folder (it has no ${resultFiles.embeddings}).`);
		return dir;
	}
	const view = deps.currentView()?.outDir;
	if (view && isResultsFolder(view)) return view;
	const last = deps.lastRunOutDir();
	if (last && isResultsFolder(last)) return last;
	throw new QueryError("No results folder: give resultsFolder (a folder holding embeddings.jsonl), open the results of a run, or run Generate Embeddings first.");
}

/** Runs a tool body; a QueryError becomes an answer the model can act on instead of a failure. */
async function answer(name: string, log: Logger, body: () => Promise<unknown>): Promise<vscode.LanguageModelToolResult> {
	try {
		return textResult(await body());
	} catch (e) {
		if (e instanceof QueryError) return textResult({ error: e.message });
		log.error(`[tools] ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
		throw e;
	}
}

function folderLabel(deps: ToolDeps, given: string | undefined): string {
	try {
		return path.basename(resolveFolder(deps, given));
	} catch {
		return given ?? vscode.l10n.t("the current results");
	}
}

function findSimilarImagesTool(deps: ToolDeps, cache: ResultsCache): vscode.LanguageModelTool<FindSimilarInput> {
	return {
		prepareInvocation: (options) => {
			const k = typeof options.input.k === "number" ? options.input.k : 10;
			const what = options.input.image ?? vscode.l10n.t("the selected image");
			return {
				invocationMessage:
					options.input.level === "series"
						? vscode.l10n.t("Finding the {0} series most similar to the series of {1} in {2}", k, what, folderLabel(deps, options.input.resultsFolder))
						: vscode.l10n.t("Finding the {0} images most similar to {1} in {2}", k, what, folderLabel(deps, options.input.resultsFolder)),
			};
		},
		invoke: (options, token) =>
			answer("findSimilarImages", deps.log, async () => {
				const input = options.input;
				const level = input.level === undefined || input.level === null ? "image" : input.level;
				if (level !== "image" && level !== "series") throw new QueryError('level must be "image" or "series".');
				const k = optInt(input.k, "k", 1, 100, 10);
				const folder = resolveFolder(deps, optString(input.resultsFolder, "resultsFolder"));
				let image = optString(input.image, "image");
				if (image === undefined) {
					const view = deps.currentView();
					if (view?.outDir === folder && view.selectedPath) image = view.selectedPath;
					else throw new QueryError("No image given and none is selected in the results view: give the image's path (as listed in the results) or its SOP Instance UID.");
				}
				const { model, inputs } = await cache.load(folder, abortSignal(token));
				return similarTo(model, findImage(model, image, inputs), k, level);
			}),
	};
}

function labelImagesTool(deps: ToolDeps, cache: ResultsCache): vscode.LanguageModelTool<LabelImagesInput> {
	return {
		prepareInvocation: (options) => {
			const labels = Array.isArray(options.input.labels) ? options.input.labels.filter((l) => typeof l === "string") : [];
			const folder = folderLabel(deps, options.input.resultsFolder);
			const prepared: vscode.PreparedToolInvocation = { invocationMessage: vscode.l10n.t("Labelling the images of {0} as {1}", folder, labels.join(" / ")) };
			const endpoint = deps.endpoint();
			if (!endpoint.simulated) {
				let host = endpoint.url;
				try {
					host = new URL(endpoint.url).host;
				} catch {
					// not a URL: shown as it is
				}
				prepared.confirmationMessages = {
					title: vscode.l10n.t("Label images with MedImageInsight?"),
					message: new vscode.MarkdownString(
						vscode.l10n.t(
							"Sends the {0} candidate labels (text only, no images) to the endpoint **{1}** for their text embeddings, then labels the images of **{2}** on this machine.",
							labels.length,
							host || vscode.l10n.t("(none configured)"),
							folder,
						),
					),
				};
			}
			return prepared;
		},
		invoke: (options, token) =>
			answer("labelImages", deps.log, async () => {
				const input = options.input;
				const labels = stringList(input.labels, "labels", 50);
				const limit = optInt(input.limit, "limit", 1, 500, 50);
				const folder = resolveFolder(deps, optString(input.resultsFolder, "resultsFolder"));
				const signal = abortSignal(token);
				const { model, inputs } = await cache.load(folder, signal);
				const rows = input.images === undefined || input.images === null ? undefined : [...new Set(stringList(input.images, "images", 5000).map((q) => findImage(model, q, inputs)))];
				if (rows?.length === 0) throw new QueryError("images is empty: leave it out to label every image.");
				const client = await deps.embedder();
				return labelImages(model, labels, (texts, s) => client.embedTexts(texts, s), rows === undefined ? { limit, signal } : { rows, limit, signal });
			}),
	};
}

function summarizeRunTool(deps: ToolDeps, cache: ResultsCache): vscode.LanguageModelTool<SummarizeRunInput> {
	return {
		prepareInvocation: (options) => ({ invocationMessage: vscode.l10n.t("Summarising the MedImageInsight run in {0}", folderLabel(deps, options.input.resultsFolder)) }),
		invoke: (options, token) =>
			answer("summarizeRun", deps.log, async () => {
				const folder = resolveFolder(deps, optString(options.input.resultsFolder, "resultsFolder"));
				const { model } = await cache.load(folder, abortSignal(token));
				return summarizeRun(model);
			}),
	};
}

/** Registers the three tools; returns their registrations. */
export function registerLanguageModelTools(deps: ToolDeps): vscode.Disposable[] {
	if (typeof vscode.lm?.registerTool !== "function") {
		deps.log.warn("[tools] this VS Code has no language model tools API: the MedImageInsight tools are not available");
		return [];
	}
	const cache = new ResultsCache(deps.log);
	return [
		vscode.lm.registerTool(toolNames.findSimilarImages, findSimilarImagesTool(deps, cache)),
		vscode.lm.registerTool(toolNames.labelImages, labelImagesTool(deps, cache)),
		vscode.lm.registerTool(toolNames.summarizeRun, summarizeRunTool(deps, cache)),
	];
}
