/**
 * The CSV of series (or study) embeddings, without any node import (the results view's host logic
 * also runs in the browser test harness): row → UIDs, modality, description, image count. Cells are
 * formatted by the project's one CSV writer (results/csv.ts: quoting and formula guarding).
 */
import { csvCell } from "../results/csv";
import type { GroupedEmbeddings } from "./series";

export const groupCsvColumns = ["row", "seriesInstanceUid", "studyInstanceUid", "modality", "description", "images"] as const;

/** The CSV text for the groups (CRLF line ends, as spreadsheets expect); `extra` adds one column. */
export function groupCsv(g: GroupedEmbeddings, extra?: { name: string; values: ArrayLike<number> }): string {
	const lines = [[...groupCsvColumns, ...(extra ? [extra.name] : [])].join(",")];
	g.groups.forEach((x, i) => {
		const cells: (string | number | undefined)[] = [i, x.seriesInstanceUid, x.studyInstanceUid, x.modality, x.description, x.members.length];
		if (extra) cells.push(extra.values[i]);
		lines.push(cells.map(csvCell).join(","));
	});
	return lines.join("\r\n") + "\r\n";
}
