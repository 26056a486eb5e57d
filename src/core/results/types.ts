/** Records of the results store (PRODUCT.md §4). One JSON object per line. */

/** embeddings.jsonl */
export interface EmbeddingRecord {
	/** Relative to the selected folder it was found under (posix separators). */
	path: string;
	sha256: string;
	sopInstanceUid: string;
	seriesInstanceUid: string;
	studyInstanceUid: string;
	modality: string;
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
	time: string;
}

/** failures.jsonl */
export interface FailureRecord {
	path: string;
	/** read | parse | decode | window | encode | skipped | embed */
	stage: string;
	error: string;
	sha256?: string;
	key?: string;
	time: string;
}
