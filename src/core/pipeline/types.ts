/**
 * The contract of an embedding run, shared by the CLI and the extension (PRODUCT.md §4).
 */
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings, ImageEmbedder, ClientStatus } from "../endpoint/types";
import type { Logger } from "../util/logger";

export interface RunOptions {
	/** Absolute paths of the selected folders and files. */
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
	/** Only retry the files listed in failures.jsonl with a stage other than "skipped". */
	retryFailedOnly?: boolean;
}

export interface RunDeps {
	embedder: ImageEmbedder;
	/** Absolute path of the conversion worker script (dist/convertWorker.js or out/... in tests). */
	workerScript: string;
	logger: Logger;
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
	elapsedMs: number;
	/** Why files failed (not skipped), commonest first. */
	failureReasons?: { reason: string; count: number }[];
}

/** A file found by discovery (src/core/pipeline/discover.ts). */
export interface DiscoveredFile {
	/** Absolute path. */
	absPath: string;
	/** Relative to the input it was found under (posix separators); a file input gives its base name. */
	relPath: string;
	/** The input (folder or file) it was found under. */
	root: string;
	size: number;
	mtimeMs: number;
}

/** What discovery yields: a DICOM candidate, or a file it ignored (counted in the summary). */
export type DiscoveryItem = ({ kind: "candidate" } & DiscoveredFile) | { kind: "ignored"; absPath: string };

/** What the worker pool returns for one file (src/core/pipeline/workerPool.ts). */
export interface FileConversion {
	/** sha256 (hex) of the whole file, computed in the worker while it had the bytes; absent if unreadable. */
	sha256?: string;
	size: number;
	outcome: import("../dicom/types").ConvertOutcome;
}
