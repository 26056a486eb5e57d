/**
 * The path a run records for each file (embeddings.jsonl, failures.jsonl, index.csv, the results
 * view): relative to the common ancestor of the selected inputs, with posix separators. Two
 * different files never share one (a relative path from one base is unique per absolute path), and
 * the common cases keep the paths earlier versions recorded: one selected folder gives paths relative
 * to it, one selected file its base name, sibling folders `one` and `two` give `one/…` and `two/…`.
 * Folders `siteA/data` and `siteB/data` give `siteA/data/…` and `siteB/data/…`.
 */
import * as fs from "node:fs";
import * as path from "node:path";

function toPosix(p: string): string {
	return path.sep === "/" ? p : p.split(path.sep).join("/");
}

/** The folder each input's paths are relative to: a folder itself, a file its parent folder. */
async function baseOf(input: string): Promise<string> {
	const abs = path.resolve(input);
	const stat = await fs.promises.stat(abs).catch(() => undefined);
	return stat?.isDirectory() ? abs : path.dirname(abs);
}

/** The deepest folder that holds every one of `dirs` (absolute), or undefined when they share none (other drives). */
export function commonAncestor(dirs: readonly string[]): string | undefined {
	if (dirs.length === 0) return undefined;
	const fold = (s: string) => (process.platform === "win32" ? s.toLowerCase() : s);
	const split = (d: string) => path.resolve(d).split(path.sep);
	let common = split(dirs[0]!);
	for (const d of dirs.slice(1)) {
		const parts = split(d);
		let n = 0;
		while (n < common.length && n < parts.length && fold(common[n]!) === fold(parts[n]!)) n++;
		common = common.slice(0, n);
	}
	if (common.length === 0) return undefined;
	if (common.length === 1) return common[0] === "" ? path.sep : common[0] + path.sep; // "/" or "C:\"
	return common.join(path.sep);
}

/** The base of the recorded paths of a selection (absolute), or undefined when the inputs share no folder. */
export async function recordBase(inputs: readonly string[]): Promise<string | undefined> {
	return commonAncestor(await Promise.all(inputs.map(baseOf)));
}

/** The recorded path of a file: relative to `base`, posix separators; the whole path (posix) when there is no base. */
export function recordedPath(absPath: string, base: string | undefined): string {
	if (base === undefined) return toPosix(absPath);
	const rel = path.relative(base, absPath);
	return rel === "" || path.isAbsolute(rel) ? toPosix(absPath) : toPosix(rel);
}
