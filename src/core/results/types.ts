/** Records of the results store (PRODUCT.md §4). One JSON object per line. */

/** embeddings.jsonl */
export interface EmbeddingRecord {
	/** Relative to the common folder of the selected inputs (posix separators; see pipeline/recordedPath.ts): unique per file. */
	path: string;
	sha256: string;
	sopInstanceUid: string;
	seriesInstanceUid: string;
	studyInstanceUid: string;
	modality: string;
	/** Always the last field of a line as written by the store (loading reads the fields before it only). */
	embedding: number[];
	/** Extra fields (allowed by the format, used by resume and the results view). */
	scalingFactor?: number;
	/** Resume key: sha256 of (file sha256, conversion settings, endpoint). */
	key: string;
	seriesDescription?: string;
	studyDescription?: string;
	rows?: number;
	columns?: number;
	/** Thumbnail file name relative to the output folder, when saved. */
	thumbnail?: string;
	/** "min-max" when the 10th and 90th percentiles were equal on a non-constant image and the picture was windowed over its min–max range. */
	window?: "min-max";
	time: string;
	/** File size and modification time when it was read (resume skips unchanged files without reading them). */
	size?: number;
	mtimeMs?: number;
	/** Identity of the file read (sourceId: hash of its absolute path and inode); resume skips a file unread only when it matches too. */
	source?: string;
	/** The DICOMweb service the instance was retrieved from (no credentials); absent for files. */
	sourceUrl?: string;
	/** Id of the settings that produced it: sha256 of (conversion settings that change pixels, endpoint, format version). */
	config?: string;
}

/** failures.jsonl */
export interface FailureRecord {
	path: string;
	/** read | retrieve (DICOMweb) | parse | decode | window | encode | skipped | embed */
	stage: string;
	error: string;
	sha256?: string;
	key?: string;
	time: string;
	/** As in EmbeddingRecord. A "skipped" record with the same path, size, mtime and config is not read again. */
	size?: number;
	mtimeMs?: number;
	source?: string;
	sourceUrl?: string;
	config?: string;
}

/** File names inside the output folder. */
export const resultFiles = Object.freeze({
	embeddings: "embeddings.jsonl",
	failures: "failures.jsonl",
	npy: "embeddings.npy",
	index: "index.csv",
	run: "run.json",
	thumbnails: "thumbnails",
	lock: ".run.lock",
});
