/**
 * The results view's map at series level (PRODUCT.md §10), through the real ResultsSession: one point per
 * series, laid out from the series embeddings, checked against the normalised means computed here by
 * brute force from the image vectors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ToWebview } from "../../../src/core/protocol/webview";
import type { ResultsModel, ResultsRow } from "../../../src/core/results/reader";
import { testSession } from "../helpers/resultsSession";

const dim = 6;
const seriesCount = 12;

/**
 * Images of 12 series in 6-D, interleaved (a series' images are not next to each other). Series s has
 * 2, 4 or 6 images, pairs u ± 0.3·e_k around a direction u = (0.8 cos θ, 0.8 sin θ, 0.6, 0, 0, 0), and
 * the image order and the series UIDs do not follow the series number.
 */
function model(): ResultsModel {
	const images: { s: number; v: number[] }[] = [];
	for (let s = 0; s < seriesCount; s++) {
		const theta = (2 * Math.PI * ((s * 5) % seriesCount)) / seriesCount + 0.1 * (s % 4);
		const u = [0.8 * Math.cos(theta), 0.8 * Math.sin(theta), 0.6, 0, 0, 0];
		const pairs = 1 + (s % 3);
		for (let p = 0; p < pairs; p++) {
			for (const sign of [1, -1]) {
				const v = u.slice();
				v[3 + (p % 3)] = sign * 0.3;
				const norm = Math.hypot(...v);
				images.push({ s, v: v.map((x) => x / norm) });
			}
		}
	}
	// Interleave: a fixed permutation of the images.
	const order = images.map((_, i) => i).sort((a, b) => ((a * 7) % 11) - ((b * 7) % 11) || a - b);
	const rows: ResultsRow[] = [];
	const vectors = new Float32Array(order.length * dim);
	order.forEach((i, r) => {
		const im = images[i] as { s: number; v: number[] };
		vectors.set(im.v, r * dim);
		rows.push({
			path: `s${im.s}/img${i}.dcm`,
			sha256: "",
			key: "",
			sopInstanceUid: `1.9.${i}`,
			seriesInstanceUid: `1.2.${(im.s * 7) % seriesCount}`,
			studyInstanceUid: `1.3.${im.s % 2}`,
			modality: im.s % 2 ? "MR" : "CT",
			time: "",
			seriesDescription: `series ${im.s}`,
		});
	});
	return { outDir: "/out", rows, dim, vectors, failures: [], problems: [] };
}

/** The brute-force series embeddings: per SeriesInstanceUID, the float64 mean of its images, normalised. */
function bruteForceMeans(m: ResultsModel): Map<string, number[]> {
	const sums = new Map<string, number[]>();
	m.rows.forEach((r, i) => {
		const sum = sums.get(r.seriesInstanceUid) ?? new Array<number>(dim).fill(0);
		for (let d = 0; d < dim; d++) sum[d] = (sum[d] as number) + (m.vectors[i * dim + d] as number);
		sums.set(r.seriesInstanceUid, sum);
	});
	const out = new Map<string, number[]>();
	for (const [uid, sum] of sums) {
		const count = m.rows.filter((r) => r.seriesInstanceUid === uid).length;
		const mean = sum.map((x) => x / count);
		const norm = Math.hypot(...mean);
		out.set(uid, mean.map((x) => x / norm));
	}
	return out;
}

function harness() {
	const sent: ToWebview[] = [];
	const layouts: { vectors: Float32Array; dim: number }[] = [];
	const m = model();
	const s = testSession(m, sent, {
		// Stands in for the UMAP worker: records what it is given, answers with a recognisable layout (point i at (i, −i)).
		layoutUmap: async (vectors, d) => {
			layouts.push({ vectors: vectors.slice(), dim: d });
			const n = vectors.length / d;
			return Float32Array.from({ length: 2 * n }, (_, j) => (j % 2 ? -Math.floor(j / 2) : Math.floor(j / 2)));
		},
	});
	const settle = () => new Promise((r) => setTimeout(r, 50));
	return { s, m, sent, layouts, settle };
}

void test("series map: one point per series; the PCA map keeps the distances between the brute-force series means", async () => {
	const { s, m, sent, settle } = harness();
	s.receive({ type: "ready" });
	await settle();
	s.receive({ type: "series" });
	await settle();
	const list = sent.find((x) => x.type === "series") as Extract<ToWebview, { type: "series" }>;
	assert.equal(list.items.length, seriesCount);
	const pcaMap = sent.find((x) => x.type === "seriesMap" && x.method === "pca") as Extract<ToWebview, { type: "seriesMap" }>;
	assert.ok(pcaMap, "no PCA series map");
	const coords = new Float32Array(pcaMap.coords);
	assert.equal(coords.length, 2 * seriesCount);
	// The brute-force means lie on one plane (third coordinate 0.6, last three 0): PCA's two axes hold all
	// their variance, so the map must keep every pairwise distance between them.
	const means = bruteForceMeans(m);
	let worst = 0;
	for (let i = 0; i < seriesCount; i++) {
		for (let j = i + 1; j < seriesCount; j++) {
			const a = means.get(list.items[i]?.seriesInstanceUid ?? "") as number[];
			const b = means.get(list.items[j]?.seriesInstanceUid ?? "") as number[];
			const want = Math.hypot(...a.map((x, d) => x - (b[d] as number)));
			const got = Math.hypot((coords[2 * i] as number) - (coords[2 * j] as number), (coords[2 * i + 1] as number) - (coords[2 * j + 1] as number));
			worst = Math.max(worst, Math.abs(got - want));
		}
	}
	assert.ok(worst < 1e-4, `pairwise distances off by up to ${worst}`);
	assert.ok(Math.abs((pcaMap.explained[0] ?? 0) + (pcaMap.explained[1] ?? 0) - 1) < 1e-4, `explained ${pcaMap.explained}`);
	s.dispose();
});

void test("series map: UMAP is laid out from the series embeddings (= brute-force means, in the list's order), then replaces PCA", async () => {
	const { s, m, sent, layouts, settle } = harness();
	s.receive({ type: "ready" });
	await settle();
	// The image map's layout came first: it got the image vectors.
	assert.equal(layouts.length, 1);
	assert.equal(layouts[0]?.vectors.length, m.vectors.length);
	s.receive({ type: "series" });
	await settle();
	assert.equal(layouts.length, 2);
	const list = sent.find((x) => x.type === "series") as Extract<ToWebview, { type: "series" }>;
	const got = layouts[1] as { vectors: Float32Array; dim: number };
	assert.equal(got.dim, dim);
	assert.equal(got.vectors.length, seriesCount * dim);
	const means = bruteForceMeans(m);
	list.items.forEach((item, r) => {
		const want = means.get(item.seriesInstanceUid) as number[];
		for (let d = 0; d < dim; d++) assert.ok(Math.abs((got.vectors[r * dim + d] as number) - (want[d] as number)) < 1e-6, `series ${r}, dimension ${d}`);
		assert.equal(item.images, m.rows.filter((x) => x.seriesInstanceUid === item.seriesInstanceUid).length);
	});
	const maps = sent.filter((x): x is Extract<ToWebview, { type: "seriesMap" }> => x.type === "seriesMap");
	assert.deepEqual(maps.map((x) => x.method), ["pca", "umap"]);
	assert.deepEqual(Array.from(new Float32Array((maps[1] as { coords: ArrayBuffer }).coords)).slice(0, 6), [0, -0, 1, -1, 2, -2]);
	const busy = sent.filter((x): x is Extract<ToWebview, { type: "busy" }> => x.type === "busy" && x.task === "seriesMap").map((x) => x.busy);
	assert.deepEqual(busy, [true, false]);
	// A reloaded webview asks again: the map is sent again, not computed again.
	sent.length = 0;
	s.receive({ type: "series" });
	await settle();
	assert.equal(layouts.length, 2);
	assert.deepEqual(sent.map((x) => x.type), ["series", "seriesMap"]);
	assert.equal((sent[1] as Extract<ToWebview, { type: "seriesMap" }>).method, "umap");
	s.dispose();
});

void test("series outliers are carried over to the session that replaces this one", async () => {
	const { s, sent, settle } = harness();
	s.receive({ type: "ready" });
	s.receive({ type: "seriesOutliers", k: 3 });
	await settle();
	const o = sent.find((x) => x.type === "seriesOutliers") as Extract<ToWebview, { type: "seriesOutliers" }>;
	assert.equal(new Float32Array(o.scores).length, seriesCount);
	assert.deepEqual(s.requests().filter((r) => r.type === "seriesOutliers"), [{ type: "seriesOutliers", k: 3 }]);
	s.dispose();
});
