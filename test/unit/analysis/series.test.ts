/**
 * Series and study embeddings against a brute-force computation written here independently (plain
 * number arrays, grouping by string keys in a Map, Math.hypot), on random data and on a results folder
 * read by the real reader.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { groupEmbeddings, groupRows, poolGroups } from "../../../src/core/analysis/series";
import { groupCsv, groupNpy } from "../../../src/core/analysis/seriesExport";
import { csvCell as guardedCsvCell } from "../../../src/core/results/csv";
import { readResults, type ResultsRow } from "../../../src/core/results/reader";
import { seededRandom } from "../../../src/core/util/random";

function row(i: number, series: string, study: string, modality = "CT", seriesDescription?: string): ResultsRow {
	const r: ResultsRow = { path: `img${i}.dcm`, sha256: "", key: "", sopInstanceUid: `1.2.${i}`, seriesInstanceUid: series, studyInstanceUid: study, modality, time: "" };
	if (seriesDescription !== undefined) r.seriesDescription = seriesDescription;
	return r;
}

/** Brute force: per key, the plain average of the vectors, divided by its Euclidean length. */
function bruteForce(vecs: number[][], keys: string[]): Map<string, number[]> {
	const members = new Map<string, number[][]>();
	keys.forEach((k, i) => {
		if (!k) return;
		if (!members.has(k)) members.set(k, []);
		members.get(k)!.push(vecs[i]!);
	});
	const out = new Map<string, number[]>();
	for (const [k, vs] of members) {
		const mean = vs[0]!.map((_, d) => vs.reduce((s, v) => s + v[d]!, 0) / vs.length);
		const len = Math.hypot(...mean);
		out.set(k, mean.map((x) => x / len));
	}
	return out;
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
	assert.equal(actual.length, expected.length, `${what}: length`);
	for (let d = 0; d < expected.length; d++) assert.ok(Math.abs((actual[d] as number) - expected[d]!) < 1e-5, `${what}[${d}]: ${actual[d]} vs ${expected[d]}`);
}

void test("series and study embeddings equal the brute-force normalised means on random data", () => {
	const rand = seededRandom(12);
	const dim = 7;
	const n = 60;
	const seriesOf: string[] = [];
	const studyOf: string[] = [];
	const rows: ResultsRow[] = [];
	const vecs: number[][] = [];
	for (let i = 0; i < n; i++) {
		const study = `1.9.${Math.floor(rand() * 4)}`;
		// Some images carry no series UID: they must be left out, not pooled together.
		const series = rand() < 0.1 ? "" : `${study}.${Math.floor(rand() * 3)}`;
		seriesOf.push(series);
		studyOf.push(study);
		rows.push(row(i, series, study));
		const v = Array.from({ length: dim }, () => rand() * 2 - 1);
		const len = Math.hypot(...v);
		vecs.push(v.map((x) => x / len));
	}
	const vectors = Float32Array.from(vecs.flat());
	for (const [level, keys] of [["series", seriesOf], ["study", studyOf]] as const) {
		const g = groupEmbeddings({ rows, vectors, dim }, level);
		const expected = bruteForce(vecs, keys);
		assert.equal(g.groups.length, expected.size, `${level}: one row per distinct UID`);
		assert.equal(g.withoutUid, keys.filter((k) => !k).length);
		g.groups.forEach((grp, i) => {
			const key = level === "series" ? grp.seriesInstanceUid : grp.studyInstanceUid;
			assert.deepEqual(grp.members, keys.flatMap((k, j) => (k === key ? [j] : [])), `${level} ${key}: members`);
			assertClose(g.vectors.subarray(i * dim, (i + 1) * dim), expected.get(key)!, `${level} ${key}`);
		});
		// Ordered by study UID, then series UID.
		const order = g.groups.map((x) => `${x.studyInstanceUid}|${x.seriesInstanceUid}`);
		assert.deepEqual(order, [...order].sort());
	}
});

void test("a single-image series is that image; opposite images pool to zero rather than to a wrong direction", () => {
	const v = Float32Array.from([0.6, 0.8, 0, 1, 0, -1]);
	const out = poolGroups(v, 2, [{ members: [0] }, { members: [1, 2] }]);
	assertClose(out, [0.6, 0.8, 0, 0], "pooled");
	assert.throws(() => poolGroups(v, 2, [{ members: [3] }]), /refers to image 3, but there are 3/);
	assert.throws(() => poolGroups(v, 2, [{ members: [] }]), /has no images/);
});

void test("a series lists its distinct modalities and its first description", () => {
	const { groups } = groupRows([row(0, "s1", "t1", "CT"), row(1, "s1", "t1", "CT", "AXIAL"), row(2, "s1", "t1", "SEG", "other")], "series");
	assert.equal(groups.length, 1);
	assert.equal(groups[0]!.modality, "CT/SEG");
	assert.equal(groups[0]!.description, "AXIAL");
});

void test("the CSV guards formula-like text and quotes separators", () => {
	assert.equal(guardedCsvCell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
	assert.equal(guardedCsvCell("+1"), "'+1");
	assert.equal(guardedCsvCell("@x"), "'@x");
	assert.equal(guardedCsvCell("-x, y"), `"'-x, y"`);
	assert.equal(guardedCsvCell('a "b"'), `"a ""b"""`);
	assert.equal(guardedCsvCell(-3), "-3");
	const g = groupEmbeddings({ rows: [row(0, "1.2", "1.1", "MR", "=cmd|' /C calc'!A0")], vectors: Float32Array.from([1, 0]), dim: 2 }, "series");
	assert.equal(groupCsv(g), `row,seriesInstanceUid,studyInstanceUid,modality,description,images\r\n0,1.2,1.1,MR,'=cmd|' /C calc'!A0,1\r\n`);
});

void test("the .npy bytes: numpy 1.0 header with the shape, 64-byte aligned, then little-endian float32 rows", () => {
	const g = groupEmbeddings({ rows: [row(0, "a", "s"), row(1, "b", "s"), row(2, "a", "s")], vectors: Float32Array.from([1, 0, 0, 1, 0, 1]), dim: 2 }, "series");
	const b = groupNpy(g);
	assert.equal(b.toString("latin1", 0, 8), "\x93NUMPY\x01\x00");
	const hlen = b.readUInt16LE(8);
	assert.equal((10 + hlen) % 64, 0);
	assert.match(b.toString("latin1", 10, 10 + hlen), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 2\), \} *\n$/);
	const data = b.subarray(10 + hlen);
	assert.equal(data.length, 16);
	const s = Math.SQRT1_2;
	assertClose([data.readFloatLE(0), data.readFloatLE(4), data.readFloatLE(8), data.readFloatLE(12)], [s, s, 0, 1], "rows");
});

void test("on a results folder, images are normalised before pooling (each image weighs the same)", async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-series-"));
	try {
		// Raw embeddings of very different lengths; the latest record of a path wins.
		const recs = [
			{ path: "a", series: "S1", study: "T", emb: [10, 0, 0] },
			{ path: "b", series: "S1", study: "T", emb: [0, 0.1, 0] },
			{ path: "c", series: "S2", study: "T", emb: [0, 0, 3] },
			{ path: "a", series: "S1", study: "T", emb: [0, 0, 5] },
		];
		fs.writeFileSync(
			path.join(dir, "embeddings.jsonl"),
			recs.map((r) => JSON.stringify({ path: r.path, sha256: "x", key: "k", sopInstanceUid: r.path, seriesInstanceUid: r.series, studyInstanceUid: r.study, modality: "CT", time: "", embedding: r.emb })).join("\n") + "\n",
		);
		const model = await readResults(dir);
		const series = groupEmbeddings(model, "series");
		assert.deepEqual(series.groups.map((g) => [g.seriesInstanceUid, g.members.length]), [["S1", 2], ["S2", 1]]);
		assertClose(series.vectors.subarray(0, 3), [0, Math.SQRT1_2, Math.SQRT1_2], "S1 = mean of (0,0,1) and (0,1,0), normalised");
		assertClose(series.vectors.subarray(3, 6), [0, 0, 1], "S2");
		const study = groupEmbeddings(model, "study");
		const third = 1 / Math.sqrt(1 + 4);
		assertClose(study.vectors, [0, third, 2 * third], "T = mean of (0,0,1), (0,1,0), (0,0,1), normalised");
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
