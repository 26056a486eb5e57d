import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeTarget, isDicomwebInput, isLoopbackHost, parseDicomwebUrl } from "../../../../src/core/sources/dicomweb/url";

const study = "1.2.840.113619.2.55.3.604688119.969.1268071029.320";
const series = "1.2.840.113619.2.55.3.604688119.969.1268071029.321";

void describe("DICOMweb input URLs", () => {
	void it("tells URLs from paths", () => {
		assert.equal(isDicomwebInput("https://pacs.example.org/dicom-web/studies"), true);
		assert.equal(isDicomwebInput("  http://127.0.0.1:8042/dicom-web/studies"), true);
		assert.equal(isDicomwebInput("/data/https/studies"), false);
		assert.equal(isDicomwebInput("C:\\data\\studies"), false);
	});

	void it("reads every study, a query, a study, a series and an instance, with the service root kept apart", () => {
		assert.deepEqual(parseDicomwebUrl("https://pacs.example.org/dicom-web/studies"), { base: "https://pacs.example.org/dicom-web", level: "studies", query: [] });
		const q = parseDicomwebUrl("https://pacs.example.org/dicom-web/studies?ModalitiesInStudy=CT&StudyDate=20240101-20240131&limit=5&offset=10");
		assert.equal(q.level, "studies");
		assert.deepEqual(q.query, [
			["ModalitiesInStudy", "CT"],
			["StudyDate", "20240101-20240131"],
		]);
		assert.equal(q.maxStudies, 5);
		assert.equal(q.firstStudy, 10);
		const s = parseDicomwebUrl(`https://x.dicom.azurehealthcareapis.com/v2/studies/${study}/`);
		assert.deepEqual([s.base, s.level, s.studyUid], ["https://x.dicom.azurehealthcareapis.com/v2", "study", study]);
		const se = parseDicomwebUrl(`https://healthcare.example.com/v1/projects/p/locations/l/datasets/d/dicomStores/studies/dicomWeb/studies/${study}/series/${series}`);
		assert.equal(se.base, "https://healthcare.example.com/v1/projects/p/locations/l/datasets/d/dicomStores/studies/dicomWeb", "a base holding the word 'studies' stays whole");
		assert.deepEqual([se.level, se.studyUid, se.seriesUid], ["series", study, series]);
		const i = parseDicomwebUrl(`http://localhost:8042/dicom-web/studies/${study}/series/${series}/instances/1.2.3`);
		assert.deepEqual([i.level, i.sopInstanceUid], ["instance", "1.2.3"]);
	});

	void it("refuses credentials in the URL, plain http to another machine, bad UIDs and other paths, each with a reason", () => {
		assert.throws(() => parseDicomwebUrl("https://user:secret@pacs.example.org/dicom-web/studies"), /user name or password/);
		assert.throws(() => parseDicomwebUrl("http://pacs.example.org/dicom-web/studies"), /only allowed for this machine/);
		assert.throws(() => parseDicomwebUrl("https://pacs.example.org/dicom-web/studies/abc"), /Not a valid Study Instance UID/);
		assert.throws(() => parseDicomwebUrl("https://pacs.example.org/dicom-web/series/1.2"), /Not a DICOMweb study/);
		assert.throws(() => parseDicomwebUrl(`https://pacs.example.org/dicom-web/studies/${study}?x=1`), /only understood on a study query/);
		assert.throws(() => parseDicomwebUrl("https://pacs.example.org/dicom-web/studies?limit=ten"), /whole number/);
		assert.throws(() => parseDicomwebUrl("ftp://pacs.example.org/dicom-web/studies"), /starts with https/);
	});

	void it("loopback is 127.0.0.0/8, ::1 and localhost only", () => {
		for (const h of ["127.0.0.1", "127.9.8.7", "localhost", "[::1]", "::1"]) assert.equal(isLoopbackHost(h), true, h);
		for (const h of ["10.0.0.1", "192.168.1.2", "localhost.example.org", "128.0.0.1", "0.0.0.0"]) assert.equal(isLoopbackHost(h), false, h);
	});

	void it("describes a target as it was written, without credentials", () => {
		const url = `https://pacs.example.org/dicom-web/studies/${study}/series/${series}`;
		assert.equal(describeTarget(parseDicomwebUrl(url)), url);
		assert.equal(describeTarget(parseDicomwebUrl("https://p.org/dw/studies?ModalitiesInStudy=MR&limit=3")), "https://p.org/dw/studies?ModalitiesInStudy=MR&limit=3");
	});
});
