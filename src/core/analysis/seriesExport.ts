/**
 * Writes series (or study) embeddings as `<level>.npy` (float32, groups × D, numpy format 1.0,
 * little-endian, C order) and `<level>.csv` (row → UIDs, modality, description, image count). Both are
 * written beside their final names and renamed into place, so a failed export leaves older ones intact.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { npyHeader } from "../results/npy";
import type { GroupedEmbeddings } from "./series";
import { groupCsv } from "./seriesCsv";

export { groupCsv, groupCsvColumns } from "./seriesCsv";

/** The .npy bytes of the group embeddings. */
export function groupNpy(g: GroupedEmbeddings): Buffer {
	const rows = g.groups.length;
	if (g.vectors.length !== rows * g.dim) throw new Error(`${rows} groups of ${g.dim} values need ${rows * g.dim} numbers, not ${g.vectors.length}.`);
	const data = Buffer.from(g.vectors.buffer, g.vectors.byteOffset, g.vectors.byteLength);
	const body = os.endianness() === "LE" ? data : Buffer.from(data).swap32();
	return Buffer.concat([npyHeader([rows, g.dim]), body]);
}

/** Writes `<outDir>/<level>.npy` and `<outDir>/<level>.csv`; returns their paths. */
export async function writeGroupFiles(g: GroupedEmbeddings, outDir: string): Promise<{ npy: string; csv: string }> {
	await fs.mkdir(outDir, { recursive: true });
	const npy = path.join(outDir, `${g.level}.npy`);
	const csv = path.join(outDir, `${g.level}.csv`);
	try {
		await fs.writeFile(`${npy}.tmp`, groupNpy(g));
		await fs.writeFile(`${csv}.tmp`, groupCsv(g), "utf8");
		await fs.rename(`${npy}.tmp`, npy);
		await fs.rename(`${csv}.tmp`, csv);
	} catch (e) {
		await fs.rm(`${npy}.tmp`, { force: true });
		await fs.rm(`${csv}.tmp`, { force: true });
		throw e;
	}
	return { npy, csv };
}
