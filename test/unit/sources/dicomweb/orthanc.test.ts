// The DICOMweb client against a real Orthanc with its DICOMweb plugin (Debian), started on a free
// loopback port by the test: QIDO-RS enumeration with paging, study queries, WADO-RS retrieval of the
// stored bytes, basic authentication.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { basicAuth, DicomwebClient, DicomwebError, type InstanceRef } from "../../../../src/core/sources/dicomweb/client";
import { parseDicomwebUrl } from "../../../../src/core/sources/dicomweb/url";
import { writeDicom, writeDicomAsync, type DicomWriteSpec } from "../../../../src/devtools/dicomWriter";
import { startOrthanc, type OrthancServer } from "../../helpers/orthanc";

const root = "1.2.826.0.1.3680043.8.498.77";
interface Written {
	bytes: Uint8Array;
	study: string;
	series: string;
	sop: string;
	modality: string;
}

/** Two studies: CT with two series of three slices (one series JPEG-LS), MR with one series of two. */
async function corpus(): Promise<Written[]> {
	const out: Written[] = [];
	const layout = [
		{ study: `${root}.1`, modality: "CT", series: [`${root}.1.1`, `${root}.1.2`], perSeries: 3 },
		{ study: `${root}.2`, modality: "MR", series: [`${root}.2.1`], perSeries: 2 },
	];
	let n = 0;
	for (const st of layout) {
		for (const [si, series] of st.series.entries()) {
			for (let i = 0; i < st.perSeries; i++) {
				n++;
				const pixels = new Int16Array(32 * 32).map((_, p) => ((p * (n + 3)) % 2000) - 1000);
				const spec: DicomWriteSpec = {
					rows: 32,
					columns: 32,
					bitsAllocated: 16,
					pixelRepresentation: 1,
					pixels,
					modality: st.modality,
					studyInstanceUid: st.study,
					seriesInstanceUid: series,
					sopInstanceUid: `${series}.${i + 1}`,
					seriesDescription: `${st.modality} series ${si + 1}`,
					studyDescription: `${st.modality} study`,
					patientId: `P${st.modality}`,
					patientName: "Test^Patient",
					instanceNumber: i + 1,
				};
				const bytes = si === 1 ? await writeDicomAsync({ ...spec, transferSyntax: "jpegLs" }) : writeDicom({ ...spec, transferSyntax: "explicitLE" });
				out.push({ bytes, study: st.study, series, sop: `${series}.${i + 1}`, modality: st.modality });
			}
		}
	}
	return out;
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
	const out: T[] = [];
	for await (const x of it) out.push(x);
	return out;
}
const sops = (refs: InstanceRef[]) => refs.map((r) => r.sopInstanceUid).sort();

void describe("DICOMweb against a real Orthanc", () => {
	let orthanc: OrthancServer | undefined;
	let files: Written[] = [];

	before(async () => {
		orthanc = await startOrthanc();
		if (!orthanc) return;
		files = await corpus();
		for (const f of files) await orthanc.upload(f.bytes);
	});
	after(async () => {
		await orthanc?.stop();
	});

	void it("enumerates every instance of every study, also one result per page, and retrieves each one's stored bytes", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		for (const pageSize of [500, 1]) {
			const client = new DicomwebClient({ pageSize });
			const found: InstanceRef[] = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies`)));
			assert.deepEqual(sops(found), files.map((f) => f.sop).sort(), `page size ${pageSize}`);
			for (const r of found) {
				const f = files.find((x) => x.sop === r.sopInstanceUid)!;
				assert.deepEqual([r.studyUid, r.seriesUid, r.modality, r.path], [f.study, f.series, f.modality, `${f.study}/${f.series}/${f.sop}`]);
				assert.match(r.seriesDescription ?? "", new RegExp(`^${f.modality} series`));
			}
		}
		const client = new DicomwebClient({ retrievalConcurrency: 2 });
		const refs = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies`)));
		const got = await Promise.all(refs.map((r) => client.retrieve(r)));
		refs.forEach((r, i) => {
			const f = files.find((x) => x.sop === r.sopInstanceUid)!;
			assert.ok(Buffer.from(got[i]!).equals(Buffer.from(f.bytes)), `stored bytes of ${r.sopInstanceUid} (JPEG-LS kept as JPEG-LS)`);
		});
	});

	void it("a study query, a study and a series give exactly their instances", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const client = new DicomwebClient({ pageSize: 2 });
		const mr = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies?ModalitiesInStudy=MR`)));
		assert.deepEqual(sops(mr), files.filter((f) => f.modality === "MR").map((f) => f.sop).sort());
		const ct = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies/${root}.1`)));
		assert.equal(ct.length, 6);
		const series = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies/${root}.1/series/${root}.1.2`)));
		assert.deepEqual(sops(series), [`${root}.1.2.1`, `${root}.1.2.2`, `${root}.1.2.3`]);
		const none = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies?ModalitiesInStudy=US`)));
		assert.equal(none.length, 0);
		const limited = await all(client.instances(parseDicomwebUrl(`${orthanc.dicomweb}/studies?limit=1`)));
		assert.ok(limited.length === 6 || limited.length === 2, `one study's instances (${limited.length})`);
	});

	void it("an instance that is not there fails with a reason", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const client = new DicomwebClient();
		await assert.rejects(client.retrieve({ base: orthanc.dicomweb, studyUid: `${root}.1`, seriesUid: `${root}.1.1`, sopInstanceUid: `${root}.9.9` }), (e: unknown) => e instanceof DicomwebError && e.code === "not-found");
	});
});

void describe("DICOMweb against a real Orthanc with basic authentication", () => {
	let orthanc: OrthancServer | undefined;
	before(async () => {
		orthanc = await startOrthanc({ users: { alice: "s3cret-pw" } });
		if (orthanc) await orthanc.upload(writeDicom({ rows: 8, columns: 8, bitsAllocated: 8, pixels: new Uint8Array(64).fill(7), modality: "CR", studyInstanceUid: `${root}.5`, seriesInstanceUid: `${root}.5.1`, sopInstanceUid: `${root}.5.1.1` }));
	});
	after(async () => {
		await orthanc?.stop();
	});

	void it("the right password gets the instances; a wrong one stops at once with a reason; none is refused too", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const target = parseDicomwebUrl(`${orthanc.dicomweb}/studies/${root}.5`);
		const ok = await all(new DicomwebClient({ auth: basicAuth("alice", "s3cret-pw") }).instances(target));
		assert.deepEqual(sops(ok), [`${root}.5.1.1`]);
		for (const client of [new DicomwebClient({ auth: basicAuth("alice", "nope") }), new DicomwebClient()]) {
			await assert.rejects(all(client.instances(target)), (e: unknown) => e instanceof DicomwebError && e.code === "unauthorized" && e.fatal);
		}
	});
});
