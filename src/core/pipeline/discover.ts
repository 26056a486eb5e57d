/**
 * Discovery: walks the selected folders and files and yields every DICOM candidate (decided by
 * content, via looksLikeDicom on the first 512 bytes) and every file it ignores. Streaming and
 * depth-first: only the entry names of the directories on the current path are held in memory, so
 * a folder of a million files is fine. Deterministic: the names of each directory are sorted.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { looksLikeDicom } from "../dicom/sniff";
import type { DiscoveryItem } from "./types";

export interface DiscoverOptions {
	signal?: AbortSignal;
	/** Symbolic links inside folders are never followed (they are yielded as ignored). */
	followSymlinks?: false;
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
	entries: fs.Dirent[];
	next: number;
}

/**
 * Yields the DICOM candidates and ignored files under `inputs` (absolute or relative paths; a
 * relative path is resolved against the working directory). Throws a one-line error when an input
 * does not exist, before yielding anything.
 */
export async function* discover(inputs: string[], options: DiscoverOptions = {}): AsyncGenerator<DiscoveryItem> {
	const { signal } = options;
	const excluded = (options.exclude ?? []).map((p) => path.resolve(p));
	const isExcluded = (p: string) => excluded.some((e) => p === e || p.startsWith(e.endsWith(path.sep) ? e : e + path.sep));

	const roots: { abs: string; stat: fs.Stats }[] = [];
	for (const input of inputs) {
		const abs = path.resolve(input);
		let stat: fs.Stats;
		try {
			stat = await fs.promises.stat(abs);
		} catch (e) {
			const code = (e as NodeJS.ErrnoException).code;
			throw new Error(code === "ENOENT" ? `Input not found: ${abs}` : `Cannot read input ${abs}: ${code ?? String(e)}`);
		}
		roots.push({ abs, stat });
	}

	// An input given twice, or inside another selected folder, is walked once (under the outer folder).
	const folders = roots.filter((r) => r.stat.isDirectory()).map((r) => r.abs);
	const isCovered = (abs: string, index: number) =>
		roots.findIndex((r) => r.abs === abs) < index || folders.some((f) => f !== abs && abs.startsWith(f.endsWith(path.sep) ? f : f + path.sep));

	for (const [index, { abs, stat }] of roots.entries()) {
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
		const stack: Frame[] = [];
		const first = await readSorted(abs);
		if (!first) {
			yield { kind: "ignored", absPath: abs };
			continue;
		}
		stack.push({ dir: abs, entries: first, next: 0 });
		while (stack.length > 0) {
			if (signal?.aborted) throw abortError();
			const frame = stack[stack.length - 1]!;
			const entry = frame.entries[frame.next++];
			if (!entry) {
				stack.pop();
				continue;
			}
			const full = path.join(frame.dir, entry.name);
			if (isExcluded(full)) continue;
			let kind = direntKind(entry);
			if (kind === "unknown") kind = await lstatKind(full);
			if (kind === "dir") {
				if (junkDirs.has(entry.name.toLowerCase())) {
					yield { kind: "ignored", absPath: full };
					continue;
				}
				const entries = await readSorted(full);
				if (entries) stack.push({ dir: full, entries, next: 0 });
				else yield { kind: "ignored", absPath: full };
			} else if (kind === "file" && !isJunkFile(entry.name)) {
				// Sniff this file and the plain files right after it in parallel; yield in order.
				const batch = [full];
				while (batch.length < sniffParallelism) {
					const peek = frame.entries[frame.next];
					if (!peek || !peek.isFile() || isJunkFile(peek.name)) break;
					const next = path.join(frame.dir, peek.name);
					if (isExcluded(next)) break;
					batch.push(next);
					frame.next++;
				}
				const items = await Promise.all(batch.map((f) => examineFile(f, toPosix(path.relative(abs, f)), abs)));
				for (const item of items) yield item;
			} else {
				// Junk, symbolic links (never followed: no loops, no duplicates), sockets, FIFOs, devices.
				yield { kind: "ignored", absPath: full };
			}
		}
	}
}

type EntryKind = "file" | "dir" | "other" | "unknown";

function direntKind(d: fs.Dirent): EntryKind {
	if (d.isFile()) return "file";
	if (d.isDirectory()) return "dir";
	if (d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice()) return "other";
	return "unknown";
}

async function lstatKind(p: string): Promise<EntryKind> {
	try {
		const s = await fs.promises.lstat(p);
		return s.isFile() ? "file" : s.isDirectory() ? "dir" : "other";
	} catch {
		return "other";
	}
}

/** The entries of one directory, sorted by name (code-unit order); undefined when unreadable. */
async function readSorted(dir: string): Promise<fs.Dirent[] | undefined> {
	const entries: fs.Dirent[] = [];
	try {
		const handle = await fs.promises.opendir(dir, { bufferSize: 256 });
		for await (const d of handle) entries.push(d);
	} catch {
		return undefined;
	}
	entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
	return entries;
}

/** Reads the head of one regular file and classifies it. */
async function examineFile(absPath: string, relPath: string, root: string): Promise<DiscoveryItem> {
	const name = path.basename(absPath);
	let head = new Uint8Array(0);
	let size = 0;
	let mtimeMs = 0;
	let handle: fs.promises.FileHandle | undefined;
	try {
		handle = await fs.promises.open(absPath, "r");
		const stat = await handle.stat();
		size = stat.size;
		mtimeMs = stat.mtimeMs;
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
		} catch {
			// keep zeros
		}
	} finally {
		await handle?.close().catch(() => undefined);
	}
	if (!looksLikeDicom(head, name)) return { kind: "ignored", absPath };
	return { kind: "candidate", absPath, relPath, root, size, mtimeMs };
}
