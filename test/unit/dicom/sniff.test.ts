// looksLikeDicom: marker, name, and preamble-less data sets; everything else is not DICOM.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { looksLikeDicom } from "../../../src/core/dicom/sniff";
import { writeDicom } from "../../../src/devtools/dicomWriter";

const image = { rows: 2, columns: 2, bitsAllocated: 16 as const, pixels: [1, 2, 3, 4] };
const head = (b: Uint8Array): Uint8Array => b.subarray(0, 512);

void test("DICM at byte 128 is DICOM whatever the name", () => {
	assert.equal(looksLikeDicom(head(writeDicom(image)), "IM0001"), true);
});

void test(".dcm and .dicom names are DICOM in any case, even when the content is not", () => {
	for (const name of ["a.dcm", "B.DCM", "c.Dicom", "dir/x.DICOM"]) assert.equal(looksLikeDicom(new Uint8Array(0), name), true, name);
	assert.equal(looksLikeDicom(new Uint8Array(0), "a.dcm.txt"), false);
});

void test("data sets without preamble: file meta first, or bare explicit/implicit VR", () => {
	assert.equal(looksLikeDicom(head(writeDicom({ ...image, preamble: false })), "noext"), true, "file meta first");
	assert.equal(looksLikeDicom(head(writeDicom({ ...image, preamble: false, fileMeta: false, transferSyntax: "explicitLE" })), "noext"), true, "explicit LE");
	assert.equal(looksLikeDicom(head(writeDicom({ ...image, preamble: false, fileMeta: false, transferSyntax: "implicitLE" })), "noext"), true, "implicit LE");
});

void test("other files are not DICOM", () => {
	const text = new TextEncoder().encode("Patient notes: nothing to see here.\n".repeat(20));
	const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
	const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
	const dsStore = Uint8Array.from([0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31, 0, 0, 0x10, 0, 0, 0, 0x08, 0]);
	const zeros = new Uint8Array(512);
	for (const [name, bytes] of [["notes.txt", text], ["photo.jpg", jpeg], ["image.png", png], [".DS_Store", dsStore], ["zeros.bin", zeros], ["empty", new Uint8Array(0)], ["short", Uint8Array.from([8, 0])]] as const) {
		assert.equal(looksLikeDicom(bytes, name), false, name);
	}
});
