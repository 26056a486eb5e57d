// Embedding runs whose inputs are DICOMweb URLs: a real Orthanc (DICOMweb plugin) behind a loopback
// proxy that counts WADO-RS retrievals and can refuse one instance, the simulated endpoint, real
// worker threads. Records carry the UIDs, a readable path and the source; a re-run retrieves nothing;
// an instance the server would not give fails with a reason and the next run completes it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { runEmbedding } from "../../../../src/core/pipeline/run";
import type { RunOptions } from "../../../../src/core/pipeline/types";
import { defaultConvertOptions } from "../../../../src/core/dicom/types";
import { writeDicom } from "../../../../src/devtools/dicomWriter";
import { startSimulator, type SimulatorHandle } from "../../../../src/core/simulator/server";
import { startOrthanc, type OrthancServer } from "../../helpers/orthanc";
import { captureLogger, clientFor, endpointFor, readEmbeddings, readFailures, workerScript } from "../../pipeline/runHelpers";

const root = "1.2.826.0.1.3680043.8.498.91";
const key = "dicomweb-run-test-key";

interface Proxy {
	base: string;
	retrievals: string[];
	/** SOP Instance UIDs the proxy answers 503 for. */
	refuse: Set<string>;
	close(): Promise<void>;
}

/** A loopback proxy in front of Orthanc: counts instance retrievals, refuses the ones asked. */
async function proxy(target: string): Promise<Proxy> {
	const retrievals: string[] = [];
	const refuse = new Set<string>();
	const server = http.createServer((req, res) => {
		const url = req.url ?? "/";
		const m = /\/instances\/([0-9.]+)$/.exec(url.split("?")[0]!);
		if (m) {
			retrievals.push(m[1]!);
			if (refuse.has(m[1]!)) return void res.writeHead(503, { "retry-after": "0" }).end("busy");
		}
		const headers: Record<string, string> = {};
		if (req.headers.accept) headers["accept"] = req.headers.accept;
		fetch(`${target}${url}`, { headers })
			.then(async (r) => {
				const out: Record<string, string> = {};
				r.headers.forEach((v, k) => {
					if (k === "content-type") out[k] = v; // not content-length: fetch has already decoded any content-encoding
				});
				res.writeHead(r.status, out);
				res.end(Buffer.from(await r.arrayBuffer()));
			})
			.catch(() => res.writeHead(502).end());
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`,
		retrievals,
		refuse,
		close: () =>
			new Promise((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}

/** Two CT slices and an MR slice in two studies, plus a structured report (no image). */
function corpus(): { name: string; bytes: Uint8Array; sop: string; series: string; study: string }[] {
	const img = (study: string, series: string, sop: string, modality: string, seed: number) => {
		const pixels = new Int16Array(48 * 48).map((_, i) => ((i * seed) % 1500) - 500 + (i % 48) * seed);
		return { name: `${sop}.dcm`, sop, series, study, bytes: writeDicom({ rows: 48, columns: 48, bitsAllocated: 16, pixelRepresentation: 1, pixels, modality, studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop, seriesDescription: `${modality} axial` }) };
	};
	const sr = {
		name: "report.dcm",
		sop: `${root}.2.1.9`,
		series: `${root}.2.1`,
		study: `${root}.2`,
		bytes: writeDicom({ rows: 0, columns: 0, bitsAllocated: 8, sopClassUid: "1.2.840.10008.5.1.4.1.1.88.11", modality: "SR", studyInstanceUid: `${root}.2`, seriesInstanceUid: `${root}.2.1`, sopInstanceUid: `${root}.2.1.9` }),
	};
	return [img(`${root}.1`, `${root}.1.1`, `${root}.1.1.1`, "CT", 3), img(`${root}.1`, `${root}.1.1`, `${root}.1.1.2`, "CT", 5), img(`${root}.2`, `${root}.2.2`, `${root}.2.2.1`, "MR", 7), sr];
}

void describe("embedding runs from DICOMweb (real Orthanc)", () => {
	let orthanc: OrthancServer | undefined;
	let sim: SimulatorHandle;
	let px: Proxy;
	const files = corpus();
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-dicomweb-run-"));

	before(async () => {
		orthanc = await startOrthanc();
		sim = await startSimulator({ key });
		if (!orthanc) return;
		for (const f of files) await orthanc.upload(f.bytes);
		px = await proxy(orthanc.url);
	});
	after(async () => {
		await px?.close();
		await orthanc?.stop();
		await sim.close();
		fs.rmSync(tmp, { recursive: true, force: true });
	});

	const run = (inputs: string[], outDir: string, over: Partial<RunOptions> = {}) => {
		const logger = captureLogger();
		const endpoint = endpointFor(sim.url);
		return runEmbedding(
			{ inputs, outDir, convert: { ...defaultConvertOptions, thumbnailSize: 32 }, endpoint, simulated: true, workers: 1, dicomweb: { retrievalConcurrency: 2 }, ...over },
			{ embedder: clientFor(endpoint, key, logger), workerScript, logger },
			new AbortController().signal,
		);
	};

	void it("embeds every instance of a study query with UIDs, path and source; the vectors equal those of the same files on disk; a re-run retrieves nothing", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const out = path.join(tmp, "all");
		const first = await run([`${px.base}/studies`], out);
		assert.equal(first.fatal, undefined);
		assert.deepEqual([first.found, first.embedded, first.failed, first.skipped], [4, 3, 0, 1]);
		const records = readEmbeddings(out);
		assert.equal(records.length, 3);
		for (const r of records) {
			const f = files.find((x) => x.sop === r.sopInstanceUid)!;
			assert.equal(r.path, `${f.study}/${f.series}/${f.sop}`);
			assert.deepEqual([r.studyInstanceUid, r.seriesInstanceUid], [f.study, f.series]);
			assert.equal(r.sourceUrl, px.base);
			assert.equal(r.sha256, createHash("sha256").update(f.bytes).digest("hex"), "the sha256 of the bytes retrieved is that of the stored file");
		}
		const skipped = readFailures(out).filter((x) => x.stage === "skipped");
		assert.deepEqual(skipped.map((x) => x.path), [`${root}.2/${root}.2.1/${root}.2.1.9`]);
		assert.equal(px.retrievals.length, 4);

		// The same files from a folder on disk give the same vectors (the simulator's are content-derived).
		const dir = path.join(tmp, "files");
		fs.mkdirSync(dir);
		for (const f of files) fs.writeFileSync(path.join(dir, f.name), f.bytes);
		const local = await run([dir], path.join(tmp, "local"));
		assert.equal(local.embedded, 3);
		const bySop = new Map(readEmbeddings(path.join(tmp, "local")).map((r) => [r.sopInstanceUid, r.embedding]));
		for (const r of records) assert.deepEqual(r.embedding, bySop.get(r.sopInstanceUid));

		const again = await run([`${px.base}/studies`], out);
		assert.deepEqual([again.found, again.embedded, again.alreadyDone, again.skipped, again.failed], [4, 0, 3, 1, 0]);
		assert.equal(px.retrievals.length, 4, "nothing retrieved again");
		const runJson = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { inputs: string[] };
		assert.deepEqual(runJson.inputs, [`${px.base}/studies`]);
	});

	void it("an instance the server will not give fails with a reason; the next run retrieves and embeds only that one", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const out = path.join(tmp, "series");
		const series = `${px.base}/studies/${root}.1/series/${root}.1.1`;
		px.refuse.add(`${root}.1.1.2`);
		const before = px.retrievals.length;
		const first = await run([series], out);
		assert.deepEqual([first.found, first.embedded, first.failed], [2, 1, 1]);
		const failure = readFailures(out).find((x) => x.stage === "retrieve");
		assert.ok(failure, "a retrieve failure is recorded");
		assert.equal(failure.path, `${root}.1/${root}.1.1/${root}.1.1.2`);
		assert.match(failure.error, /HTTP 503/);
		px.refuse.clear();
		const mark = px.retrievals.length;
		assert.ok(mark - before >= 3, "the refused instance was retried");
		const second = await run([series], out);
		assert.deepEqual([second.found, second.embedded, second.alreadyDone, second.failed], [2, 1, 1, 0]);
		assert.deepEqual(px.retrievals.slice(mark), [`${root}.1.1.2`]);
	});

	void it("bad URLs are refused before anything starts, with the reason", async () => {
		await assert.rejects(run(["https://user:pw@pacs.example.org/dicom-web/studies"], path.join(tmp, "bad")), /user name or password/);
		await assert.rejects(run(["http://pacs.example.org/dicom-web/studies"], path.join(tmp, "bad")), /only allowed for this machine/);
	});
});
