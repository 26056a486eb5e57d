/**
 * The Source of local files: the folder walk (discover) with the recorded path of each file,
 * relative to the inputs' common folder (recordedPath), exactly as a local run records it. `submit`
 * enumerates a queued run's inputs with it, so a queue worker records the same paths.
 */
import { discover } from "../pipeline/discover";
import { recordBase, recordedPath } from "../pipeline/recordedPath";
import type { IgnoredItem, WorkItem } from "../pipeline/types";

/** A file's stat as the walk took it (size, mtime, inode; zeros when it could not be read). */
export interface ListedStat {
	size: number;
	mtimeMs: number;
	ino: number;
}

/**
 * The stat the walk already took of each item it yielded, by the item object itself: the pipeline
 * of the same process uses it instead of a stat of its own (a local run stats each file once).
 * An item that crossed a process boundary (a queue job, as JSON) is a new object: it has none, and
 * the pipeline stats the file when it takes it.
 */
const listedStats = new WeakMap<WorkItem, ListedStat>();

/** The stat taken by the walk that yielded this very item object, if any. */
export function listedStat(item: WorkItem): ListedStat | undefined {
	return listedStats.get(item);
}

export interface FolderSourceOptions {
	signal?: AbortSignal;
	/** Absolute paths (folders or files) to leave out, with everything under them (the output folder). */
	exclude?: string[];
}

/**
 * Yields one item per file under `inputs`: a DICOM candidate as a `file` item, a symbolic link that
 * is not followed as `skipped` with the reason, anything else as `ignored`. Streams (nothing is
 * collected); throws a one-line error when an input does not exist, before yielding anything.
 */
export async function* folderSource(inputs: string[], options: FolderSourceOptions = {}): AsyncGenerator<WorkItem | IgnoredItem> {
	if (inputs.length === 0) return;
	const base = await recordBase(inputs);
	for await (const item of discover(inputs, options)) {
		if (item.kind === "ignored") {
			yield { kind: "ignored", absPath: item.absPath };
			continue;
		}
		const work: WorkItem =
			item.kind === "skipped"
				? { kind: "skipped", path: recordedPath(item.absPath, base), absPath: item.absPath, reason: item.reason }
				: { kind: "file", path: recordedPath(item.absPath, base), absPath: item.absPath };
		listedStats.set(work, { size: item.size, mtimeMs: item.mtimeMs, ino: item.ino });
		yield work;
	}
}
