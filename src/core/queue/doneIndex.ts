/**
 * What is already done in an output folder of a distributed run: the stamps (settings, recorded path,
 * size, mtime, identity — ResultsStore's resume stamp) of the images embedded or skipped with the
 * current settings, in the folder's own files and in every worker's part. `submit` leaves those
 * items out of its jobs; a worker leaves them out of a job that was delivered again (at least once:
 * a stalled job, or a job that another worker had finished), so they are not sent twice.
 *
 * `refresh()` reads only what was appended since the last call (a file replaced by a merge is read
 * again from its start). Holds one short hash per done image, never a record.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { partsFolder } from "../results/mergeParts";
import { stampOf } from "../results/store";
import { resultFiles, type FailureRecord } from "../results/types";
import { parseRecordHead } from "../results/jsonLines";

interface Cursor {
	ino: number;
	offset: number;
}

export class DoneIndex {
	private readonly stamps = new Map<string, "e" | "s">();
	private readonly cursors = new Map<string, Cursor>();

	constructor(
		readonly outDir: string,
		private readonly config: string,
		/** A part to leave out (the worker's own: its pipeline knows it already). */
		private readonly ownPart?: string,
	) {}

	/** Number of stamps known. */
	get size(): number {
		return this.stamps.size;
	}

	/** "embedded" / "skipped" when an unchanged file (or instance) with this stamp is done, else undefined. */
	statusOf(relPath: string, size: number, mtimeMs: number, source: string | undefined): "embedded" | "skipped" | undefined {
		const s = this.stamps.get(stampOf(this.config, relPath, size, mtimeMs, source));
		return s === "e" ? "embedded" : s === "s" ? "skipped" : undefined;
	}

	/** Reads what the folder's files and its parts gained since the last call. */
	async refresh(): Promise<void> {
		const dirs = [this.outDir];
		try {
			for (const name of (await fs.promises.readdir(path.join(this.outDir, partsFolder))).sort()) {
				if (name !== this.ownPart) dirs.push(path.join(this.outDir, partsFolder, name));
			}
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
		}
		for (const dir of dirs) {
			await this.scan(path.join(dir, resultFiles.embeddings), (line) => this.addEmbedding(line));
			await this.scan(path.join(dir, resultFiles.failures), (line) => this.addFailure(line));
		}
	}

	private addEmbedding(line: Buffer): void {
		const r = parseRecordHead(line);
		if (!r) return;
		const h = r.head;
		if (h.config !== this.config || typeof h.size !== "number" || typeof h.mtimeMs !== "number") return;
		this.stamps.set(stampOf(this.config, h.path, h.size, h.mtimeMs, h.source), "e");
	}

	private addFailure(line: Buffer): void {
		let f: Partial<FailureRecord>;
		try {
			f = JSON.parse(line.toString("utf8")) as Partial<FailureRecord>;
		} catch {
			return;
		}
		if (typeof f !== "object" || f === null || f.stage !== "skipped" || f.config !== this.config || typeof f.path !== "string") return;
		if (typeof f.size !== "number" || typeof f.mtimeMs !== "number") return;
		const stamp = stampOf(this.config, f.path, f.size, f.mtimeMs, f.source);
		if (!this.stamps.has(stamp)) this.stamps.set(stamp, "s");
	}

	/** Feeds the complete lines appended to `file` since its cursor. */
	private async scan(file: string, onLine: (line: Buffer) => void): Promise<void> {
		let handle: fs.promises.FileHandle;
		try {
			handle = await fs.promises.open(file, "r");
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
			throw e;
		}
		try {
			const st = await handle.stat();
			let cursor = this.cursors.get(file);
			if (!cursor || cursor.ino !== st.ino || cursor.offset > st.size) cursor = { ino: st.ino, offset: 0 };
			const buf = Buffer.allocUnsafe(1024 * 1024);
			let carry: Buffer[] = [];
			let pos = cursor.offset;
			let lineStart = cursor.offset;
			while (pos < st.size) {
				const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, st.size - pos), pos);
				if (bytesRead === 0) break;
				let start = 0;
				for (;;) {
					const nl = buf.indexOf(0x0a, start);
					if (nl < 0 || nl >= bytesRead) break;
					const piece = buf.subarray(start, nl);
					const line = carry.length > 0 ? Buffer.concat([...carry, piece]) : piece;
					carry = [];
					if (line.length > 0) onLine(line);
					start = nl + 1;
					lineStart = pos + start;
				}
				if (start < bytesRead) carry.push(Buffer.from(buf.subarray(start, bytesRead)));
				pos += bytesRead;
			}
			// A last line without its newline is being written (or torn): read it next time.
			this.cursors.set(file, { ino: st.ino, offset: lineStart });
		} finally {
			await handle.close();
		}
	}
}
