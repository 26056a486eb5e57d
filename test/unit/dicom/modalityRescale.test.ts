// The modality rescale as the reference applies it (GDCM through ITK's GDCMImageIO, which forces
// Rescale Intercept/Slope for every SOP class): for enhanced multi-frame classes (Enhanced CT/MR/PET,
// Legacy Converted, X-Ray 3D, breast tomosynthesis, segmentation) from the Pixel Value Transformation
// Sequence of the shared functional groups, else of frame 1's per-frame functional groups, else the
// top-level attributes; a top-level slope of 0 counts as 1. Each case is a file the test writes; the
// oracle is the same pixels written as a classic CT with the same top-level rescale (the path checked
// against the reference on ../shared/dicom), and a slope of -1 makes a missed rescale visible (the
// picture comes out un-inverted).
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PNG } from "pngjs";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom, type DicomWriteSpec, type NestedElement } from "../../../src/devtools/dicomWriter";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1";
const ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1";
const LEGACY_ENHANCED_PET = "1.2.840.10008.5.1.4.1.1.128.1";
const XA_3D = "1.2.840.10008.5.1.4.1.1.13.1.1";

const rows = 24;
const columns = 32;
/** A gradient with structure: its 10/90 window is wide, so an inverted picture differs everywhere but the middle. */
const pixels = Array.from({ length: rows * columns }, (_, i) => 200 + ((i % columns) * 37 + Math.floor(i / columns) * 11) % 900);

function base(extra: Partial<DicomWriteSpec>): DicomWriteSpec {
	return { rows, columns, bitsAllocated: 16, bitsStored: 12, pixels, modality: "CT", ...extra };
}

/** A functional groups item holding a Pixel Value Transformation Sequence with this intercept and slope. */
function pvtItem(intercept: string, slope: string): NestedElement[] {
	return [[0x00289145, "SQ", [[[0x00281052, "DS", intercept], [0x00281053, "DS", slope], [0x00281054, "LO", "US"]]]]];
}

async function gray(spec: DicomWriteSpec): Promise<Uint8Array> {
	const out = await convertDicomBytes(writeDicom(spec), defaultConvertOptions);
	assert.equal(out.kind, "image", JSON.stringify(out));
	if (out.kind !== "image") throw new Error("not an image");
	const png = PNG.sync.read(Buffer.from(out.png));
	return Uint8Array.from({ length: rows * columns }, (_, i) => png.data[4 * i] as number);
}

void describe("modality rescale of enhanced multi-frame files (functional groups), as the reference", () => {
	void it("Enhanced CT: the shared functional groups' slope -1 / intercept 100 is applied, as a classic CT's top-level rescale is", async () => {
		const classic = await gray(base({ sopClassUid: CT, rescaleSlope: -1, rescaleIntercept: 100 }));
		const plain = await gray(base({ sopClassUid: CT }));
		assert.notDeepEqual(classic, plain, "the slope of -1 changes the picture");
		// Reversed values: the darkest pixel of one is the brightest of the other.
		assert.ok(classic[0]! > plain[0]!, `pixel 0: ${classic[0]} vs ${plain[0]}`);
		const enhanced = await gray(base({ sopClassUid: ENHANCED_CT, sequences: [[0x52009229, [pvtItem("100", "-1")]]] }));
		assert.deepEqual(enhanced, classic);
	});

	void it("Enhanced MR without shared groups: frame 1's per-frame groups are used (not frame 2's)", async () => {
		const classic = await gray(base({ sopClassUid: CT, rescaleSlope: -1, rescaleIntercept: 0 }));
		const enhanced = await gray(base({ sopClassUid: ENHANCED_MR, modality: "MR", sequences: [[0x52009230, [pvtItem("0", "-1"), pvtItem("0", "1")]]] }));
		assert.deepEqual(enhanced, classic);
	});

	void it("the functional groups win over top-level attributes; without them the top-level ones are used", async () => {
		const classic = await gray(base({ sopClassUid: CT, rescaleSlope: -1, rescaleIntercept: 7 }));
		const both = await gray(base({ sopClassUid: LEGACY_ENHANCED_PET, modality: "PT", rescaleSlope: 1, rescaleIntercept: 0, sequences: [[0x52009229, [pvtItem("7", "-1")]]] }));
		assert.deepEqual(both, classic, "functional groups over the top level");
		const topOnly = await gray(base({ sopClassUid: ENHANCED_CT, rescaleSlope: -1, rescaleIntercept: 7 }));
		assert.deepEqual(topOnly, classic, "top level when the groups hold no rescale");
		// A Pixel Value Transformation item with only one of the two values does not count.
		const half = await gray(base({ sopClassUid: ENHANCED_CT, rescaleSlope: -1, rescaleIntercept: 7, sequences: [[0x52009229, [[[0x00289145, "SQ", [[[0x00281053, "DS", "3"]]]]]]]] }));
		assert.deepEqual(half, classic);
	});

	void it("X-Ray 3D Angiographic without functional-group rescale: the first X-Ray 3D Reconstruction item's", async () => {
		const classic = await gray(base({ sopClassUid: CT, rescaleSlope: -1, rescaleIntercept: 0 }));
		const xa = await gray(base({ sopClassUid: XA_3D, modality: "XA", sequences: [[0x00189530, [[[0x00281052, "DS", "0"], [0x00281053, "DS", "-1"]]]]] }));
		assert.deepEqual(xa, classic);
	});

	void it("a classic CT ignores functional groups, and a top-level slope of 0 counts as 1 (a picture, not black)", async () => {
		const plain = await gray(base({ sopClassUid: CT }));
		const withGroups = await gray(base({ sopClassUid: CT, sequences: [[0x52009229, [pvtItem("0", "-1")]]] }));
		assert.deepEqual(withGroups, plain);
		const zeroSlope = await gray(base({ sopClassUid: CT, rescaleSlope: 0, rescaleIntercept: 0 }));
		assert.deepEqual(zeroSlope, plain);
		assert.ok(new Set(zeroSlope).size > 10, "not a constant picture");
	});
});
