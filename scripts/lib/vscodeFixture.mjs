// The workspace the VS Code tests open: test/fixtures/workspace plus real DICOM files from
// ../shared/dicom under scans/, chosen by the reference manifest's outcome, and fixture.json that
// lists them (the tests take their expectations from it, never from our own code's output).
import { createHash } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const require = createRequire(import.meta.url);

const root = resolve(import.meta.dirname, "..", "..");
export const sharedDicom = process.env.MII_SHARED_DICOM ?? resolve(root, "..", "shared", "dicom");

const fixtureFiles = {
	images: [
		"files/pydicom/MR_small.dcm",
		"files/pydicom/MR_small_implicit.dcm",
		"files/pydicom/CT_small.dcm",
		"files/pydicom/SC_rgb_small_odd.dcm",
		"files/pydicom/dicomdirtests/77654033/CT2/17106",
		"files/pydicom/dicomdirtests/77654033/CR1/6154",
		"files/pydicom-data/SC_rgb.dcm",
		"files/pydicom/liver_1frame.dcm",
		"files/pydicom-data/SC_ybr_full_uncompressed.dcm",
		"files/pydicom/MR_small_padded.dcm",
	],
	skipped: ["files/pydicom/reportsi.dcm"],
};

/**
 * Copies test/fixtures/workspace into `ws` and adds the DICOM fixtures. Returns the fixture
 * manifest, or undefined (after a loud message) when ../shared/dicom is not there.
 */
export function fillFixtureWorkspace(ws) {
	cpSync(join(root, "test", "fixtures", "workspace"), ws, { recursive: true });
	const manifestPath = join(sharedDicom, "reference", "manifest.json");
	if (!existsSync(manifestPath)) {
		console.log(`\n!!!!! ${sharedDicom} not found: the tests that need DICOM files will be SKIPPED (not passed) !!!!!\n`);
		return undefined;
	}
	const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
	const byPath = new Map(manifest.files.map((f) => [f.path, f]));
	const scans = join(ws, "scans");
	const fx = { folder: "scans", images: [], skipped: [], corrupt: [], ignored: [] };
	const place = (rel, kind) => {
		const entry = byPath.get(rel);
		if (!entry) throw new Error(`${rel} is not in the shared manifest`);
		if (kind === "images" && !entry.reference?.ok) throw new Error(`${rel}: the reference does not convert it`);
		// Flat names; the files without a suffix stay suffix-less (discovery goes by content).
		const name = rel.replace(/^files\//, "").replaceAll("/", "_");
		const target = kind === "images" && rel.includes("dicomdirtests") ? join(scans, "no-suffix", name) : join(scans, name);
		mkdirSync(dirname(target), { recursive: true });
		cpSync(join(sharedDicom, rel), target);
		fx[kind].push(relative(scans, target).split("\\").join("/"));
	};
	for (const rel of fixtureFiles.images) place(rel, "images");
	for (const rel of fixtureFiles.skipped) place(rel, "skipped");
	// A corrupt file that claims to be DICOM: must fail with a reason, never reach the endpoint.
	const corrupt = Buffer.alloc(300);
	corrupt.write("DICM", 128, "latin1");
	corrupt.write("this is not a data set", 140, "latin1");
	writeFileSync(join(scans, "broken.dcm"), corrupt);
	fx.corrupt.push("broken.dcm");
	writeFileSync(join(scans, "notes.txt"), "Scans of the test workspace; not DICOM.\n");
	fx.ignored.push("notes.txt");
	writeFileSync(join(ws, "fixture.json"), JSON.stringify(fx, null, "\t"));
	return fx;
}

// ---------------------------------------------------------------- a large results folder
/**
 * The series of the large synthetic run: the demo's series (modality, series, study description), so
 * thumbnails of a demo run can stand in for them. `weight` sets the share of the images.
 */
export const largeRunClusters = [
	{ slug: "ct-chest", modality: "CT", series: "Chest CT axial 5 mm", study: "DEMO CHEST (synthetic phantom)", weight: 5 },
	{ slug: "ct-head", modality: "CT", series: "Head CT axial", study: "DEMO HEAD (synthetic phantom)", weight: 2 },
	{ slug: "mr-t2", modality: "MR", series: "MR T2 axial", study: "DEMO BRAIN (synthetic phantom)", weight: 4 },
	{ slug: "cr-chest", modality: "CR", series: "CR chest PA", study: "DEMO CHEST (synthetic phantom)", weight: 1 },
	{ slug: "dx-chest", modality: "DX", series: "DX chest PA", study: "DEMO CHEST (synthetic phantom)", weight: 1 },
	{ slug: "us-abdomen", modality: "US", series: "US abdomen", study: "DEMO ABDOMEN (synthetic phantom)", weight: 2 },
	{ slug: "nm-palette", modality: "NM", series: "NM hot iron palette", study: "DEMO NM (synthetic phantom)", weight: 1 },
];

function gaussianVector(rand, dim, scale) {
	const v = new Float64Array(dim);
	for (let i = 0; i < dim; i += 2) {
		const r = Math.sqrt(-2 * Math.log(1 - rand())) * scale;
		const th = 2 * Math.PI * rand();
		v[i] = r * Math.cos(th);
		if (i + 1 < dim) v[i + 1] = r * Math.sin(th);
	}
	return v;
}

function unit(v) {
	let s = 0;
	for (const x of v) s += x * x;
	const n = Math.sqrt(s) || 1;
	return v.map((x) => x / n);
}

/**
 * Writes a results folder of `count` embedded images and `failures` failed/skipped files in the
 * store's own format (serializeEmbeddingRecord of the compiled store, writeRunInfo), without any
 * endpoint: `count` 1024-D vectors in clusters (one per series of largeRunClusters, with a sub-centre
 * per study, so neighbours and the map mean something), studies of 40 images, paths
 * `<series slug>/study<NNNN>/IM<NNNNN>.dcm`. Thumbnails are copied from `thumbnailsFrom` (a demo run's
 * results folder: a few per series, shared by many rows) when given. Returns what the tests check
 * against: { paths, failurePaths, cluster (per row), study (per row), vectors (unit Float64Array per row), dim }.
 */
export async function writeLargeResults(outDir, { count = 10_000, failures = 12, dim = 1024, thumbnailsFrom, seed = 20261125 } = {}) {
	const { serializeEmbeddingRecord } = require(join(root, "out", "src", "core", "results", "store.js"));
	const { writeRunInfo } = require(join(root, "out", "src", "core", "results", "runInfo.js"));
	// The project's seeded PRNG, so the large run is the same every time.
	const { seededRandom } = require(join(root, "out", "src", "core", "util", "random.js"));
	mkdirSync(join(outDir, "thumbnails"), { recursive: true });
	const rand = seededRandom(seed);
	// Thumbnails of the demo run, by series description.
	const thumbs = largeRunClusters.map(() => []);
	if (thumbnailsFrom && existsSync(join(thumbnailsFrom, "embeddings.jsonl"))) {
		for (const line of readFileSync(join(thumbnailsFrom, "embeddings.jsonl"), "utf8").split("\n")) {
			if (!line) continue;
			const r = JSON.parse(line);
			const c = largeRunClusters.findIndex((x) => x.series === r.seriesDescription);
			if (c < 0 || !r.thumbnail || thumbs[c].length >= 4 || !existsSync(join(thumbnailsFrom, r.thumbnail))) continue;
			const name = `thumbnails/${largeRunClusters[c].slug}-${thumbs[c].length}.png`;
			cpSync(join(thumbnailsFrom, r.thumbnail), join(outDir, name));
			thumbs[c].push(name);
		}
	}
	const centres = largeRunClusters.map(() => unit(gaussianVector(rand, dim, 1)));
	const totalWeight = largeRunClusters.reduce((a, c) => a + c.weight, 0);
	const paths = [];
	const cluster = [];
	const study = [];
	const vectors = [];
	const hex = (n) => createHash("sha256").update(String(n)).digest("hex");
	const uid = (...parts) => `2.25.${parts.join(".")}`;
	const fd = openSync(join(outDir, "embeddings.jsonl"), "w");
	const t0 = Date.parse("2026-11-25T08:00:00.000Z");
	let chunk = "";
	let studyNo = 0;
	let studyCentre;
	let studyCluster = -1;
	let studyLeft = 0;
	for (let i = 0; i < count; i++) {
		if (studyLeft === 0) {
			// The next study: a series picked by weight, 40 images (the last study takes the rest).
			let w = rand() * totalWeight;
			studyCluster = largeRunClusters.findIndex((c) => (w -= c.weight) < 0);
			if (studyCluster < 0) studyCluster = largeRunClusters.length - 1;
			studyNo++;
			studyLeft = 40;
			studyCentre = gaussianVector(rand, dim, 0.6 / Math.sqrt(dim));
		}
		studyLeft--;
		const c = largeRunClusters[studyCluster];
		const noise = gaussianVector(rand, dim, 0.45 / Math.sqrt(dim));
		const v = unit(centres[studyCluster].map((x, k) => x + studyCentre[k] + noise[k]));
		const p = `${c.slug}/study${String(studyNo).padStart(4, "0")}/IM${String(i + 1).padStart(5, "0")}.dcm`;
		paths.push(p);
		cluster.push(studyCluster);
		study.push(studyNo);
		vectors.push(v);
		const record = {
			path: p,
			sha256: hex(`file ${i}`),
			sopInstanceUid: uid(seed, studyNo, 1, i + 1),
			seriesInstanceUid: uid(seed, studyNo, 1),
			studyInstanceUid: uid(seed, studyNo),
			modality: c.modality,
			key: hex(`key ${i}`),
			scalingFactor: 4.5,
			seriesDescription: c.series,
			studyDescription: c.study,
			rows: 512,
			columns: 512,
			...(thumbs[studyCluster].length ? { thumbnail: thumbs[studyCluster][i % thumbs[studyCluster].length] } : {}),
			time: new Date(t0 + i * 20).toISOString(),
			embedding: v,
		};
		chunk += serializeEmbeddingRecord(record);
		if (chunk.length > 4_000_000) {
			writeSync(fd, chunk);
			chunk = "";
		}
	}
	writeSync(fd, chunk);
	closeSync(fd);
	const failurePaths = [];
	let failLines = "";
	for (let j = 0; j < failures; j++) {
		const skipped = j % 4 === 3;
		const p = skipped ? `reports/SR${String(j).padStart(3, "0")}.dcm` : `broken/file${String(j).padStart(3, "0")}.dcm`;
		failurePaths.push(p);
		const error = skipped ? "holds no image: a structured report or key object selection" : j % 2 ? "not a DICOM file (no DICM marker and no recognisable data set)" : "JPEG 2000 decoding failed: truncated code stream";
		failLines += JSON.stringify({ path: p, stage: skipped ? "skipped" : j % 2 ? "parse" : "decode", error, sha256: hex(`failure ${j}`), key: hex(`failure key ${j}`), time: new Date(t0 + count * 20 + j).toISOString() }) + "\n";
	}
	writeFileSync(join(outDir, "failures.jsonl"), failLines);
	const skippedCount = failurePaths.filter((p) => p.startsWith("reports/")).length;
	await writeRunInfo(outDir, {
		startedAt: new Date(t0).toISOString(),
		endedAt: new Date(t0 + count * 20).toISOString(),
		durationMs: count * 20,
		imagesPerSecond: 50,
		inputs: [join(dirname(outDir), "scans-10k")],
		outDir,
		retryFailedOnly: false,
		workers: 1,
		endpoint: {
			url: "http://127.0.0.1:5123/score",
			simulated: true,
			batchSize: 10,
			maxConcurrentRequests: 4,
			rateLimit: { calls: 60, periodSeconds: 60 },
			retries: 5,
			minRetryDelayMs: 1000,
			maxRetryDelayMs: 60000,
			requestTimeoutMs: 120000,
			maxPayloadBytes: 20000000,
			maxPauseMs: 120000,
		},
		convert: { pngCompressionLevel: 1, thumbnailSize: 128, maxPixels: 64_000_000 },
		config: hex("config"),
		counts: { found: count + failures, ignored: 0, embedded: count, alreadyDone: 0, failed: failures - skippedCount, skipped: skippedCount },
		cancelled: false,
	});
	return { paths, failurePaths, cluster, study, vectors, dim, thumbnails: thumbs.flat().length };
}
