/**
 * Writes embeddings.npy (float32, N×D, numpy format 1.0, little-endian, C order) and index.csv
 * (row → path and UIDs) from embeddings.jsonl, streaming it twice: the first pass finds the latest
 * record of each path (only paths and line numbers are kept), the second writes those rows. Memory
 * stays flat in the number of embeddings. Both files are written beside their final names and
 * renamed into place, so a crash during export leaves the previous ones intact.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import type { Logger } from "../util/logger";
import { nullLogger } from "../util/logger";
import { csvLine } from "./csv";
import { embeddingLength, embeddingOf, parseRecordHead, readLines } from "./jsonLines";
import { npyHeader } from "./npy";
import { resultFiles } from "./types";

export interface ExportResult {
	/** Rows written (N) and the embedding length (D; 0 when there are no rows). */
	rows: number;
	dim: number;
	/** Latest records left out because their embedding length differs from D (another model). */
	otherDim: number;
	/** True when the files were already up to date and left as they were (`onlyIfStale`). */
	upToDate?: boolean;
}

export const indexColumns = ["row", "path", "sha256", "sopInstanceUid", "seriesInstanceUid", "studyInstanceUid", "modality"] as const;


class BufferedWriter {
	private readonly stream: fs.WriteStream;
	private chunks: Buffer[] = [];
	private size = 0;

	constructor(readonly file: string) {
		this.stream = fs.createWriteStream(file);
	}

	async write(buf: Buffer): Promise<void> {
		this.chunks.push(buf);
		this.size += buf.length;
		if (this.size >= 1024 * 1024) await this.drain();
	}

	private async drain(): Promise<void> {
		const buf = Buffer.concat(this.chunks);
		this.chunks = [];
		this.size = 0;
		if (!this.stream.write(buf)) await once(this.stream, "drain");
	}

	async close(): Promise<void> {
		if (this.size > 0) await this.drain();
		await new Promise<void>((resolve, reject) => {
			this.stream.once("error", reject);
			this.stream.end(() => resolve());
		});
	}

	destroy(): void {
		this.stream.destroy();
	}
}

/** The shape in the header of an .npy file written by exportArrays, or undefined. */
async function npyShape(file: string): Promise<[number, number] | undefined> {
	const handle = await fs.promises.open(file, "r").catch(() => undefined);
	if (!handle) return undefined;
	try {
		const head = Buffer.alloc(512);
		const { bytesRead } = await handle.read(head, 0, head.length, 0);
		const m = /'shape': \((\d+), (\d+)\)/.exec(head.toString("latin1", 0, bytesRead));
		return m ? [Number(m[1]), Number(m[2])] : undefined;
	} finally {
		await handle.close();
	}
}

/**
 * Exports embeddings.npy and index.csv in `outDir` from its embeddings.jsonl (the latest record of
 * each path). With `onlyIfStale`, files newer than embeddings.jsonl are left as they are.
 */
export async function exportArrays(outDir: string, options: { logger?: Logger; signal?: AbortSignal; onlyIfStale?: boolean } = {}): Promise<ExportResult> {
	const logger = options.logger ?? nullLogger;
	const source = path.join(outDir, resultFiles.embeddings);
	const sourceStat = await fs.promises.stat(source).catch(() => undefined);
	const end = sourceStat?.size ?? 0;
	if (options.onlyIfStale && sourceStat) {
		const npyStat = await fs.promises.stat(path.join(outDir, resultFiles.npy)).catch(() => undefined);
		const csvStat = await fs.promises.stat(path.join(outDir, resultFiles.index)).catch(() => undefined);
		if (npyStat && csvStat && npyStat.mtimeMs >= sourceStat.mtimeMs && csvStat.mtimeMs >= sourceStat.mtimeMs) {
			const shape = await npyShape(path.join(outDir, resultFiles.npy));
			if (shape) return { rows: shape[0], dim: shape[1], otherDim: 0, upToDate: true };
		}
	}

	// Pass 1: the line of the latest record of each path, and its embedding length.
	const latest = new Map<string, { line: number; dim: number }>();
	for await (const line of readLines(source, { oversized: 0 }, end)) {
		options.signal?.throwIfAborted();
		const r = parseRecordHead(line.bytes);
		if (!r) continue;
		latest.set(r.head.path, { line: line.index, dim: embeddingLength(r) });
	}
	let dim = 0;
	for (const v of latest.values()) {
		if (v.dim > 0) {
			dim = v.dim;
			break;
		}
	}
	let rows = 0;
	let otherDim = 0;
	for (const v of latest.values()) {
		if (v.dim === dim && dim > 0) rows++;
		else otherDim++;
	}
	if (otherDim > 0) logger.warn(`${otherDim} embedding(s) have a length other than ${dim} (another model?) and are left out of ${resultFiles.npy}.`);

	// Pass 2: write those rows in file order.
	const npyFile = path.join(outDir, resultFiles.npy);
	const csvFile = path.join(outDir, resultFiles.index);
	const npy = new BufferedWriter(`${npyFile}.tmp`);
	const csv = new BufferedWriter(`${csvFile}.tmp`);
	const littleEndian = os.endianness() === "LE";
	try {
		await npy.write(npyHeader([rows, dim]));
		await csv.write(Buffer.from(csvLine(indexColumns)));
		let row = 0;
		if (rows > 0) {
			for await (const line of readLines(source, { oversized: 0 }, end)) {
				options.signal?.throwIfAborted();
				const r = parseRecordHead(line.bytes);
				if (!r) continue;
				const want = latest.get(r.head.path);
				if (!want || want.line !== line.index || want.dim !== dim) continue;
				const values = embeddingOf(r);
				if (!values || values.length !== dim) throw new Error(`${resultFiles.embeddings} changed during export (line ${line.index + 1}).`);
				const f32 = Float32Array.from(values);
				const bytes = Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength);
				if (!littleEndian) bytes.swap32();
				await npy.write(bytes);
				const h = r.head;
				const fields = [row, h.path, h.sha256, h.sopInstanceUid, h.seriesInstanceUid, h.studyInstanceUid, h.modality];
				await csv.write(Buffer.from(csvLine(fields), "utf8"));
				row++;
			}
		}
		if (row !== rows) throw new Error(`${resultFiles.embeddings} changed during export (${row} rows instead of ${rows}).`);
		await npy.close();
		await csv.close();
	} catch (e) {
		npy.destroy();
		csv.destroy();
		await fs.promises.rm(`${npyFile}.tmp`, { force: true });
		await fs.promises.rm(`${csvFile}.tmp`, { force: true });
		throw e;
	}
	await fs.promises.rename(`${npyFile}.tmp`, npyFile);
	await fs.promises.rename(`${csvFile}.tmp`, csvFile);
	return { rows, dim, otherDim };
}
