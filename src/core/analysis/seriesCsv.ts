/**
 * The CSV of series (or study) embeddings, without any node import (the results view's host logic
 * also runs in the browser test harness): row → UIDs, modality, description, image count.
 */
import type { GroupedEmbeddings } from "./series";

export const groupCsvColumns = ["row", "seriesInstanceUid", "studyInstanceUid", "modality", "description", "images"] as const;

/**
 * One CSV cell. Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
 * apostrophe; a cell with a comma, quote or line break is quoted with its quotes doubled.
 */
export function guardedCsvCell(v: string | number | undefined): string {
	if (v === undefined) return "";
	if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
	const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
	return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The CSV text for the groups (CRLF line ends, as spreadsheets expect); `extra` adds one column. */
export function groupCsv(g: GroupedEmbeddings, extra?: { name: string; values: ArrayLike<number> }): string {
	const lines = [[...groupCsvColumns, ...(extra ? [extra.name] : [])].join(",")];
	g.groups.forEach((x, i) => {
		const cells: (string | number | undefined)[] = [i, x.seriesInstanceUid, x.studyInstanceUid, x.modality, x.description, x.members.length];
		if (extra) cells.push(extra.values[i]);
		lines.push(cells.map(guardedCsvCell).join(","));
	});
	return lines.join("\r\n") + "\r\n";
}
