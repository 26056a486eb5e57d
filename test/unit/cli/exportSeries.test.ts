/**
 * `medimageinsight export --series` end to end: `node dist/cli.js demo` makes a real results folder
 * (sample DICOMs → worker threads → the simulated endpoint on 127.0.0.1), then export writes
 * series.npy / series.csv, checked here against embeddings.jsonl read and pooled independently.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

const repo = path.join(__dirname, "../../../..");
const cli = path.join(repo, "dist/cli.js");

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [cli, ...args], { cwd: repo, env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir() }, stdio: ["ignore", "ignore", "pipe"] });
		let stderr = "";
		const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
		child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
		child.on("error", reject);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, stderr });
		});
	});
}

/** Parses a float32 .npy file independently of the writer: magic, version, header dict, data. */
function readF32Npy(file: string): { shape: number[]; data: Float32Array } {
	const b = fs.readFileSync(file);
	assert.equal(b.toString("latin1", 0, 6), "\x93NUMPY");
	assert.equal(b[6], 1);
	const hlen = b.readUInt16LE(8);
	assert.equal((10 + hlen) % 64, 0, "data starts on a 64-byte boundary");
	const header = b.toString("latin1", 10, 10 + hlen);
	assert.match(header, /'descr': '<f4'/);
	assert.match(header, /'fortran_order': False/);
	const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
	const body = b.subarray(10 + hlen);
	assert.equal(body.length, shape.reduce((a, x) => a * x, 1) * 4);
	const data = new Float32Array(body.length / 4);
	for (let i = 0; i < data.length; i++) data[i] = body.readFloatLE(i * 4);
	return { shape, data };
}

/** A minimal RFC 4180 reader (quoted cells, doubled quotes). */
function readCsv(text: string): string[][] {
	const rows: string[][] = [];
	for (const line of text.split("\r\n").filter(Boolean)) {
		const cells: string[] = [];
		let i = 0;
		while (i <= line.length) {
			if (line[i] === '"') {
				let s = "";
				i++;
				while (i < line.length) {
					if (line[i] === '"' && line[i + 1] === '"') {
						s += '"';
						i += 2;
					} else if (line[i] === '"') break;
					else s += line[i++];
				}
				cells.push(s);
				i += 2;
			} else {
				const j = line.indexOf(",", i);
				cells.push(line.slice(i, j < 0 ? line.length : j));
				i = j < 0 ? line.length + 1 : j + 1;
			}
		}
		rows.push(cells);
	}
	return rows;
}

let tmp = "";
let results = "";
before(async () => {
	const r = spawnSync(process.execPath, ["esbuild.js"], { cwd: repo, encoding: "utf8" });
	assert.equal(r.status, 0, `node esbuild.js failed:\n${r.stderr}`);
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-export-"));
	const demo = await run(["demo", "--out", path.join(tmp, "demo"), "--count", "24", "--workers", "1"]);
	assert.equal(demo.code, 0, demo.stderr);
	results = path.join(tmp, "demo", "results");
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

void describe("medimageinsight export", () => {
	void it("writes series.npy and series.csv equal to the per-series normalised means of embeddings.jsonl", async () => {
		const out = path.join(tmp, "series-out");
		const r = await run(["export", "--series", results, "--out", out]);
		assert.equal(r.code, 0, r.stderr);

		// Independent reference: every record of embeddings.jsonl (demo paths are unique), each normalised, grouped by series.
		const records = fs
			.readFileSync(path.join(results, "embeddings.jsonl"), "utf8")
			.split("\n")
			.filter((l) => l.trim())
			.map((l) => JSON.parse(l) as { path: string; seriesInstanceUid: string; studyInstanceUid: string; modality: string; seriesDescription?: string; embedding: number[] });
		assert.equal(new Set(records.map((x) => x.path)).size, records.length);
		const bySeries = new Map<string, typeof records>();
		for (const rec of records) {
			if (!bySeries.has(rec.seriesInstanceUid)) bySeries.set(rec.seriesInstanceUid, []);
			bySeries.get(rec.seriesInstanceUid)!.push(rec);
		}
		assert.ok(bySeries.size >= 3, `the demo has several series (${bySeries.size})`);
		assert.match(r.stderr, new RegExp(`${bySeries.size} series from ${records.length} images`));

		const npy = readF32Npy(path.join(out, "series.npy"));
		const dim = records[0]!.embedding.length;
		assert.deepEqual(npy.shape, [bySeries.size, dim]);
		const csv = readCsv(fs.readFileSync(path.join(out, "series.csv"), "utf8"));
		assert.deepEqual(csv[0], ["row", "seriesInstanceUid", "studyInstanceUid", "modality", "description", "images"]);
		assert.equal(csv.length - 1, bySeries.size);
		const seen = new Set<string>();
		for (const cells of csv.slice(1)) {
			const [rowText, series, study, modality, description, images] = cells;
			const row = Number(rowText);
			const members = bySeries.get(series!);
			assert.ok(members, `series ${series} is one of the run's`);
			seen.add(series!);
			assert.equal(study, members[0]!.studyInstanceUid);
			assert.equal(modality, members[0]!.modality);
			assert.equal(description, members.find((m) => m.seriesDescription)?.seriesDescription ?? "");
			assert.equal(Number(images), members.length);
			const mean = new Array<number>(dim).fill(0);
			for (const m of members) {
				const len = Math.hypot(...m.embedding);
				m.embedding.forEach((x, d) => (mean[d] = mean[d]! + x / len / members.length));
			}
			const len = Math.hypot(...mean);
			for (let d = 0; d < dim; d++) assert.ok(Math.abs(npy.data[row * dim + d]! - mean[d]! / len) < 1e-5, `series ${series} value ${d}`);
		}
		assert.equal(seen.size, bySeries.size, "every series once");
	});

	void it("--studies writes study.npy and study.csv, one row per study, into the results folder by default", async () => {
		const r = await run(["export", results, "--studies"]);
		assert.equal(r.code, 0, r.stderr);
		const studies = new Set(
			fs
				.readFileSync(path.join(results, "embeddings.jsonl"), "utf8")
				.split("\n")
				.filter((l) => l.trim())
				.map((l) => (JSON.parse(l) as { studyInstanceUid: string }).studyInstanceUid),
		);
		const npy = readF32Npy(path.join(results, "study.npy"));
		assert.equal(npy.shape[0], studies.size);
		const csv = readCsv(fs.readFileSync(path.join(results, "study.csv"), "utf8"));
		assert.deepEqual(new Set(csv.slice(1).map((c) => c[2])), studies);
		for (let i = 0; i < studies.size; i++) {
			let norm = 0;
			for (let d = 0; d < npy.shape[1]!; d++) norm += npy.data[i * npy.shape[1]! + d]! ** 2;
			assert.ok(Math.abs(norm - 1) < 1e-4, `study row ${i} has unit length`);
		}
	});

	void it("exits 2 with one line for no level, no folder, or a folder without results", async () => {
		const cases: [string[], RegExp][] = [
			[["export", results], /--series and\/or --studies/],
			[["export", "--series"], /expected one RESULTS_DIR, got none/],
			[["export", "--series", tmp], /is not a results folder/],
		];
		for (const [args, message] of cases) {
			const r = await run(args);
			assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
			assert.match(r.stderr, message);
			assert.equal(r.stderr.trim().split("\n").length, 1);
		}
	});
});
