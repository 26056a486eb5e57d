/**
 * Streaming reader for the append-only JSON-lines files of the results store. Yields each complete
 * line with its byte offset, holding at most one line (plus one read chunk) in memory. A last line
 * without its final newline is a write torn by a crash: it is not yielded, and its offset is reported
 * so that the writer can cut it off before appending.
 */
import * as fs from "node:fs";
import type { EmbeddingRecord } from "./types";

export interface RawLine {
	/** The line without its "\n" (a view into the read chunk: copy it to keep it). */
	bytes: Buffer;
	/** Byte offset of the line in the file. */
	offset: number;
	/** 0-based index of the line among the non-empty lines of the file. */
	index: number;
}

export interface LineScanInfo {
	/** Offset of a torn last line (no final newline), if there is one. */
	tornAt?: number;
	/** Lines longer than maxLineBytes that were dropped. */
	oversized: number;
}

/** A line longer than this cannot be a record (an embedding of 10^5 floats is ~1.4 MB); it is dropped. */
export const maxLineBytes = 64 * 1024 * 1024;

const newline = 0x0a;

/**
 * Streams the complete, non-empty lines of `file` (a missing file has none). `info` receives what was
 * found at the end. `endAt` stops at that byte offset (a file that is being appended to is read up to
 * the size it had when reading began).
 */
export async function* readLines(file: string, info: LineScanInfo = { oversized: 0 }, endAt?: number): AsyncGenerator<RawLine> {
	if (endAt === 0) return;
	try {
		await fs.promises.access(file, fs.constants.R_OK);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
		throw e;
	}
	const stream = fs.createReadStream(file, { highWaterMark: 1024 * 1024, ...(endAt !== undefined ? { end: endAt - 1 } : {}) });
	let carry: Buffer[] = [];
	let carryLength = 0;
	let dropping = false;
	let lineStart = 0;
	let chunkStart = 0;
	let index = 0;
	try {
		for await (const chunk of stream as AsyncIterable<Buffer>) {
			let start = 0;
			for (;;) {
				const nl = chunk.indexOf(newline, start);
				if (nl < 0) break;
				let line = chunk.subarray(start, nl);
				if (carryLength > 0) {
					line = Buffer.concat([...carry, line]);
					carry = [];
					carryLength = 0;
				}
				if (dropping) {
					dropping = false;
					info.oversized++;
				} else if (line.length > 0) {
					yield { bytes: line, offset: lineStart, index: index++ };
				}
				start = nl + 1;
				lineStart = chunkStart + start;
			}
			if (start < chunk.length && !dropping) {
				carry.push(chunk.subarray(start));
				carryLength += chunk.length - start;
				if (carryLength > maxLineBytes) {
					carry = [];
					carryLength = 0;
					dropping = true;
				}
			}
			chunkStart += chunk.length;
		}
	} finally {
		stream.destroy();
	}
	if (carryLength > 0 || dropping) info.tornAt = lineStart;
}

/** The marker before the embedding, which the store always writes as the last field of a record. */
const embeddingMarker = Buffer.from(',"embedding":[');

/** The fields of an embeddings.jsonl line before its embedding, and where the embedding array is. */
export interface RecordHead {
	head: Omit<EmbeddingRecord, "embedding">;
	/** The embedding array's JSON text ("[...]") when the line has the store's layout. */
	embeddingJson?: Buffer;
	/** The parsed embedding, when the line had to be parsed whole. */
	embedding?: number[];
}

/**
 * Parses an embeddings.jsonl line cheaply: when the embedding is the last field (the store's layout),
 * only the fields before it are decoded. Any other valid layout is parsed whole. Returns undefined
 * for a line that is not a record (no string path, key and sha256).
 */
export function parseRecordHead(bytes: Buffer): RecordHead | undefined {
	const at = bytes.lastIndexOf(embeddingMarker);
	const n = bytes.length;
	if (at > 0 && n >= 2 && bytes[n - 1] === 0x7d && bytes[n - 2] === 0x5d) {
		try {
			const head = JSON.parse(bytes.toString("utf8", 0, at) + "}") as unknown;
			if (isHead(head)) return { head, embeddingJson: bytes.subarray(at + embeddingMarker.length - 1, n - 1) };
		} catch {
			// not the store's layout: parse the whole line below
		}
	}
	try {
		const whole = JSON.parse(bytes.toString("utf8")) as unknown;
		if (!isHead(whole)) return undefined;
		const { embedding, ...head } = whole as EmbeddingRecord;
		return Array.isArray(embedding) ? { head, embedding } : { head };
	} catch {
		return undefined;
	}
}

/** The embedding of a parsed head, or undefined when it is missing or not an array of finite numbers. */
export function embeddingOf(r: RecordHead): number[] | undefined {
	let values: unknown = r.embedding;
	if (values === undefined && r.embeddingJson) {
		try {
			values = JSON.parse(r.embeddingJson.toString("latin1"));
		} catch {
			return undefined;
		}
	}
	if (!Array.isArray(values)) return undefined;
	for (const v of values) if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
	return values as number[];
}

/** Number of elements of the embedding of a parsed head without decoding it (0 when there is none). */
export function embeddingLength(r: RecordHead): number {
	if (r.embedding) return r.embedding.length;
	const json = r.embeddingJson;
	if (!json || json.length <= 2) return 0;
	let commas = 0;
	for (let i = 1; i < json.length - 1; i++) if (json[i] === 0x2c) commas++;
	return commas + 1;
}

function isHead(v: unknown): v is Omit<EmbeddingRecord, "embedding"> {
	if (typeof v !== "object" || v === null) return false;
	const r = v as Record<string, unknown>;
	return typeof r["path"] === "string" && typeof r["key"] === "string" && typeof r["sha256"] === "string";
}
