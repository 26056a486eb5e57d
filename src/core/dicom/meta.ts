import type * as dicomParser from "dicom-parser";
import type { DicomMeta } from "./types";

function text(ds: dicomParser.DataSet, tag: string): string {
	try {
		return (ds.string(tag) ?? "").replace(/\0/g, "").trim();
	} catch (_) {
		return "";
	}
}

function us(ds: dicomParser.DataSet, tag: string, fallback: number): number {
	const el = ds.elements[tag];
	if (!el || el.length < 2) return fallback;
	try {
		return ds.uint16(tag) ?? fallback;
	} catch (_) {
		return fallback;
	}
}

/** Reads the header fields the product keeps. Missing fields become "" or 0. */
export function readMeta(ds: dicomParser.DataSet, transferSyntaxUid: string): DicomMeta {
	const frames = Number.parseInt(text(ds, "x00280008"), 10);
	return {
		sopInstanceUid: text(ds, "x00080018") || text(ds, "x00020003"),
		seriesInstanceUid: text(ds, "x0020000e"),
		studyInstanceUid: text(ds, "x0020000d"),
		sopClassUid: text(ds, "x00080016") || text(ds, "x00020002"),
		modality: text(ds, "x00080060"),
		transferSyntaxUid,
		photometricInterpretation: text(ds, "x00280004"),
		rows: us(ds, "x00280010", 0),
		columns: us(ds, "x00280011", 0),
		numberOfFrames: Number.isFinite(frames) && frames > 0 ? frames : 1,
		bitsAllocated: us(ds, "x00280100", 0),
		bitsStored: us(ds, "x00280101", 0),
		seriesDescription: text(ds, "x0008103e"),
		studyDescription: text(ds, "x00081030"),
		bodyPartExamined: text(ds, "x00180015"),
		seriesNumber: text(ds, "x00200011"),
		instanceNumber: text(ds, "x00200013"),
	};
}
