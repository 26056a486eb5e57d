/**
 * The Source of a run's inputs as the user gives them (folders, files, DICOMweb URLs): the folder
 * walk first, then each DICOMweb target's listing — the same items, with the same recorded paths,
 * whether a local run processes them or `submit` puts them on a queue.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { SourceItem } from "../pipeline/types";
import type { DicomwebSource } from "./dicomweb/types";
import { isDicomwebInput, parseDicomwebUrl } from "./dicomweb/url";
import { dicomwebSource } from "./dicomwebSource";
import { folderSource } from "./folderSource";

export interface InputSourceOptions {
	/** The output folder: never walked. */
	outDir: string;
	/** The client that lists DICOMweb targets (asked for only when there are some). */
	dicomweb: () => DicomwebSource;
	/** Only these recorded paths, each once (--retry-failed); the source ends as soon as all were seen. */
	only?: ReadonlySet<string>;
	signal?: AbortSignal;
}

/** Throws when no input is given. */
export function checkSomeInputs(inputs: readonly string[]): void {
	if (!Array.isArray(inputs) || inputs.length === 0) throw new Error("Nothing to embed: no input folder or file was given.");
}

/**
 * Throws a one-line error for inputs that cannot work, before anything is touched: none given, a
 * malformed DICOMweb URL, a path that does not exist, the output folder among them.
 */
export async function checkInputs(inputs: readonly string[], outDir: string): Promise<void> {
	checkSomeInputs(inputs);
	const out = path.resolve(outDir);
	for (const input of inputs) {
		if (isDicomwebInput(input)) {
			parseDicomwebUrl(input); // throws a message that says what is wrong with it
			continue;
		}
		const abs = path.resolve(input);
		try {
			await fs.promises.stat(abs);
		} catch (err) {
			const code = (err as NodeJS.ErrnoException).code;
			throw new Error(code === "ENOENT" ? `Input not found: ${abs}` : `Cannot read input ${abs}: ${code ?? (err instanceof Error ? err.message : String(err)).split("\n", 1)[0]!}`);
		}
		if (abs === out) throw new Error(`The output folder cannot be one of the inputs: ${abs}`);
	}
}

/** Every item of `inputs`: folders and files first, then the DICOMweb URLs' instances. */
export async function* inputSource(inputs: readonly string[], options: InputSourceOptions): AsyncGenerator<SourceItem> {
	const local = inputs.filter((i) => !isDicomwebInput(i));
	const remote = inputs.filter(isDicomwebInput).map((i) => parseDicomwebUrl(i));
	async function* all(): AsyncGenerator<SourceItem> {
		yield* folderSource(local, { ...(options.signal ? { signal: options.signal } : {}), exclude: [path.resolve(options.outDir)] });
		if (remote.length > 0) yield* dicomwebSource(remote, options.dicomweb(), options.signal);
	}
	yield* options.only ? onlyPaths(all(), options.only) : all();
}

/** Only the items whose recorded path is in `paths`, each once; ends as soon as all were seen. */
async function* onlyPaths(items: AsyncIterable<SourceItem>, paths: ReadonlySet<string>): AsyncGenerator<SourceItem> {
	if (paths.size === 0) return;
	const seen = new Set<string>();
	for await (const item of items) {
		if (item.kind === "ignored") {
			yield item;
			continue;
		}
		if (!paths.has(item.path) || seen.has(item.path)) continue;
		seen.add(item.path);
		yield item;
		if (seen.size === paths.size) return;
	}
}
