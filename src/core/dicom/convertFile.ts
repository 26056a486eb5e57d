/**
 * Converts one DICOM file from disk with bounded memory: a file above the size limit is refused
 * before it is read; the resume hash is computed by streaming the file; a multi-frame file is read
 * only as far as its first frame needs (firstFrameBytes.ts); the converter refuses an image whose
 * conversion would need more than the memory budget.
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import * as path from "node:path";
import type { FileConversion } from "../pipeline/types";
import { convertDicomBytes } from "./convert";
import { ConvertError } from "./convertError";
import { readFirstFrameBytes, type FirstFrameReadOptions } from "./firstFrameBytes";
import { giveBackScratch, takeScratch, type Scratch } from "../util/scratch";
import { defaultConvertOptions, type ConvertOptions } from "./types";

export interface ConvertFileLimits extends FirstFrameReadOptions {
	/** Memory one conversion may use (estimated from the header before decoding), in bytes. */
	memoryBudgetBytes?: number;
}

/** A file's conversion and how many of its bytes were read to convert it (the hash reads them all, streaming). */
export interface FileConversionRead extends FileConversion {
	bytesRead: number;
}

const MB = 1024 * 1024;
const HASH_CHUNK = 4 * MB;

function megabytes(n: number): string {
	return n >= 10 * MB ? `${Math.round(n / MB)} MB` : `${(n / MB).toFixed(1)} MB`;
}

/** sha256 (hex) of the whole file, read in chunks: never more than one chunk in memory. */
async function hashFile(handle: FileHandle): Promise<string> {
	const hash = createHash("sha256");
	const chunk = new Uint8Array(HASH_CHUNK);
	for (let position = 0; ; ) {
		const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
		if (bytesRead === 0) break;
		hash.update(chunk.subarray(0, bytesRead));
		position += bytesRead;
	}
	return hash.digest("hex");
}

/** The size limit in bytes from ConvertOptions.maxFileSizeMB (0 or less: no limit). */
export function maxFileBytes(options: ConvertOptions): number {
	const mb = options.maxFileSizeMB ?? defaultConvertOptions.maxFileSizeMB ?? 2048;
	return mb > 0 ? mb * MB : Number.POSITIVE_INFINITY;
}

/**
 * Reads, hashes and converts the file at `absPath`. Never throws: an unreadable file, one above
 * the size limit or one that fails to convert gives a failed outcome with a reason.
 */
export async function convertDicomFile(absPath: string, options: ConvertOptions = defaultConvertOptions, limits: ConvertFileLimits = {}): Promise<FileConversionRead> {
	// The thread's reusable arrays (scratch.ts) hold the file's bytes too, and are kept until the conversion is done.
	const scratch = takeScratch();
	try {
		return await convertFileWith(absPath, options, limits, scratch);
	} finally {
		giveBackScratch(scratch);
	}
}

async function convertFileWith(absPath: string, options: ConvertOptions, limits: ConvertFileLimits, scratch: Scratch | undefined): Promise<FileConversionRead> {
	let handle: FileHandle;
	let size: number;
	try {
		handle = await open(absPath, "r");
	} catch (e) {
		return { size: 0, bytesRead: 0, outcome: { kind: "failed", stage: "read", error: `Cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})` } };
	}
	try {
		size = (await handle.stat()).size;
		const limit = maxFileBytes(options);
		if (size > limit) {
			const error = `file of ${megabytes(size)} is above the ${megabytes(limit)} size limit (setting medImageInsight.maxFileSizeMB, CLI --max-file-mb); not read`;
			return { size, bytesRead: 0, outcome: { kind: "failed", stage: "read", error } };
		}
		let read;
		try {
			read = await readFirstFrameBytes(handle, size, {
				...limits,
				...(limits.memoryBudgetBytes !== undefined ? { maxWholeFileBytes: limits.memoryBudgetBytes / 2 } : {}),
				...(scratch ? { wholeFileBuffer: (n: number) => scratch.uint8("input", n) } : {}),
			});
		} catch (e) {
			if (e instanceof ConvertError) return { size, bytesRead: 0, outcome: { kind: "failed", stage: e.stage, error: e.message } };
			throw e;
		}
		// A file read whole is hashed from memory; a partly read one by streaming it.
		const sha256 = read.bytes.length === size && read.framesInFile === undefined ? createHash("sha256").update(read.bytes).digest("hex") : await hashFile(handle);
		const outcome = await convertDicomBytes(read.bytes, options, path.basename(absPath), limits.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: limits.memoryBudgetBytes } : {}, scratch);
		if (read.framesInFile !== undefined && outcome.kind === "image") {
			outcome.warnings.push(`only the first frame's bytes were read (${megabytes(read.bytesRead)} of ${megabytes(size)})`);
		}
		return { sha256, size, bytesRead: read.bytesRead, outcome };
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		return { size: 0, bytesRead: 0, outcome: { kind: "failed", stage: "read", error: `Cannot read the file (${code ?? String(e)})` } };
	} finally {
		await handle.close().catch(() => undefined);
	}
}
