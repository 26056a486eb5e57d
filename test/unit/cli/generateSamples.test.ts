import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { generateSamples } from "../../../src/devtools/generateSamples";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { discover } from "../../../src/core/pipeline/discover";

function hashes(dir: string): Map<string, string> {
	const out = new Map<string, string>();
	const walk = (d: string) => {
		for (const e of fs.readdirSync(d, { withFileTypes: true })) {
			const p = path.join(d, e.name);
			if (e.isDirectory()) walk(p);
			else out.set(path.relative(dir, p), createHash("sha256").update(fs.readFileSync(p)).digest("hex"));
		}
	};
	walk(dir);
	return out;
}

void describe("generateSamples (demo data)", () => {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-samples-"));
	after(() => fs.rmSync(tmp, { recursive: true, force: true }));

	void it("writes the same bytes for the same seed, and different bytes for another seed", async () => {
		const a = await generateSamples(path.join(tmp, "a"), { count: 20, seed: 5 });
		const b = await generateSamples(path.join(tmp, "b"), { count: 20, seed: 5 });
		const c = await generateSamples(path.join(tmp, "c"), { count: 20, seed: 6 });
		assert.deepEqual(a, b);
		assert.equal(a.images, 20);
		assert.equal(c.images, 20);
		const ha = hashes(path.join(tmp, "a"));
		assert.equal(ha.size, a.files);
		assert.deepEqual(ha, hashes(path.join(tmp, "b")));
		const hc = hashes(path.join(tmp, "c"));
		assert.notEqual(ha.get("patient1/ct_chest/IM0001.dcm"), hc.get("patient1/ct_chest/IM0001.dcm"));
	});

	void it("every image file is found by discovery and converts; the planted files fail, skip or are ignored", async () => {
		const dir = path.join(tmp, "d");
		const set = await generateSamples(dir, { count: 20, seed: 5 });
		const modalities = new Map<string, number>();
		const outcomes = new Map<string, string>();
		const ignored: string[] = [];
		for await (const item of discover([dir])) {
			if (item.kind === "ignored") {
				ignored.push(path.relative(dir, item.absPath));
				continue;
			}
			const o = await convertDicomBytes(fs.readFileSync(item.absPath), defaultConvertOptions, path.basename(item.absPath));
			outcomes.set(item.relPath, o.kind === "failed" ? `failed ${o.stage}: ${o.error}` : o.kind);
			if (o.kind === "image") modalities.set(o.meta.modality, (modalities.get(o.meta.modality) ?? 0) + 1);
		}
		assert.deepEqual(ignored.sort(), [...set.nonDicom].sort());
		assert.equal(outcomes.get(set.plantedSkips[0]!), "skipped");
		assert.match(outcomes.get(set.plantedFailures[0]!) ?? "", /^failed/);
		const images = [...outcomes.entries()].filter(([, o]) => o === "image");
		const others = [...outcomes.entries()].filter(([p, o]) => o !== "image" && !set.plantedFailures.includes(p) && !set.plantedSkips.includes(p));
		assert.deepEqual(others, [], "only the planted files do not convert");
		assert.equal(images.length, set.images);
		for (const m of ["CR", "CT", "MR", "NM", "US"]) assert.ok(modalities.has(m), `a ${m} image`);
		// Files without suffix and without preamble are part of the set.
		assert.ok(images.some(([p]) => /mr_brain\/MR\d+$/.test(p)));
	});
});
