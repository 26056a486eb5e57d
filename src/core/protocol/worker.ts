/**
 * Messages between the conversion worker pool (src/core/pipeline/workerPool.ts) and a worker
 * (src/workers/convertWorker.ts). A discriminated union on `type`; every request carries an id the
 * reply echoes. PNG buffers travel in the transfer list, never copied.
 */
import type { ConvertOptions } from "../dicom/types";
import type { FileConversion } from "../pipeline/types";

/** What the pool gives a worker when it starts it (`workerData`). */
export interface ConvertWorkerData {
	/** Memory one conversion may use (MB); a larger image fails with a reason before it is decoded. */
	memoryBudgetMb: number;
}

/** Narrows `workerData` to ConvertWorkerData. */
export function isConvertWorkerData(value: unknown): value is ConvertWorkerData {
	return typeof value === "object" && value !== null && typeof (value as { memoryBudgetMb?: unknown }).memoryBudgetMb === "number";
}

/** Pool → worker: convert the file at `absPath`. */
export interface ConvertFileRequest {
	type: "convertFile";
	id: number;
	absPath: string;
	options: ConvertOptions;
}

/**
 * Pool → worker: convert bytes that are not a local file (a DICOMweb instance). `bytes` travels in
 * the transfer list; `name` names it in messages.
 */
export interface ConvertBytesRequest {
	type: "convertBytes";
	id: number;
	bytes: Uint8Array;
	name: string;
	options: ConvertOptions;
}

export type ToWorker = ConvertFileRequest | ConvertBytesRequest;

/** Worker → pool: the conversion of request `id` (whatever its outcome). */
export interface ConvertFileResult {
	type: "result";
	id: number;
	result: FileConversion;
}

/** Worker → pool: request `id` threw outside the converter (a bug or an unexpected failure). */
export interface ConvertFileError {
	type: "error";
	id: number;
	error: string;
}

export type FromWorker = ConvertFileResult | ConvertFileError;

/** Narrows an untrusted value received from a worker to a FromWorker message. */
export function isFromWorker(value: unknown): value is FromWorker {
	if (typeof value !== "object" || value === null) return false;
	const v = value as { type?: unknown; id?: unknown };
	return (v.type === "result" || v.type === "error") && typeof v.id === "number";
}
