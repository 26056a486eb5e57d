/**
 * Validation of a scoring response (PRODUCT.md §2): a JSON array with one object per row, in row order,
 * each holding a vector of finite numbers (`[[...]]` or flat), all of the same length.
 */

export interface ParsedEmbeddings {
	vectors: Float32Array[];
	/** The first row's `scaling_factor`, when the service sent one. */
	scalingFactor?: number;
}

/**
 * The plausible range of `scaling_factor` (MedImageInsight's logit scale; the reference returns about 4.5):
 * a value outside it means the answer is not what it claims to be.
 */
export const scalingFactorRange = Object.freeze({ min: 0, max: 1000 });

/** Why a response was refused; the message is one line and contains nothing from the request. */
export class MalformedResponseError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "MalformedResponseError";
	}
}

function vectorOf(value: unknown): unknown[] | undefined {
	if (!Array.isArray(value)) return undefined;
	if (value.length === 1 && Array.isArray(value[0])) return value[0] as unknown[];
	return value;
}

/**
 * Parses `body` as the answer to `rowCount` rows; `field` is `image_features` or `text_features`;
 * every vector must have `expectedDim` numbers when it is given.
 * Throws MalformedResponseError with the reason when anything is off.
 */
export function parseEmbeddingResponse(body: string, rowCount: number, field: "image_features" | "text_features", expectedDim?: number): ParsedEmbeddings {
	let data: unknown;
	try {
		data = JSON.parse(body);
	} catch {
		if (/\b(NaN|-?Infinity)\b/.test(body)) throw new MalformedResponseError("malformed response: a vector holds a non-finite number (NaN or Infinity)");
		throw new MalformedResponseError(`malformed response: not JSON (${body.length} bytes)`);
	}
	// Scoring scripts that return json.dumps(result) are serialised once more by the server: the body
	// is then a JSON string that holds the array. Unwrap that one level, no more.
	if (typeof data === "string") {
		try {
			data = JSON.parse(data);
		} catch {
			throw new MalformedResponseError("malformed response: a JSON string that does not hold JSON");
		}
	}
	if (!Array.isArray(data)) throw new MalformedResponseError("malformed response: not a JSON array");
	if (data.length !== rowCount) throw new MalformedResponseError(`malformed response: ${data.length} rows for ${rowCount} sent`);
	const vectors: Float32Array[] = [];
	let scalingFactor: number | undefined;
	let dim = -1;
	for (let i = 0; i < data.length; i++) {
		const row: unknown = data[i];
		if (typeof row !== "object" || row === null || Array.isArray(row)) throw new MalformedResponseError(`malformed response: row ${i} is not an object`);
		const record = row as Record<string, unknown>;
		const vec = vectorOf(record[field]);
		if (!vec) throw new MalformedResponseError(`malformed response: row ${i} has no ${field} vector`);
		if (vec.length === 0) throw new MalformedResponseError(`malformed response: row ${i} has an empty ${field} vector`);
		if (dim === -1) {
			if (expectedDim !== undefined && vec.length !== expectedDim) {
				throw new MalformedResponseError(`malformed response: vectors of ${vec.length} numbers, expected ${expectedDim} (the length of the embeddings already accepted)`);
			}
			dim = vec.length;
		}
		else if (vec.length !== dim) throw new MalformedResponseError(`malformed response: row ${i} has ${vec.length} numbers, row 0 has ${dim}`);
		const out = new Float32Array(dim);
		for (let j = 0; j < dim; j++) {
			const v = vec[j];
			if (typeof v !== "number" || !Number.isFinite(v)) throw new MalformedResponseError(`malformed response: row ${i} value ${j} is not a finite number`);
			out[j] = v;
		}
		vectors.push(out);
		const sf = record["scaling_factor"];
		if (sf !== undefined && sf !== null) {
			const n = Array.isArray(sf) && sf.length === 1 ? sf[0] : sf;
			if (typeof n !== "number" || !Number.isFinite(n)) throw new MalformedResponseError(`malformed response: row ${i} scaling_factor is not a finite number`);
			if (!(n > scalingFactorRange.min && n <= scalingFactorRange.max)) {
				throw new MalformedResponseError(`malformed response: row ${i} scaling_factor ${n} is outside the plausible range (above ${scalingFactorRange.min}, at most ${scalingFactorRange.max})`);
			}
			if (scalingFactor === undefined) scalingFactor = n;
		}
	}
	return scalingFactor === undefined ? { vectors } : { vectors, scalingFactor };
}
