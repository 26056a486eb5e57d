// The study search of the DICOMweb Servers view: typed dates and ranges to QIDO-RS form, criteria to parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { qidoDate, searchParams } from "../../../src/extension/ui/dicomwebQuery";

void test("a typed study date or range becomes the QIDO-RS form", () => {
	assert.equal(qidoDate(""), "");
	assert.equal(qidoDate("  "), "");
	assert.equal(qidoDate("2024-01-31"), "20240131");
	assert.equal(qidoDate("20240131"), "20240131");
	assert.equal(qidoDate("2024-01-01 - 2024-01-31"), "20240101-20240131");
	assert.equal(qidoDate("20240101-20240131"), "20240101-20240131");
	assert.equal(qidoDate("2024-01-01..2024-01-31"), "20240101-20240131");
	assert.equal(qidoDate("2024-01-01 to 2024-01-31"), "20240101-20240131");
	assert.equal(qidoDate("2024-01-01 -"), "20240101-", "from a day on");
	assert.equal(qidoDate("- 2024-01-31"), "-20240131", "until a day");
});

void test("impossible dates, reversed ranges and other text are refused", () => {
	for (const bad of ["2024-02-30", "2023-13-01", "2024-1-5", "yesterday", "-", "2024-01-31 - 2024-01-01", "2024-01-01 - 2024-02-31", "CT"]) {
		assert.equal(qidoDate(bad), undefined, bad);
	}
	assert.equal(qidoDate("2024-02-29"), "20240229", "a leap day");
});

void test("criteria become QIDO-RS match parameters; empty ones are left out; the modality is upper case", () => {
	assert.deepEqual(searchParams({}), []);
	assert.deepEqual(searchParams({ patientId: " 123 ", patientName: "DOE^J*", studyDate: "20240101-20240131", modality: "ct", accessionNumber: "A7", }), [
		["PatientID", "123"],
		["PatientName", "DOE^J*"],
		["StudyDate", "20240101-20240131"],
		["ModalitiesInStudy", "CT"],
		["AccessionNumber", "A7"],
	]);
	assert.deepEqual(searchParams({ patientId: "", modality: "  " }), []);
});
