/**
 * What "Retry failed" re-runs: the paths whose latest outcome in failures.jsonl is a failure (not a
 * skip) and that were not embedded after it. Streams both files; holds only those paths.
 */
import * as path from "node:path";
import { parseRecordHead, readLines } from "./jsonLines";
import { resultFiles, type FailureRecord } from "./types";

export async function readRetryPaths(outDir: string): Promise<Set<string>> {
	const failedAt = new Map<string, string>();
	for await (const line of readLines(path.join(outDir, resultFiles.failures))) {
		let f: Partial<FailureRecord>;
		try {
			f = JSON.parse(line.bytes.toString("utf8")) as Partial<FailureRecord>;
		} catch {
			continue;
		}
		if (typeof f !== "object" || f === null || typeof f.path !== "string") continue;
		if (f.stage === "skipped") failedAt.delete(f.path);
		else failedAt.set(f.path, typeof f.time === "string" ? f.time : "");
	}
	if (failedAt.size > 0) {
		for await (const line of readLines(path.join(outDir, resultFiles.embeddings))) {
			const r = parseRecordHead(line.bytes);
			if (!r) continue;
			const at = failedAt.get(r.head.path);
			if (at !== undefined && (typeof r.head.time !== "string" || r.head.time >= at)) failedAt.delete(r.head.path);
		}
	}
	return new Set(failedAt.keys());
}
