/**
 * The one CSV writer of the project: index.csv (exportArrays.ts) and the results view's "Export
 * CSV…" (analysis/resultsSession.ts) both format their cells here. RFC 4180 quoting, and spreadsheet
 * formula guarding: a text cell that starts with = + - @ tab or CR would be run as a formula by
 * Excel, LibreOffice or Google Sheets (a file name like "=HYPERLINK(…).dcm" is enough), so it is
 * prefixed with an apostrophe. Numbers are written as numbers. Pure: no node or DOM import, so any
 * side (host, CLI, webview) can compile it.
 */

/** Text that a spreadsheet would treat as a formula. */
const formulaStart = /^[=+\-@\t\r]/;

/** One CSV cell: formula-guarded text, quoted (quotes doubled) when it holds a comma, quote or line break. */
export function csvCell(value: string | number | undefined): string {
	if (value === undefined) return "";
	if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
	const safe = formulaStart.test(value) ? `'${value}` : value;
	return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One CSV line (with its "\n"). */
export function csvLine(values: readonly (string | number | undefined)[]): string {
	return values.map(csvCell).join(",") + "\n";
}
