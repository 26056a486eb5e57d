/**
 * The results view's data work at 10,000 × 1024 (the product's "fast at 10k+" target) and 2,000 × 1024:
 * reading embeddings.jsonl into the Float32Array model, nearest neighbours of one image, the 2-D PCA map,
 * outlier scores (exact below 4,000 rows, PCA candidates + exact rescoring above), zero-shot labels
 * (20 labels) and one free-text ranking. Synthetic clustered unit vectors (20 clusters), written as the
 * store writes them. Run: `npm run compile-tests && node out/bench/run.js analysis`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { outlierScores } from "../src/core/analysis/outliers";
import { pca } from "../src/core/analysis/pca";
import { nearestNeighbors, normalize, scoreAll } from "../src/core/analysis/similarity";
import { zeroShot } from "../src/core/analysis/zeroShot";
import { readResults } from "../src/core/results/reader";

function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
		return s / 4294967296 - 0.5;
	};
}

function clustered(n: number, dim: number, clusters: number): Float32Array {
	const rand = rng(42);
	const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, rand));
	const v = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) {
		const c = centres[i % clusters] as Float32Array;
		const row = v.subarray(i * dim, (i + 1) * dim);
		for (let d = 0; d < dim; d++) row[d] = (c[d] as number) + 0.6 * rand();
		normalize(row);
	}
	return v;
}

async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
	const t = performance.now();
	const r = await fn();
	return [performance.now() - t, r];
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const dim = 1024;
	const rows: (string | number)[][] = [];
	for (const n of [2000, 10000]) {
		const vectors = clustered(n, dim, 20);
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-bench-analysis-"));
		try {
			const lines: string[] = [];
			for (let i = 0; i < n; i++) {
				const emb = Array.from(vectors.subarray(i * dim, (i + 1) * dim), (x) => Number(x.toPrecision(9)));
				lines.push(JSON.stringify({ path: `p${i % 50}/s${i % 7}/IM${i}.dcm`, sha256: "0".repeat(64), key: `k${i}`, sopInstanceUid: `1.2.${i}`, seriesInstanceUid: `1.2.${i % 70}`, studyInstanceUid: `1.${i % 20}`, modality: "CT", time: "2026-11-25T10:00:00Z", thumbnail: `thumbnails/${i}.png`, embedding: emb }));
			}
			fs.writeFileSync(path.join(dir, "embeddings.jsonl"), lines.join("\n") + "\n");
			const mb = fs.statSync(path.join(dir, "embeddings.jsonl")).size / 1e6;
			const [readMs, model] = await time(() => readResults(dir));
			rows.push([n, `read embeddings.jsonl (${mb.toFixed(0)} MB)`, Math.round(readMs), `${(mb / (readMs / 1000)).toFixed(0)} MB/s; matrix ${(model.vectors.byteLength / 1e6).toFixed(0)} MB (buffer ${(model.vectors.buffer.byteLength / 1e6).toFixed(0)} MB)`]);
			const [nnMs] = await time(() => {
				for (let q = 0; q < 20; q++) nearestNeighbors(model.vectors, dim, (q * 97) % n, 8);
			});
			rows.push([n, "nearest neighbours (k = 8), per query", Math.round((nnMs / 20) * 10) / 10, "exact, full 1024-D"]);
			const [pcaMs, map] = await time(() => pca(model.vectors, dim, 2, { maxIterations: 12, sampleRows: 3000 }));
			rows.push([n, "2-D PCA map (axes from ≤ 3,000 rows)", Math.round(pcaMs), `${map.iterations} iterations, ${(((map.variance[0] ?? 0) + (map.variance[1] ?? 0)) / map.totalVariance * 100).toFixed(1)} % variance`]);
			const [outMs, out] = await time(() => outlierScores(model.vectors, dim, { k: 5 }));
			rows.push([n, "outlier scores (k = 5)", Math.round(outMs), out.exact ? "exact all pairs" : "32-D PCA candidates + exact rescoring"]);
			const texts = Array.from({ length: 20 }, (_, j) => normalize(Float32Array.from(clustered(1, dim, 1).map((x, d) => x + (model.vectors[j * dim + d] as number)))));
			const [zsMs] = await time(() => zeroShot(model.vectors, dim, texts, 4.6));
			rows.push([n, "zero-shot, 20 labels", Math.round(zsMs), ""]);
			const [qMs] = await time(() => scoreAll(model.vectors, dim, texts[0] as Float32Array));
			rows.push([n, "free-text ranking, one query", Math.round(qMs * 10) / 10, ""]);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	}
	return [{ title: "Results view analysis (1024-D, one core)", columns: ["images", "step", "ms", "notes"], rows }];
}
