/**
 * What a distributed run keeps in Redis and puts in its jobs (PRODUCT.md §8). Plain JSON: settings,
 * paths and DICOMweb references — never an API key, a token, a password or a credential in a URL
 * (submit refuses URLs that carry one; each worker takes its credentials from its own environment).
 */
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings } from "../endpoint/types";
import type { InstanceRef } from "../sources/dicomweb/types";

/**
 * One image of a job. A file carries the stamp submit saw (size, mtime, inode) so that a worker can
 * tell an item already done elsewhere without reading it; a DICOMweb instance carries its reference,
 * so the worker needs no shared file system for it (issue 11 item 5).
 */
export type QueueItem =
	| { kind: "file"; path: string; absPath: string; size: number; mtimeMs: number; ino: number }
	| { kind: "dicomweb"; path: string; ref: InstanceRef }
	| { kind: "skipped"; path: string; absPath: string; reason: string };

/** The data of an item job. */
export interface ItemJobData {
	runId: string;
	/** The submission that queued it (counters count each job once per submission). */
	generation: number;
	items: QueueItem[];
}

/** The data of a merge job. */
export interface MergeJobData {
	runId: string;
	generation: number;
	merge: true;
}

export type RunJobData = ItemJobData | MergeJobData;

/** How the DICOMweb inputs authenticate: each worker reads the credentials of that kind from its own environment. */
export type DicomwebAuthMode = "none" | "basic" | "bearer" | "entra";

/** A run's settings, as submit stores them in Redis. */
export interface QueueRunMeta {
	runId: string;
	/** redis://HOST:PORT[/DB] without credentials. */
	queue: string;
	createdAt: string;
	/** Absolute output folder: every worker must see it at this path (a shared folder). */
	outDir: string;
	/** Absolute paths (as seen by submit) and DICOMweb URLs (no credentials). */
	inputs: string[];
	/** The endpoint's settings; its URL carries no credential (submit refuses one that does). */
	endpoint: EndpointSettings;
	simulated: boolean;
	/** How workers authenticate to the endpoint: "key" = their own MEDIMAGEINSIGHT_API_KEY. */
	auth: "key" | "entra";
	convert: ConvertOptions;
	dicomweb?: { auth: DicomwebAuthMode; retrievalConcurrency: number };
	/** Items per job. */
	jobSize: number;
	/** ResumeKeys.config of these settings. */
	config: string;
}

/** What an item job returns (and what the run's counters add up). */
export interface JobCounts {
	items: number;
	embedded: number;
	alreadyDone: number;
	failed: number;
	skipped: number;
}

/** A worker's fatal error (a refused key, …) recorded for `submit --wait` and `status`. */
export interface RunFatal {
	code: string;
	message: string;
	worker: string;
	time: string;
}

/** What the last merge of a run found (written by the worker that merged). */
export interface RunMergeSummary {
	generation: number;
	embedded: number;
	failed: number;
	skipped: number;
	duplicates: number;
	parts: { id: string; embedded: number; failed: number; skipped: number }[];
	rows: number;
	dim: number;
	time: string;
	/** Failed images by reason (from failures.jsonl), commonest first, at most 10. */
	failureReasons: { reason: string; count: number }[];
}
