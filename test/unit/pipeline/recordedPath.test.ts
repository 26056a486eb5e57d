import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { commonAncestor, recordBase, recordedPath } from "../../../src/core/pipeline/recordedPath";

void test("the common folder of the selection: one folder itself, a file its parent, several their deepest shared folder", () => {
	assert.equal(commonAncestor(["/x/siteA/data", "/x/siteB/data"]), "/x");
	assert.equal(commonAncestor(["/x/one", "/x/one"]), "/x/one");
	assert.equal(commonAncestor(["/x/one", "/x/one/sub"]), "/x/one");
	assert.equal(commonAncestor(["/x/ab", "/x/a"]), "/x", "by whole names, not by characters");
	assert.equal(commonAncestor(["/a", "/b"]), "/");
	assert.equal(commonAncestor([]), undefined);
});

void test("recorded paths: unique per file, readable, and as before for one folder or sibling folders", async () => {
	const top = fs.mkdtempSync(path.join(os.tmpdir(), "mii-recpath-"));
	try {
		for (const d of ["siteA/data", "siteB/data", "p", "q", "one", "two"]) fs.mkdirSync(path.join(top, d), { recursive: true });
		for (const f of ["p/IM9.dcm", "q/IM9.dcm"]) fs.writeFileSync(path.join(top, f), "");
		const j = (...p: string[]) => path.join(top, ...p);

		const base = await recordBase([j("siteA/data"), j("siteB/data"), j("p/IM9.dcm"), j("q/IM9.dcm")]);
		assert.equal(base, top);
		assert.deepEqual(
			[j("siteA/data/IM1.dcm"), j("siteB/data/IM1.dcm"), j("p/IM9.dcm"), j("q/IM9.dcm")].map((f) => recordedPath(f, base)),
			["siteA/data/IM1.dcm", "siteB/data/IM1.dcm", "p/IM9.dcm", "q/IM9.dcm"],
		);
		// One selected folder: relative to it; one file: its name; sibling folders: prefixed by their names.
		assert.equal(recordedPath(j("one/s/IM1.dcm"), await recordBase([j("one")])), "s/IM1.dcm");
		assert.equal(recordedPath(j("p/IM9.dcm"), await recordBase([j("p/IM9.dcm")])), "IM9.dcm");
		const siblings = await recordBase([j("one"), j("two")]);
		assert.deepEqual([recordedPath(j("one/IM1.dcm"), siblings), recordedPath(j("two/IM1.dcm"), siblings)], ["one/IM1.dcm", "two/IM1.dcm"]);
		// No shared folder (other drives): the whole path.
		assert.equal(recordedPath("/abs/IM1.dcm", undefined), "/abs/IM1.dcm");
	} finally {
		fs.rmSync(top, { recursive: true, force: true });
	}
});
