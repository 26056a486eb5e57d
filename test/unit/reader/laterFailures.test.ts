import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readResults } from "../../../src/core/results/reader";
import { readRetryPaths } from "../../../src/core/results/retryList";

function rec(path: string, time: string): string {
	return JSON.stringify({ path, sha256: `sha-${path}`, key: `key-${path}`, sopInstanceUid: "1.2", seriesInstanceUid: "1.2.3", studyInstanceUid: "1.2", modality: "CT", time, embedding: [1, 0] });
}

void test("a failure recorded after a file's embedding (a re-run against a dead endpoint) is kept apart, not hidden", async () => {
	const dir = mkdtempSync(join(tmpdir(), "mii-later-"));
	try {
		writeFileSync(join(dir, "embeddings.jsonl"), [rec("a.dcm", "2026-11-29T10:00:00.000Z"), rec("b.dcm", "2026-11-29T10:00:00.000Z"), rec("c.dcm", "2026-11-29T12:00:00.000Z")].join("\n") + "\n");
		writeFileSync(
			join(dir, "failures.jsonl"),
			[
				// an old failure of c.dcm, embedded later: gone
				JSON.stringify({ path: "c.dcm", stage: "embed", error: "HTTP 503", time: "2026-11-29T09:00:00.000Z" }),
				// the re-run: a.dcm and b.dcm failed after their embeddings
				JSON.stringify({ path: "a.dcm", stage: "embed", error: "connection error: ECONNREFUSED", time: "2026-11-29T11:00:00.000Z" }),
				JSON.stringify({ path: "b.dcm", stage: "embed", error: "connection error: ECONNREFUSED", time: "2026-11-29T11:00:00.000Z" }),
				// a skip after an embedding is not a failure to retry
				JSON.stringify({ path: "c.dcm", stage: "skipped", error: "no image", time: "2026-11-29T13:00:00.000Z" }),
				JSON.stringify({ path: "d.dcm", stage: "decode", error: "truncated", time: "2026-11-29T11:00:00.000Z" }),
			].join("\n") + "\n",
		);
		const m = await readResults(dir);
		assert.deepEqual(m.rows.map((r) => r.path), ["a.dcm", "b.dcm", "c.dcm"], "the earlier embeddings stay");
		assert.deepEqual(m.failures.map((f) => f.path), ["d.dcm"]);
		assert.deepEqual((m.laterFailures ?? []).map((f) => [f.path, f.error]), [
			["a.dcm", "connection error: ECONNREFUSED"],
			["b.dcm", "connection error: ECONNREFUSED"],
		]);
		// the same files "Retry failed" would send again
		const retry = await readRetryPaths(dir);
		assert.deepEqual([...retry].sort(), ["a.dcm", "b.dcm", "d.dcm"]);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
