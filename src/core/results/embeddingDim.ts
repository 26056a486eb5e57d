/**
 * The vector length of the embeddings already in an output folder: the first record of
 * embeddings.jsonl that holds a non-empty numeric vector. A run holds every new answer to it
 * (issue 9 §4), so one folder never mixes vectors of different lengths.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { resultFiles } from "./types";

/** Length of the first stored embedding in `outDir`, or undefined when there is none (or no file). */
export async function storedEmbeddingDim(outDir: string): Promise<number | undefined> {
	const file = path.join(outDir, resultFiles.embeddings);
	let stream: fs.ReadStream;
	try {
		await fs.promises.access(file, fs.constants.R_OK);
		stream = fs.createReadStream(file, { encoding: "utf8" });
	} catch {
		return undefined;
	}
	const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
	try {
		for await (const line of lines) {
			if (!line.trim()) continue;
			let record: unknown;
			try {
				record = JSON.parse(line);
			} catch {
				continue; // a torn or corrupt line: the store ignores it too
			}
			const embedding = (record as { embedding?: unknown } | null)?.embedding;
			if (Array.isArray(embedding) && embedding.length > 0 && embedding.every((v) => typeof v === "number")) return embedding.length;
		}
		return undefined;
	} finally {
		lines.close();
		stream.destroy();
	}
}
