/**
 * What the Runs view shows of one output folder, read cheaply: run.json (counts, dates, endpoint,
 * cancelled / stopped), and when index.csv is at least as new as embeddings.jsonl, the images it lists
 * and the failures not embedded since (the same numbers as the results view) — never the embeddings.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { parseRunInfo } from "../results/reader";
import { resultFiles } from "../results/types";

export type RunState = "finished" | "failures" | "cancelled" | "stopped" | "incomplete";

export interface RunEntry {
	outDir: string;
	/** Images with an embedding. */
	embedded: number;
	/** Files that failed (not skipped) and have no embedding. */
	failed: number;
	skipped: number;
	ignored?: number;
	startedAt?: string;
	finishedAt?: string;
	/** When the folder last changed (the newest of its result files), ms since the epoch: for sorting. */
	changedMs: number;
	endpointUrl?: string;
	simulated: boolean;
	state: RunState;
	/** Why the run stopped (a fatal endpoint error), when it did. */
	stopReason?: string;
	/** The folder has a run.json with input folders (Retry Failed can run). */
	canRetry: boolean;
}

const resultNames = [resultFiles.embeddings, resultFiles.failures, resultFiles.run];

/** True when `dir` holds embeddings.jsonl or failures.jsonl, or a run.json written by this product (not any run.json). */
export async function isRunFolder(dir: string): Promise<boolean> {
	for (const f of [resultFiles.embeddings, resultFiles.failures]) {
		if (await fs.stat(path.join(dir, f)).then((s) => s.isFile(), () => false)) return true;
	}
	try {
		const raw = JSON.parse(await fs.readFile(path.join(dir, resultFiles.run), "utf8")) as { product?: { name?: unknown } };
		return raw.product?.name === "medimageinsight-vscode";
	} catch {
		return false;
	}
}

async function mtime(file: string): Promise<number | undefined> {
	return fs.stat(file).then(
		(s) => s.mtimeMs,
		() => undefined,
	);
}

/** The paths column of index.csv (second field; quoted fields unquoted). */
function indexPaths(text: string): Set<string> {
	const out = new Set<string>();
	const lines = text.split(/\r?\n/);
	for (let i = 1; i < lines.length; i++) {
		const line = lines[i] as string;
		if (!line) continue;
		const rest = line.slice(line.indexOf(",") + 1);
		if (rest.startsWith('"')) {
			let s = "";
			let j = 1;
			while (j < rest.length) {
				if (rest[j] === '"' && rest[j + 1] === '"') {
					s += '"';
					j += 2;
				} else if (rest[j] === '"') break;
				else s += rest[j++];
			}
			out.add(s);
		} else {
			const end = rest.indexOf(",");
			out.add(end < 0 ? rest : rest.slice(0, end));
		}
	}
	return out;
}

/** The latest failure record per path: path → stage. */
async function latestFailures(file: string): Promise<Map<string, string>> {
	const out = new Map<string, string>();
	const text = await fs.readFile(file, "utf8").catch(() => "");
	for (const line of text.split("\n")) {
		if (!line.trim()) continue;
		try {
			const r = JSON.parse(line) as { path?: unknown; stage?: unknown };
			if (typeof r.path === "string") {
				out.delete(r.path);
				out.set(r.path, typeof r.stage === "string" ? r.stage : "unknown");
			}
		} catch {
			// a truncated line: the results view reports it
		}
	}
	return out;
}

/** Describes the output folder `outDir`, or undefined when it holds no results. */
export async function describeRun(outDir: string): Promise<RunEntry | undefined> {
	const times = await Promise.all(resultNames.map((f) => mtime(path.join(outDir, f))));
	if (times.every((t) => t === undefined)) return undefined;
	const [jsonlTime, , runTime] = times;
	let raw: Record<string, unknown> | undefined;
	try {
		raw = JSON.parse(await fs.readFile(path.join(outDir, resultFiles.run), "utf8")) as Record<string, unknown>;
	} catch {
		raw = undefined;
	}
	const info = raw ? parseRunInfo(raw) : undefined;
	const counts = info?.counts ?? {};
	let embedded = (counts["embedded"] ?? 0) + (counts["alreadyDone"] ?? 0);
	let failed = counts["failed"] ?? 0;
	let skipped = counts["skipped"] ?? 0;

	const indexTime = await mtime(path.join(outDir, resultFiles.index));
	if (indexTime !== undefined && (jsonlTime === undefined || indexTime >= jsonlTime)) {
		const paths = indexPaths(await fs.readFile(path.join(outDir, resultFiles.index), "utf8"));
		embedded = paths.size;
		failed = 0;
		skipped = 0;
		for (const [p, stage] of await latestFailures(path.join(outDir, resultFiles.failures))) {
			if (paths.has(p)) continue;
			if (stage === "skipped") skipped++;
			else failed++;
		}
	}
	const fatal = raw && typeof raw["fatal"] === "object" && raw["fatal"] !== null ? (raw["fatal"] as { message?: unknown }).message : undefined;
	const state: RunState = !info || runTime === undefined || (jsonlTime !== undefined && jsonlTime > runTime + 1000) ? "incomplete" : fatal !== undefined ? "stopped" : info.cancelled ? "cancelled" : failed > 0 ? "failures" : "finished";
	const entry: RunEntry = {
		outDir,
		embedded,
		failed,
		skipped,
		changedMs: Math.max(...times.map((t) => t ?? 0)),
		simulated: info?.simulated ?? false,
		state,
		canRetry: Array.isArray(raw?.["inputs"]) && (raw["inputs"] as unknown[]).length > 0,
	};
	if (counts["ignored"] !== undefined) entry.ignored = counts["ignored"];
	if (info?.startedAt) entry.startedAt = info.startedAt;
	if (info?.finishedAt) entry.finishedAt = info.finishedAt;
	if (info?.endpointUrl) entry.endpointUrl = info.endpointUrl;
	if (typeof fatal === "string") entry.stopReason = fatal;
	return entry;
}

/** The files a run writes in its output folder (Delete Results removes these and nothing else). */
export const runOutputNames = [
	resultFiles.embeddings,
	resultFiles.failures,
	resultFiles.npy,
	resultFiles.index,
	resultFiles.run,
	resultFiles.lock,
	resultFiles.thumbnails,
	"series.npy",
	"series.csv",
	"study.npy",
	"study.csv",
];

/**
 * Deletes the results of `outDir` (the files a run writes, and the thumbnails folder), then the folder
 * itself if nothing else is left in it. Other files are never touched. Returns what was left behind.
 */
export async function deleteRunOutputs(outDir: string): Promise<{ removedFolder: boolean; kept: string[] }> {
	for (const name of runOutputNames) {
		await fs.rm(path.join(outDir, name), { recursive: name === resultFiles.thumbnails, force: true });
		await fs.rm(path.join(outDir, `${name}.tmp`), { force: true });
	}
	const kept = await fs.readdir(outDir).catch(() => [] as string[]);
	if (kept.length === 0) {
		await fs.rmdir(outDir).catch(() => undefined);
		return { removedFolder: true, kept };
	}
	return { removedFolder: false, kept };
}
