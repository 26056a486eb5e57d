/**
 * The study search of the DICOMweb Servers view as QIDO-RS parameters (PRODUCT.md §9). Plain
 * functions with no `vscode` import, so unit tests run them under node.
 */

/** The criteria of a study search (QIDO-RS match keys); empty ones are left out. */
export interface StudySearch {
	patientId?: string;
	patientName?: string;
	/** YYYYMMDD, YYYYMMDD-YYYYMMDD, YYYYMMDD- or -YYYYMMDD */
	studyDate?: string;
	modality?: string;
	accessionNumber?: string;
}

/** The QIDO-RS parameters of a search, in a fixed order. */
export function searchParams(c: StudySearch): [string, string][] {
	const p: [string, string][] = [];
	if (c.patientId?.trim()) p.push(["PatientID", c.patientId.trim()]);
	if (c.patientName?.trim()) p.push(["PatientName", c.patientName.trim()]);
	if (c.studyDate?.trim()) p.push(["StudyDate", c.studyDate.trim()]);
	if (c.modality?.trim()) p.push(["ModalitiesInStudy", c.modality.trim().toUpperCase()]);
	if (c.accessionNumber?.trim()) p.push(["AccessionNumber", c.accessionNumber.trim()]);
	return p;
}

function validDay(d: string): boolean {
	if (!/^\d{8}$/.test(d)) return false;
	const y = Number(d.slice(0, 4));
	const m = Number(d.slice(4, 6));
	const day = Number(d.slice(6, 8));
	const t = new Date(Date.UTC(y, m - 1, day));
	return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === day;
}

/**
 * A study date or range as a person types it → the QIDO-RS form: `2024-01-31` → `20240131`,
 * `2024-01-01 - 2024-01-31` (or `..`, `to`) → `20240101-20240131`, `2024-01-01 -` → `20240101-` (from),
 * `- 2024-01-31` → `-20240131` (until). "" for nothing; undefined when it is not a valid date or range.
 */
export function qidoDate(input: string): string | undefined {
	const t = input.trim();
	if (!t) return "";
	const m = /^(\d{4}-?\d{2}-?\d{2})?\s*(?:(-|\.\.|–|to)\s*(\d{4}-?\d{2}-?\d{2})?)?$/.exec(t);
	if (!m || (!m[1] && !m[3])) return undefined;
	const a = m[1]?.replace(/-/g, "") ?? "";
	const b = m[3]?.replace(/-/g, "") ?? "";
	for (const x of [a, b]) if (x && !validDay(x)) return undefined;
	if (a && b && a > b) return undefined;
	return m[2] ? `${a}-${b}` : a;
}
