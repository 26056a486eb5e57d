/**
 * The request body of the scoring contract (PRODUCT.md §2) and the size arithmetic used to keep a
 * batch under the payload cap.
 */

/** One row of a request: an image (base64 PNG, text empty) or a text (image empty). */
export interface PayloadRow {
	image: string;
	text: string;
}

/** `{"input_data":{"columns":["image","text"],"index":[],"data":[]},"params":{}}` without rows. */
const emptyBodyBytes = 76;

/** The JSON body for `rows`, exactly as the endpoint expects it. */
export function buildPayload(rows: readonly PayloadRow[]): string {
	return JSON.stringify({
		input_data: {
			columns: ["image", "text"],
			index: rows.map((_, i) => i),
			data: rows.map((r) => [r.image, r.text]),
		},
		params: {},
	});
}

/**
 * Bytes a row adds to the body at position `index`: `["<image>","<text>"]` and its index, each with
 * a separating comma (UTF-8 bytes, after JSON escaping).
 */
export function rowPayloadBytes(row: PayloadRow, index: number): number {
	const text = Buffer.byteLength(JSON.stringify(row.text)) - 2;
	return row.image.length + text + 7 + 1 + String(index).length + 1;
}

/** Size in bytes of `buildPayload(rows)`, without building it. */
export function payloadBytes(rows: readonly PayloadRow[]): number {
	let n = emptyBodyBytes;
	rows.forEach((r, i) => (n += rowPayloadBytes(r, i)));
	// The first row has no separating commas (one in "index", one in "data").
	return rows.length > 0 ? n - 2 : n;
}

/**
 * Cuts `rows` into consecutive groups of at most `maxRows` rows whose body stays at or under `maxBytes`.
 * A row too large on its own ends up alone in its group (the caller decides what to do with it).
 */
export function splitByPayload<T extends PayloadRow>(rows: readonly T[], maxRows: number, maxBytes: number): T[][] {
	const groups: T[][] = [];
	let current: T[] = [];
	let bytes = emptyBodyBytes;
	for (const row of rows) {
		const add = rowPayloadBytes(row, current.length);
		if (current.length > 0 && (current.length >= maxRows || bytes + add > maxBytes)) {
			groups.push(current);
			current = [];
			bytes = emptyBodyBytes;
		}
		current.push(row);
		bytes += rowPayloadBytes(row, current.length - 1);
	}
	if (current.length > 0) groups.push(current);
	return groups;
}

/** Length of the base64 text of `bytes` bytes (with padding). */
export function base64Length(bytes: number): number {
	return 4 * Math.ceil(bytes / 3);
}

/**
 * Size in bytes of the request body that carries PNGs of these sizes (text cells empty), as
 * `buildPayload` writes it: the same as `payloadBytes` of those rows, without encoding anything.
 */
export function imagePayloadBytes(pngByteLengths: readonly number[]): number {
	let n = emptyBodyBytes;
	pngByteLengths.forEach((b, i) => (n += base64Length(b) + 7 + 1 + String(i).length + 1));
	return pngByteLengths.length > 0 ? n - 2 : n;
}
