/**
 * The UMAP map (results view) at 2,000 and 10,000 × 1024: the whole layout (32-D PCA, nearest-neighbour
 * descent, optimisation) in a worker thread as the panel runs it, plus how well it keeps the 20
 * synthetic clusters apart (share of points whose nearest 2-D neighbour is in their cluster, on a
 * 1,000-point sample). Run: `npm run bench -- umap`.
 */
import * as path from "node:path";
import { runUmapInWorker } from "../src/core/analysis/umapWorkerClient";
import { seededRandom } from "../src/core/util/random";

function clustered(n: number, dim: number, clusters: number): Float32Array {
	const rand = seededRandom(42);
	const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, () => rand() - 0.5));
	const v = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) {
		const c = centres[i % clusters] as Float32Array;
		let norm = 0;
		for (let d = 0; d < dim; d++) {
			const x = (c[d] as number) + 0.6 * (rand() - 0.5);
			v[i * dim + d] = x;
			norm += x * x;
		}
		for (let d = 0; d < dim; d++) v[i * dim + d] = (v[i * dim + d] as number) / Math.sqrt(norm);
	}
	return v;
}

function purity(coords: Float32Array, clusters: number, sample: number): number {
	const n = coords.length / 2;
	let same = 0;
	const step = Math.max(1, Math.floor(n / sample));
	let count = 0;
	for (let i = 0; i < n; i += step) {
		let best = -1;
		let bestD = Infinity;
		for (let j = 0; j < n; j++) {
			if (j === i) continue;
			const d = ((coords[2 * i] as number) - (coords[2 * j] as number)) ** 2 + ((coords[2 * i + 1] as number) - (coords[2 * j + 1] as number)) ** 2;
			if (d < bestD) {
				bestD = d;
				best = j;
			}
		}
		if (best % clusters === i % clusters) same++;
		count++;
	}
	return same / count;
}

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const dim = 1024;
	const worker = path.join(__dirname, "../src/workers/umapWorker.js");
	const rows: (string | number)[][] = [];
	for (const n of [2000, 10000]) {
		const v = clustered(n, dim, 20);
		const t = performance.now();
		const coords = await runUmapInWorker(worker, v, dim, new AbortController().signal);
		const ms = performance.now() - t;
		rows.push([n, Math.round(ms), `${(purity(coords, 20, 1000) * 100).toFixed(1)} %`]);
	}
	return [{ title: "UMAP map in a worker thread (1024-D, seed 42, 15 neighbours, on 32 PCA axes)", columns: ["images", "ms", "nearest 2-D neighbour in the same cluster"], rows }];
}
