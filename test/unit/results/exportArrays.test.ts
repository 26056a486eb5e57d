import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { csvCell as csvField } from "../../../src/core/results/csv";
import { exportArrays } from "../../../src/core/results/exportArrays";
import { npyHeader } from "../../../src/core/results/npy";
import { ResultsStore, serializeEmbeddingRecord } from "../../../src/core/results/store";
import type { EmbeddingRecord } from "../../../src/core/results/types";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-export-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** True when python3 with numpy can be run here; otherwise says so loudly. */
export function havePythonNumpy(): boolean {
	const r = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
	if (r.status === 0) return true;
	console.log("\n*** SKIPPED: python3 with numpy is not available, the .npy file is not checked with numpy.load ***\n");
	return false;
}

function numpyLoad(file: string): { shape: number[]; dtype: string; fortran: boolean; values: number[] } {
	const script = [
		"import json, sys, numpy",
		"a = numpy.load(sys.argv[1])",
		"print(json.dumps({'shape': list(a.shape), 'dtype': a.dtype.str, 'fortran': bool(numpy.isfortran(a)), 'values': [float(x) for x in a.ravel()]}))",
	].join("\n");
	const r = spawnSync("python3", ["-c", script, file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout) as ReturnType<typeof numpyLoad>;
}

function rec(p: string, values: number[], extra: Partial<EmbeddingRecord> = {}): EmbeddingRecord {
	return {
		path: p,
		sha256: "a".repeat(64),
		sopInstanceUid: "1.2.3",
		seriesInstanceUid: "1.2",
		studyInstanceUid: "1",
		modality: "MR",
		embedding: values,
		key: p.padEnd(64, "k"),
		time: "2026-01-01T00:00:00.000Z",
		...extra,
	};
}

void describe("exports (embeddings.npy, index.csv)", () => {
	void it("quotes CSV fields that hold commas, quotes or line breaks", () => {
		assert.equal(csvField("plain/path.dcm"), "plain/path.dcm");
		assert.equal(csvField('a,"b"'), '"a,""b"""');
		assert.equal(csvField("line\nbreak"), '"line\nbreak"');
		assert.equal(csvField(7), "7");
	});

	void it("guards index.csv against spreadsheet formulas (= + - @ tab CR at the start of a text cell)", async () => {
		const dir = path.join(tmpRoot, "formulas");
		fs.mkdirSync(dir);
		const hostile = ['=HYPERLINK("http://example.invalid","x").dcm', "+1+1.dcm", "-2.dcm", "@SUM(A1).dcm", "\tTAB.dcm", "\rCR.dcm", "plain.dcm"];
		fs.writeFileSync(path.join(dir, "embeddings.jsonl"), hostile.map((p, i) => serializeEmbeddingRecord(rec(p, [i, 1], { modality: i === 0 ? "=1+1" : "CT" }))).join(""));
		assert.equal((await exportArrays(dir)).rows, hostile.length);
		const lines = fs.readFileSync(path.join(dir, "index.csv"), "utf8").split("\n");
		assert.equal(lines[1], `0,"'=HYPERLINK(""http://example.invalid"",""x"").dcm",${"a".repeat(64)},1.2.3,1.2,1,'=1+1`);
		assert.equal(lines[2]!.split(",")[1], "'+1+1.dcm");
		assert.equal(lines[3]!.split(",")[1], "'-2.dcm");
		assert.equal(lines[4]!.split(",")[1], "'@SUM(A1).dcm");
		assert.equal(lines[5]!.split(",")[1], "'\tTAB.dcm");
		assert.equal(lines[6]!.split(",")[1], '"\'\rCR.dcm"');
		assert.equal(lines[7], `6,plain.dcm,${"a".repeat(64)},1.2.3,1.2,1,CT`);
	});

	void it("pads the .npy header so that the data starts at a multiple of 64 bytes", () => {
		for (const shape of [[0, 0], [3, 1024], [123456, 7]]) {
			const h = npyHeader(shape);
			assert.equal(h.length % 64, 0);
			assert.equal(h.subarray(0, 8).toString("latin1"), "\x93NUMPY\x01\x00");
			assert.equal(h.readUInt16LE(8), h.length - 10);
			assert.equal(h[h.length - 1], 0x0a);
			assert.ok(h.toString("latin1").includes(`'shape': (${shape[0]}, ${shape[1]})`));
		}
	});

	void it("exports the latest record of each path, in order, readable by numpy.load with the right values", async () => {
		const dir = path.join(tmpRoot, "a");
		fs.mkdirSync(dir);
		const v = (k: number) => [k + 0.5, -k - 0.25, k * 1e-3 + 0.1];
		const lines = [
			serializeEmbeddingRecord(rec("x.dcm", v(1))),
			serializeEmbeddingRecord(rec('odd, "name".dcm', v(2), { modality: "C,T" })),
			serializeEmbeddingRecord(rec("x.dcm", v(3), { sha256: "b".repeat(64) })), // x.dcm again, newer: replaces row 0
			// a record written by another tool: embedding not last, keys in another order
			JSON.stringify({ embedding: v(4), path: "z.dcm", key: "z".repeat(64), sha256: "c".repeat(64), modality: "US", sopInstanceUid: "9", seriesInstanceUid: "8", studyInstanceUid: "7", time: "t" }) + "\n",
			"this line is not a record\n",
		];
		fs.writeFileSync(path.join(dir, "embeddings.jsonl"), lines.join(""));
		const result = await exportArrays(dir);
		assert.deepEqual(result, { rows: 3, dim: 3, otherDim: 0 });

		const csv = fs.readFileSync(path.join(dir, "index.csv"), "utf8");
		assert.equal(
			csv,
			[
				"row,path,sha256,sopInstanceUid,seriesInstanceUid,studyInstanceUid,modality",
				`0,"odd, ""name"".dcm",${"a".repeat(64)},1.2.3,1.2,1,"C,T"`,
				`1,x.dcm,${"b".repeat(64)},1.2.3,1.2,1,MR`,
				`2,z.dcm,${"c".repeat(64)},9,8,7,US`,
				"",
			].join("\n"),
		);

		const expected = [...v(2), ...v(3), ...v(4)].map((x) => Math.fround(x));
		const raw = fs.readFileSync(path.join(dir, "embeddings.npy"));
		const dataStart = 10 + raw.readUInt16LE(8);
		assert.equal(raw.length - dataStart, expected.length * 4);
		for (let i = 0; i < expected.length; i++) assert.equal(raw.readFloatLE(dataStart + 4 * i), expected[i]);

		if (havePythonNumpy()) {
			const loaded = numpyLoad(path.join(dir, "embeddings.npy"));
			assert.deepEqual(loaded.shape, [3, 3]);
			assert.equal(loaded.dtype, "<f4");
			assert.equal(loaded.fortran, false);
			assert.deepEqual(loaded.values, expected);
		}
	});

	void it("leaves up-to-date exports alone when asked to export only if stale, and redoes stale ones", async () => {
		const dir = path.join(tmpRoot, "stale");
		fs.mkdirSync(dir);
		const jsonl = path.join(dir, "embeddings.jsonl");
		fs.writeFileSync(jsonl, serializeEmbeddingRecord(rec("a", [1, 2])));
		assert.deepEqual(await exportArrays(dir), { rows: 1, dim: 2, otherDim: 0 });
		const npyTime = fs.statSync(path.join(dir, "embeddings.npy")).mtimeMs;
		assert.deepEqual(await exportArrays(dir, { onlyIfStale: true }), { rows: 1, dim: 2, otherDim: 0, upToDate: true });
		assert.equal(fs.statSync(path.join(dir, "embeddings.npy")).mtimeMs, npyTime);
		await new Promise((r) => setTimeout(r, 20));
		fs.appendFileSync(jsonl, serializeEmbeddingRecord(rec("b", [3, 4])));
		assert.deepEqual(await exportArrays(dir, { onlyIfStale: true }), { rows: 2, dim: 2, otherDim: 0 });
		assert.equal(fs.readFileSync(path.join(dir, "index.csv"), "utf8").trim().split("\n").length, 3);
	});

	void it("exports an empty store as a 0×0 array and a header-only index", async () => {
		const dir = path.join(tmpRoot, "empty");
		const store = await ResultsStore.open(dir, { config: "c" });
		await store.close();
		assert.deepEqual(await exportArrays(dir), { rows: 0, dim: 0, otherDim: 0 });
		assert.equal(fs.readFileSync(path.join(dir, "index.csv"), "utf8"), "row,path,sha256,sopInstanceUid,seriesInstanceUid,studyInstanceUid,modality\n");
		if (havePythonNumpy()) assert.deepEqual(numpyLoad(path.join(dir, "embeddings.npy")).shape, [0, 0]);
	});

	void it("leaves out embeddings of another length than the first row's", async () => {
		const dir = path.join(tmpRoot, "dims");
		fs.mkdirSync(dir);
		fs.writeFileSync(path.join(dir, "embeddings.jsonl"), [rec("a", [1, 2]), rec("b", [3, 4, 5]), rec("c", [6, 7])].map(serializeEmbeddingRecord).join(""));
		assert.deepEqual(await exportArrays(dir), { rows: 2, dim: 2, otherDim: 1 });
		const csv = fs.readFileSync(path.join(dir, "index.csv"), "utf8").trim().split("\n");
		assert.deepEqual(
			csv.slice(1).map((l) => l.split(",")[1]),
			["a", "c"],
		);
	});
});
