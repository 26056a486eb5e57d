/**
 * The Source of local files: the folder walk (discover) with the recorded path of each file,
 * relative to the inputs' common folder (recordedPath), exactly as a local run records it. `submit`
 * enumerates a queued run's inputs with it, so a queue worker records the same paths.
 */
import { discover } from "../pipeline/discover";
import { recordBase, recordedPath } from "../pipeline/recordedPath";
import type { IgnoredItem, WorkItem } from "../pipeline/types";

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
		if (item.kind === "ignored") yield { kind: "ignored", absPath: item.absPath };
		else if (item.kind === "skipped") yield { kind: "skipped", path: recordedPath(item.absPath, base), absPath: item.absPath, reason: item.reason };
		else yield { kind: "file", path: recordedPath(item.absPath, base), absPath: item.absPath };
	}
}
