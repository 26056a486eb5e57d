/**
 * The UMAP map: seeded (same input, same map, in-process or in a real worker thread), keeps clusters
 * apart, is cancelled by its signal, and reaches the webview after the PCA map.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { umapLayout } from "../../../src/core/analysis/umap";
import { runUmapInWorker } from "../../../src/core/analysis/umapWorkerClient";
import type { ToWebview } from "../../../src/core/protocol/webview";
import type { ResultsModel } from "../../../src/core/results/reader";
import { seededRandom } from "../../../src/core/util/random";
import { testSession } from "../helpers/resultsSession";

const worker = path.join(__dirname, "../../../src/workers/umapWorker.js");

/** A results model of the rows of `vectors`, all CT images of one series. */
function oneSeries(vectors: Float32Array, dim: number): ResultsModel {
	const n = vectors.length / dim;
	return {
		outDir: "/out",
		rows: Array.from({ length: n }, (_, i) => ({ path: `i${i}.dcm`, sha256: "", key: "", sopInstanceUid: `${i}`, seriesInstanceUid: "s", studyInstanceUid: "t", modality: "CT", time: "" })),
		dim,
		vectors,
		failures: [],
		problems: [],
	};
}

/** n unit vectors in `dim` dimensions around `clusters` random centres; cluster of row i = i % clusters. */
function clustered(n: number, dim: number, clusters: number, seed = 5): Float32Array {
	const rand = seededRandom(seed);
	const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => rand() - 0.5));
	const v = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) {
		let norm = 0;
		for (let d = 0; d < dim; d++) {
			const x = centres[i % clusters]![d]! + 0.15 * (rand() - 0.5);
			v[i * dim + d] = x;
			norm += x * x;
		}
		for (let d = 0; d < dim; d++) v[i * dim + d] = v[i * dim + d]! / Math.sqrt(norm);
	}
	return v;
}

/** Share of points whose nearest other point in 2-D belongs to the same cluster. */
function purity(coords: Float32Array, clusters: number): number {
	const n = coords.length / 2;
	let same = 0;
	for (let i = 0; i < n; i++) {
		let best = -1;
		let bestD = Infinity;
		for (let j = 0; j < n; j++) {
			if (j === i) continue;
			const d = (coords[2 * i]! - coords[2 * j]!) ** 2 + (coords[2 * i + 1]! - coords[2 * j + 1]!) ** 2;
			if (d < bestD) {
				bestD = d;
				best = j;
			}
		}
		if (best % clusters === i % clusters) same++;
	}
	return same / n;
}

void test("the same embeddings and seed give the same UMAP map; clusters stay apart in it", async () => {
	const v = clustered(240, 48, 4);
	const a = await umapLayout(v, 48, { seed: 7, nEpochs: 150 });
	const b = await umapLayout(v, 48, { seed: 7, nEpochs: 150 });
	assert.equal(a.length, 480);
	assert.ok(a.every((x) => Number.isFinite(x)));
	assert.deepEqual(a, b);
	assert.ok(purity(a, 4) >= 0.97, `purity ${purity(a, 4)}`);
	await assert.rejects(umapLayout(clustered(5, 8, 1), 8), /at least 8 images/);
});

void test("a real worker thread computes the very map the in-process layout computes", async () => {
	const v = clustered(120, 32, 3);
	const progress: number[] = [];
	const inWorker = await runUmapInWorker(worker, v, 32, new AbortController().signal, { seed: 11, onProgress: (d) => progress.push(d) });
	const here = await umapLayout(v, 32, { seed: 11 });
	assert.deepEqual(inWorker, here);
	assert.ok(progress.length > 0 && progress.every((d, i) => i === 0 || d > progress[i - 1]!), "progress goes forward");
});

void test("aborting the signal stops the worker and rejects", async () => {
	const ac = new AbortController();
	const p = runUmapInWorker(worker, clustered(2000, 64, 5), 64, ac.signal);
	setTimeout(() => ac.abort(), 20);
	await assert.rejects(p, (e: Error) => e.name === "AbortError");
	await assert.rejects(runUmapInWorker(worker, clustered(20, 8, 2), 8, ac.signal), (e: Error) => e.name === "AbortError");
});

void test("the webview gets the PCA map first, then the UMAP map; a closed session does not wait for UMAP", async () => {
	const dim = 16;
	const vectors = clustered(40, dim, 2);
	const model = oneSeries(vectors, dim);
	const sent: ToWebview[] = [];
	const session = testSession(model, sent, {
		layoutUmap: (v, d, signal) => runUmapInWorker(worker, v, d, signal, { seed: 3 }),
	});
	session.receive({ type: "ready" });
	const deadline = Date.now() + 120_000;
	while (!sent.some((m) => m.type === "map" && m.method === "umap") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
	const maps = sent.filter((m): m is Extract<ToWebview, { type: "map" }> => m.type === "map");
	assert.deepEqual(maps.map((m) => m.method), ["pca", "umap"]);
	assert.deepEqual(new Float32Array(maps[1]!.coords), await umapLayout(vectors, dim, { seed: 3 }));
	const busy = sent.filter((m) => m.type === "busy" && m.task === "map").map((m) => (m as { busy: boolean }).busy);
	assert.deepEqual(busy, [true, false], "busy until UMAP is in");
	session.dispose();

	// Disposed while UMAP runs: the worker is terminated and nothing more is posted.
	const sent2: ToWebview[] = [];
	let rejected: unknown;
	const s2 = testSession(model, sent2, {
		layoutUmap: (v, d, signal) =>
			runUmapInWorker(worker, v, d, signal).catch((e: unknown) => {
				rejected = e;
				throw e;
			}),
	});
	s2.receive({ type: "ready" });
	while (!sent2.some((m) => m.type === "map")) await new Promise((r) => setTimeout(r, 5));
	s2.dispose();
	await new Promise((r) => setTimeout(r, 200));
	assert.equal((rejected as Error | undefined)?.name, "AbortError");
	assert.ok(!sent2.some((m) => m.type === "map" && m.method === "umap"));
});

void test("a page that gets ready while UMAP runs gets the PCA map and is told that UMAP is still coming", async () => {
	const dim = 16;
	const vectors = clustered(40, dim, 2);
	const model = oneSeries(vectors, dim);
	const sent: ToWebview[] = [];
	// UMAP (a real worker) starts only when the test lets it, so the page is surely ready before it ends.
	let umapAsked!: () => void;
	const asked = new Promise<void>((r) => (umapAsked = r));
	let go!: () => void;
	const gate = new Promise<void>((r) => (go = r));
	const session = testSession(model, sent, {
		layoutUmap: async (v, d, signal) => {
			umapAsked();
			await gate;
			return runUmapInWorker(worker, v, d, signal, { seed: 3 });
		},
	});
	// As the panel does: the map starts before the page is ready; the PCA map is done when UMAP is asked for.
	session.start();
	await asked;
	session.receive({ type: "ready" });
	const mapsAndBusy = () => sent.filter((m) => m.type === "map" || (m.type === "busy" && m.task === "map")).map((m) => (m.type === "map" ? m.method : `busy ${(m as { busy: boolean }).busy}`));
	assert.deepEqual(mapsAndBusy(), ["pca", "busy true"], "the PCA map, and that the map is still busy (the page adds: UMAP replaces it when ready)");
	go();
	const deadline = Date.now() + 120_000;
	while (!sent.some((m) => m.type === "busy" && m.task === "map" && !m.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
	assert.deepEqual(mapsAndBusy(), ["pca", "busy true", "umap", "busy false"]);
	session.dispose();
});

void test("the Series tab's data: series rows, neighbours by series embedding, outlier scores and a series CSV", async () => {
	// Three series: A (0°, 10°), B (20°), C (90°, 100°) in 2-D; A's mean is 5°.
	const deg = [0, 10, 20, 90, 100];
	const series = ["A", "A", "B", "C", "C"];
	const dim = 2;
	const model: ResultsModel = {
		outDir: "/out",
		rows: deg.map((_, i) => ({ path: `i${i}.dcm`, sha256: "", key: "", sopInstanceUid: `${i}`, seriesInstanceUid: series[i]!, studyInstanceUid: "T", modality: "CT", seriesDescription: i === 3 ? "=cmd()" : `desc ${series[i]}`, time: "" })),
		dim,
		vectors: Float32Array.from(deg.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)])),
		failures: [],
		problems: [],
	};
	const sent: ToWebview[] = [];
	const s = testSession(model, sent);
	s.receive({ type: "ready" });
	s.receive({ type: "series" });
	s.receive({ type: "selectSeries", index: 0, k: 2 });
	s.receive({ type: "seriesOutliers", k: 1 });
	s.receive({ type: "selectSeries", index: 99, k: 2 });
	await new Promise((r) => setTimeout(r, 100));
	const list = sent.find((m) => m.type === "series") as Extract<ToWebview, { type: "series" }>;
	assert.deepEqual(list.items.map((x) => [x.seriesInstanceUid, x.images, x.first, x.description]), [["A", 2, 0, "desc A"], ["B", 1, 2, "desc B"], ["C", 2, 3, "=cmd()"]]);
	const nb = sent.filter((m) => m.type === "seriesNeighbors") as Extract<ToWebview, { type: "seriesNeighbors" }>[];
	assert.equal(nb.length, 1, "an index out of range is ignored");
	assert.deepEqual(nb[0]!.items.map((x) => x.index), [1, 2]);
	assert.ok(Math.abs(nb[0]!.items[0]!.score - Math.cos((15 * Math.PI) / 180)) < 1e-5);
	assert.ok(Math.abs(nb[0]!.items[1]!.score - Math.cos((90 * Math.PI) / 180)) < 1e-5);
	const o = sent.find((m) => m.type === "seriesOutliers") as Extract<ToWebview, { type: "seriesOutliers" }>;
	// k = 1: 1 − similarity to the nearest other series. C (95°) is farthest from B (20°): 1 − cos 75°.
	assert.equal(o.items[0]!.index, 2);
	assert.ok(Math.abs(new Float32Array(o.scores)[2]! - (1 - Math.cos((75 * Math.PI) / 180))) < 1e-5);
	const csv = s.seriesCsv().split("\r\n");
	assert.equal(csv[0], "row,seriesInstanceUid,studyInstanceUid,modality,description,images,outlierScore");
	assert.match(csv[3]!, /^2,C,T,CT,'=cmd\(\),2,0\.74/);
	s.dispose();
});
