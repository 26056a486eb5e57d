/**
 * The contract of an embedding run, shared by the CLI and the extension (PRODUCT.md §4).
 */
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings, ImageEmbedder, ClientStatus } from "../endpoint/types";
import type { Logger } from "../util/logger";

export interface RunOptions {
	/** Absolute paths of the selected folders and files, and DICOMweb URLs (…/studies[?query], …/studies/<uid>[/series/<uid>]). */
	inputs: string[];
	/** Output folder (created if missing). */
	outDir: string;
	convert: ConvertOptions;
	/** Endpoint settings; `url` is recorded in run.json, the key never is. */
	endpoint: EndpointSettings;
	/** True when the endpoint is the built-in simulation (recorded in run.json, shown in the UI). */
	simulated: boolean;
	/** Conversion worker threads (default: availableParallelism() - 1, at least 1). */
	workers?: number;
	/** DICOMweb inputs (URLs among `inputs`): authentication and retrievals in flight at most (default 4). */
	dicomweb?: { auth?: import("../sources/dicomweb/types").DicomwebAuth; retrievalConcurrency?: number };
	/** Only retry the files listed in failures.jsonl with a stage other than "skipped". */
	retryFailedOnly?: boolean;
}

export interface RunDeps {
	embedder: ImageEmbedder;
	/** Absolute path of the conversion worker script (dist/convertWorker.js or out/... in tests). */
	workerScript: string;
	logger: Logger;
	/** The DICOMweb client for URL inputs (default: one made from RunOptions.dicomweb). */
	dicomwebClient?: import("../sources/dicomweb/types").DicomwebSource;
	/** Called with progress snapshots (throttle in the UI, not here). */
	onProgress?: (p: RunProgress) => void;
}

export interface RunProgress {
	/** Files seen by discovery so far (DICOM candidates only) and whether discovery has finished. */
	found: number;
	discoveryDone: boolean;
	/** Non-DICOM files ignored. */
	ignored: number;
	converted: number;
	embedded: number;
	/** Already embedded by an earlier run (resume), not sent again. */
	alreadyDone: number;
	failed: number;
	skipped: number;
	/** Images per second over the recent window, and estimated seconds left (undefined while unknown). */
	rate: number;
	etaSeconds?: number;
	client: ClientStatus;
	elapsedMs: number;
}

export interface RunSummary {
	outDir: string;
	found: number;
	ignored: number;
	embedded: number;
	alreadyDone: number;
	failed: number;
	skipped: number;
	cancelled: boolean;
	/** Set when the run stopped early because of a fatal endpoint error. */
	fatal?: { code: string; message: string };
	/** Why images failed in this run (skipped files not included): one entry per distinct reason, commonest first. Always set by runEmbedding. */
	failureReasons?: { reason: string; count: number }[];
	elapsedMs: number;
}

/** A file found by discovery (src/core/pipeline/discover.ts). */
export interface DiscoveredFile {
	/** Absolute path. */
	absPath: string;
	/** Relative to the input it was found under (posix separators); a file input gives its base name. Not unique across inputs: runs record recordedPath(). */
	relPath: string;
	/** The input (folder or file) it was found under. */
	root: string;
	size: number;
	mtimeMs: number;
	/** Inode number (0 when unknown): with the path, the file's identity in the resume stamp. */
	ino: number;
}

/**
 * What discovery yields: a DICOM candidate, a file it ignored (counted in the summary), or a
 * symbolic link it did not follow (recorded as skipped with the reason; its stamp is the link's own).
 */
export type DiscoveryItem = ({ kind: "candidate" } & DiscoveredFile) | ({ kind: "skipped"; reason: string } & DiscoveredFile) | { kind: "ignored"; absPath: string };

/** What the worker pool returns for one file (src/core/pipeline/workerPool.ts). */
export interface FileConversion {
	/** sha256 (hex) of the whole file, computed in the worker while it had the bytes; absent if unreadable. */
	sha256?: string;
	size: number;
	outcome: import("../dicom/types").ConvertOutcome;
}

/** One unit of work from a Source: a file on disk, or a DICOMweb instance. `path` is the recorded path. */
export type WorkItem =
	/** A local file: the pipeline stats it (size, mtime, inode) itself when it takes it. */
	| { kind: "file"; path: string; absPath: string }
	/** A DICOMweb instance, retrieved (WADO-RS) by the pipeline. */
	| { kind: "dicomweb"; path: string; ref: import("../sources/dicomweb/types").InstanceRef }
	/** Not processed, with the reason (a symbolic link not followed): recorded as skipped, stamped with the link's own stat. */
	| { kind: "skipped"; path: string; absPath: string; reason: string };

/** A file a Source looked at and ignored (not DICOM, junk): only counted. */
export interface IgnoredItem {
	kind: "ignored";
	absPath?: string;
}

/** What a Source yields. */
export type SourceItem = WorkItem | IgnoredItem;
