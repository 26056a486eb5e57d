/**
 * Discovery: walks the selected folders and files and yields every DICOM candidate (decided by
 * content, via looksLikeDicom on the first 512 bytes), every file it ignores and every symbolic link
 * it does not follow. Streaming and depth-first: each folder on the current path is read entry by
 * entry (opendir) as the walk goes, so a folder of a million files yields its first file at once and
 * memory stays flat. The order is the file system's: nothing downstream may depend on it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { looksLikeDicom } from "../dicom/sniff";
import type { DiscoveryItem } from "./types";

export interface DiscoverOptions {
	signal?: AbortSignal;
	/** Absolute paths (folders or files) to leave out, with everything under them. */
	exclude?: string[];
}

/** Bytes read from each file to decide whether it is DICOM. */
export const sniffBytes = 512;

/** Files of one folder sniffed at once (bounded: memory stays flat). */
const sniffParallelism = 16;

/** Our own output folder, never walked. */
export const outputFolderName = ".medimageinsight";

/** File names of operating-system junk: ignored without being read. */
const junkFiles = new Set([".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".localized", "icon\r"]);
/** Folder names of operating-system or tool junk: not walked (yielded once as ignored). */
const junkDirs = new Set([
	outputFolderName,
	".git",
	".svn",
	".hg",
	"__macosx",
	".trashes",
	".trash",
	".spotlight-v100",
	".fseventsd",
	".temporaryitems",
	"$recycle.bin",
	"system volume information",
	"node_modules",
]);

function isJunkFile(name: string): boolean {
	const lower = name.toLowerCase();
	return junkFiles.has(lower) || lower.startsWith("._");
}

function abortError(): Error {
	return new DOMException("Discovery was aborted", "AbortError");
}

function toPosix(p: string): string {
	return path.sep === "/" ? p : p.split(path.sep).join("/");
}

interface Frame {
	dir: string;
	/** Real path of `dir` (symbolic links resolved): the loop check compares these. */
	real: string;
	handle: fs.Dir;
	/** An entry read ahead while gathering a batch of files to sniff, not yet handled. */
	lookahead: fs.Dirent | undefined;
}

/** A selected input as discovery walks it. */
interface Root {
	abs: string;
	stat: fs.Stats;
	/** Real path (symbolic links resolved). */
	real: string;
}

function isInside(p: string, dir: string): boolean {
	return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/**
 * Yields the DICOM candidates and ignored files under `inputs` (absolute or relative paths; a
 * relative path is resolved against the working directory). Throws a one-line error when an input
 * does not exist, before yielding anything.
 *
 * Symbolic links: one that resolves inside a selected input is followed (a file is examined under
 * the link's path; a folder is walked unless it contains the link, which would be a loop); one that
 * points elsewhere, dangles or loops is yielded as "skipped" with the reason, never as ignored.
 */
export async function* discover(inputs: string[], options: DiscoverOptions = {}): AsyncGenerator<DiscoveryItem> {
	const { signal } = options;
	const excluded = (options.exclude ?? []).map((p) => path.resolve(p));
	const isExcluded = (p: string) => excluded.some((e) => isInside(p, e));
	// The same, by real path (a link into the output folder is not followed either).
	const excludedReal = await Promise.all(excluded.map((e) => fs.promises.realpath(e).catch(() => e)));
	const isExcludedReal = (real: string) => excludedReal.some((e) => isInside(real, e));

	const roots: Root[] = [];
	for (const input of inputs) {
		const abs = path.resolve(input);
		let stat: fs.Stats;
		let real: string;
		try {
			stat = await fs.promises.stat(abs);
			real = await fs.promises.realpath(abs);
		} catch (e) {
			const code = (e as NodeJS.ErrnoException).code;
			throw new Error(code === "ENOENT" ? `Input not found: ${abs}` : `Cannot read input ${abs}: ${code ?? String(e)}`);
		}
		roots.push({ abs, stat, real });
	}

	// An input given twice, or inside another selected folder, is walked once (under the outer folder).
	const folders = roots.filter((r) => r.stat.isDirectory()).map((r) => r.abs);
	const isCovered = (abs: string, index: number) => roots.findIndex((r) => r.abs === abs) < index || folders.some((f) => f !== abs && isInside(abs, f));
	/** Where a symbolic link may lead: inside a selected folder, or to a selected file. */
	const allowed = (real: string) => roots.some((r) => (r.stat.isDirectory() ? isInside(real, r.real) : real === r.real));

	const stack: Frame[] = [];
	try {
		for (const [index, { abs, stat, real }] of roots.entries()) {
			if (signal?.aborted) throw abortError();
			if (isExcluded(abs) || isCovered(abs, index)) continue;
			if (stat.isFile()) {
				yield await examineFile(abs, path.basename(abs), abs);
				continue;
			}
			if (!stat.isDirectory()) {
				yield { kind: "ignored", absPath: abs };
				continue;
			}
			const top = await openDir(abs);
			if (!top) {
				yield { kind: "ignored", absPath: abs };
				continue;
			}
			stack.push({ dir: abs, real, handle: top, lookahead: undefined });
			const rel = (f: string) => toPosix(path.relative(abs, f));
			while (stack.length > 0) {
				if (signal?.aborted) throw abortError();
				const frame = stack[stack.length - 1]!;
				const entry = await nextEntry(frame);
				if (!entry) {
					stack.pop();
					await frame.handle.close().catch(() => undefined);
					continue;
				}
				const full = path.join(frame.dir, entry.name);
				if (isExcluded(full)) continue;
				let kind = direntKind(entry);
				if (kind === "unknown") kind = await lstatKind(full);
				let realDir: string | undefined;
				if (kind === "link") {
					if (isJunkFile(entry.name) || junkDirs.has(entry.name.toLowerCase())) {
						yield { kind: "ignored", absPath: full };
						continue;
					}
					const target = await resolveLink(full);
					if (typeof target === "string") {
						yield await skippedLink(full, rel(full), abs, target);
						continue;
					}
					if (isExcludedReal(target.real)) continue;
					if (!allowed(target.real)) {
						yield await skippedLink(full, rel(full), abs, `a symbolic link to ${target.real}, outside the selected folders: not followed`);
						continue;
					}
					if (target.isDir) {
						if (stack.some((f) => f.real === target.real)) {
							yield await skippedLink(full, rel(full), abs, `a symbolic link to ${target.real}, a folder that contains it (a loop): not followed`);
							continue;
						}
						kind = "dir";
						realDir = target.real;
					} else if (target.isFile) {
						yield await examineFile(full, rel(full), abs);
						continue;
					} else {
						yield { kind: "ignored", absPath: full };
						continue;
					}
				}
				if (kind === "dir") {
					if (junkDirs.has(entry.name.toLowerCase())) {
						yield { kind: "ignored", absPath: full };
						continue;
					}
					const handle = await openDir(full);
					if (handle) stack.push({ dir: full, real: realDir ?? path.join(frame.real, entry.name), handle, lookahead: undefined });
					else yield { kind: "ignored", absPath: full };
				} else if (kind === "file" && !isJunkFile(entry.name)) {
					// Sniff this file and the plain files read right after it in parallel; yield in order.
					const batch = [full];
					while (batch.length < sniffParallelism) {
						const peek = await nextEntry(frame);
						if (!peek) break;
						const next = path.join(frame.dir, peek.name);
						if (!peek.isFile() || isJunkFile(peek.name) || isExcluded(next)) {
							frame.lookahead = peek;
							break;
						}
						batch.push(next);
					}
					const items = await Promise.all(batch.map((f) => examineFile(f, rel(f), abs)));
					for (const item of items) yield item;
				} else {
					// Junk, sockets, FIFOs, devices.
					yield { kind: "ignored", absPath: full };
				}
			}
		}
	} finally {
		for (const frame of stack) await frame.handle.close().catch(() => undefined);
	}
}

type EntryKind = "file" | "dir" | "link" | "other" | "unknown";

function direntKind(d: fs.Dirent): EntryKind {
	if (d.isFile()) return "file";
	if (d.isDirectory()) return "dir";
	if (d.isSymbolicLink()) return "link";
	if (d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return "other";
	return "unknown";
}

async function lstatKind(p: string): Promise<EntryKind> {
	try {
		const s = await fs.promises.lstat(p);
		return s.isFile() ? "file" : s.isDirectory() ? "dir" : s.isSymbolicLink() ? "link" : "other";
	} catch {
		return "other";
	}
}

/** Where a symbolic link leads, or why it cannot be followed. */
async function resolveLink(link: string): Promise<{ real: string; isDir: boolean; isFile: boolean } | string> {
	let real: string;
	try {
		real = await fs.promises.realpath(link);
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		if (code === "ELOOP") return "a symbolic link that leads back to itself (a loop): not followed";
		if (code === "ENOENT") return "a broken symbolic link (its target does not exist)";
		return `a symbolic link that cannot be resolved (${code ?? String(e)})`;
	}
	try {
		const s = await fs.promises.stat(real);
		return { real, isDir: s.isDirectory(), isFile: s.isFile() };
	} catch (e) {
		return `a symbolic link to ${real}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
	}
}

/** A symbolic link that is not followed, with the link's own stamp (so a re-run does not record it again). */
async function skippedLink(absPath: string, relPath: string, root: string, reason: string): Promise<DiscoveryItem> {
	const s = await fs.promises.lstat(absPath).catch(() => undefined);
	return { kind: "skipped", reason, absPath, relPath, root, size: s?.size ?? 0, mtimeMs: s?.mtimeMs ?? 0, ino: s?.ino ?? 0 };
}

/** The next entry of a folder being walked (entries are read as the walk goes, in the order the file system gives). */
async function nextEntry(frame: Frame): Promise<fs.Dirent | null> {
	if (frame.lookahead) {
		const d = frame.lookahead;
		frame.lookahead = undefined;
		return d;
	}
	try {
		return await frame.handle.read();
	} catch {
		return null; // the folder became unreadable while it was read: what was read is kept
	}
}

/** Opens a folder for reading entry by entry; undefined when unreadable. */
async function openDir(dir: string): Promise<fs.Dir | undefined> {
	try {
		return await fs.promises.opendir(dir, { bufferSize: 64 });
	} catch {
		return undefined;
	}
}

/** Reads the head of one regular file and classifies it. */
async function examineFile(absPath: string, relPath: string, root: string): Promise<DiscoveryItem> {
	const name = path.basename(absPath);
	let head = new Uint8Array(0);
	let size = 0;
	let mtimeMs = 0;
	let ino = 0;
	let handle: fs.promises.FileHandle | undefined;
	try {
		handle = await fs.promises.open(absPath, "r");
		const stat = await handle.stat();
		size = stat.size;
		mtimeMs = stat.mtimeMs;
		ino = stat.ino;
		const buf = new Uint8Array(Math.min(sniffBytes, size));
		let got = 0;
		while (got < buf.length) {
			const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
			if (bytesRead === 0) break;
			got += bytesRead;
		}
		head = buf.subarray(0, got);
	} catch {
		// Unreadable: a file that is DICOM by name still becomes a candidate, so it ends in the
		// outputs as failed (stage "read") rather than vanishing.
		try {
			const stat = await fs.promises.stat(absPath);
			size = stat.size;
			mtimeMs = stat.mtimeMs;
			ino = stat.ino;
		} catch {
			// keep zeros
		}
	} finally {
		await handle?.close().catch(() => undefined);
	}
	if (!looksLikeDicom(head, name)) return { kind: "ignored", absPath };
	return { kind: "candidate", absPath, relPath, root, size, mtimeMs, ino };
}
