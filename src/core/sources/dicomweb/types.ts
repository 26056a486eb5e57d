/**
 * The DICOMweb source's contracts that the pipeline's types name (kept free of node imports: the
 * pipeline's types are compiled with the protocol for the webview too).
 */
import type { DicomwebTarget } from "./url";

/** Produces the Authorization header value of a request, or undefined for none. */
export interface DicomwebAuth {
	readonly kind: "none" | "basic" | "bearer";
	header(signal?: AbortSignal): Promise<string | undefined>;
}

/** An instance found by enumeration: where it is, and what QIDO said of it. */
export interface InstanceRef {
	base: string;
	studyUid: string;
	seriesUid: string;
	sopInstanceUid: string;
	/** Readable and unique within a source: `<StudyUID>/<SeriesUID>/<SOPInstanceUID>`. */
	path: string;
	modality?: string;
	seriesDescription?: string;
	studyDescription?: string;
}

/** What a run needs of a DICOMweb client: enumerate a target's instances, retrieve one's bytes. */
export interface DicomwebSource {
	instances(target: DicomwebTarget, signal?: AbortSignal): AsyncIterable<InstanceRef>;
	retrieve(ref: Pick<InstanceRef, "base" | "studyUid" | "seriesUid" | "sopInstanceUid">, signal?: AbortSignal): Promise<Uint8Array>;
}
