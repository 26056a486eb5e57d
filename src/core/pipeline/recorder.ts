/**
 * The Record stage: what a run writes to the results store (PRODUCT.md §4), and what it asks of it
 * — whether a file was already done (its stamp), whether an image's key is done, and the copy of a
 * done key's embedding for another file with the same content. Records are durable once `append`
 * resolves; nothing here counts or reports (the pipeline does, after the records are written).
 */
import type { DicomMeta } from "../dicom/types";
import type { ResumeKeys } from "../results/resumeKey";
import type { FileStatus, ResultsStore } from "../results/store";
import type { EmbeddingRecord, FailureRecord } from "../results/types";
import type { Logger } from "../util/logger";

/** Where a record came from: its path as recorded and the stamp that lets the next run skip it unread. */
export interface FileStamp {
	path: string;
	absPath: string;
	/** Absent when the file changed while it was read, or could not be stat'ed (the next run must read it again). */
	size?: number;
	mtimeMs?: number;
	/** Identity of the file (sourceId of its absolute path and inode), part of the stamp. */
	source?: string;
	/** The DICOMweb service an instance came from (no credentials). */
	sourceUrl?: string;
}

/** An image converted, with what its record needs. */
export interface ConvertedImage {
	key: string;
	file: FileStamp;
	sha256: string;
	png: Uint8Array;
	thumbnail: Uint8Array | undefined;
	meta: DicomMeta;
	/** "min-max" when the percentile window collapsed (recorded in the embedding record). */
	window?: "min-max";
}

/** What the endpoint gave for one image, checked (Send stage). */
export type SendOutcome = { ok: true; embedding: number[]; scalingFactor?: number } | { ok: false; error: string };

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

export class Recorder {
	constructor(
		private readonly store: ResultsStore,
		private readonly keys: ResumeKeys,
		private readonly logger: Logger,
	) {}

	/** The resume key of an image whose file has this sha256. */
	key(sha256: string): string {
		return this.keys.key(sha256);
	}

	/** Whether this file, with this stamp, was already recorded with these settings (then it is not read at all). */
	statusOf(stamp: FileStamp): FileStatus {
		if (stamp.size === undefined || stamp.mtimeMs === undefined) return undefined;
		return this.store.statusOf(stamp.path, stamp.size, stamp.mtimeMs, stamp.source);
	}

	/** True when an image with this key is durably embedded. */
	hasKey(key: string): boolean {
		return this.store.hasKey(key);
	}

	/** Distinct keys done with these settings. */
	get doneKeys(): number {
		return this.store.doneKeys;
	}

	/** Records why a file gives no embedding (stage "skipped" for a file that holds no image). */
	async failure(file: FileStamp, stage: string, error: string, sha256?: string): Promise<void> {
		const record: FailureRecord = {
			path: file.path,
			stage,
			error,
			...(sha256 ? { sha256, key: this.keys.key(sha256) } : {}),
			time: new Date().toISOString(),
			...this.stampFields(file),
		};
		await this.store.append({ failures: [record] });
	}

	/**
	 * Records an image whose key is already done (identical content, or the same file touched)
	 * with the earlier embedding, without sending it. False when the key has no readable record.
	 */
	async copyDone(p: ConvertedImage): Promise<boolean> {
		const earlier = await this.store.readByKey(p.key);
		if (!earlier || !Array.isArray(earlier.embedding)) return false;
		const thumbnail = earlier.thumbnail ?? (await this.saveThumbnail(p));
		const record = this.embeddingRecord(p, earlier.embedding, { ...(earlier.scalingFactor !== undefined ? { scalingFactor: earlier.scalingFactor } : {}), ...(thumbnail ? { thumbnail } : {}) });
		await this.store.append({ embeddings: [record] });
		return true;
	}

	/** Records one batch's outcomes (same order as the images) in one append. */
	async batch(items: readonly ConvertedImage[], outcomes: readonly SendOutcome[]): Promise<void> {
		const embeddings: EmbeddingRecord[] = [];
		const failures: FailureRecord[] = [];
		for (let i = 0; i < items.length; i++) {
			const p = items[i]!;
			const r = outcomes[i] ?? { ok: false, error: "the endpoint returned no result for this image" };
			if (r.ok) {
				const thumbnail = await this.saveThumbnail(p);
				embeddings.push(this.embeddingRecord(p, r.embedding, { ...(r.scalingFactor !== undefined ? { scalingFactor: r.scalingFactor } : {}), ...(thumbnail ? { thumbnail } : {}) }));
			} else {
				failures.push({ path: p.file.path, stage: "embed", error: r.error, sha256: p.sha256, key: p.key, time: new Date().toISOString(), ...this.stampFields(p.file) });
			}
		}
		await this.store.append({ embeddings, failures });
	}

	private stampFields(f: FileStamp) {
		return {
			...(f.size !== undefined && f.mtimeMs !== undefined ? { size: f.size, mtimeMs: f.mtimeMs, ...(f.source ? { source: f.source } : {}) } : {}),
			...(f.sourceUrl ? { sourceUrl: f.sourceUrl } : {}),
			config: this.keys.config,
		};
	}

	private embeddingRecord(p: ConvertedImage, embedding: number[], extra: { scalingFactor?: number; thumbnail?: string }): EmbeddingRecord {
		return {
			path: p.file.path,
			sha256: p.sha256,
			sopInstanceUid: p.meta.sopInstanceUid,
			seriesInstanceUid: p.meta.seriesInstanceUid,
			studyInstanceUid: p.meta.studyInstanceUid,
			modality: p.meta.modality,
			key: p.key,
			...(extra.scalingFactor !== undefined ? { scalingFactor: extra.scalingFactor } : {}),
			...(p.meta.seriesDescription ? { seriesDescription: p.meta.seriesDescription } : {}),
			...(p.meta.studyDescription ? { studyDescription: p.meta.studyDescription } : {}),
			rows: p.meta.rows,
			columns: p.meta.columns,
			...(extra.thumbnail ? { thumbnail: extra.thumbnail } : {}),
			...(p.window ? { window: p.window } : {}),
			time: new Date().toISOString(),
			...this.stampFields(p.file),
			embedding,
		};
	}

	private async saveThumbnail(p: ConvertedImage): Promise<string | undefined> {
		if (!p.thumbnail) return undefined;
		try {
			return await this.store.saveThumbnail(p.sha256, p.thumbnail);
		} catch (e) {
			this.logger.warn(`Cannot save the thumbnail of ${p.file.path}: ${message(e)}`);
			return undefined;
		}
	}
}
