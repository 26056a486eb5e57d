/**
 * Reading an HTTP response body with a cap, the one way every client here does it (the endpoint
 * client's answers and error snippets, the DICOMweb client's instances and JSON): as a stream, never
 * holding more than `cap` bytes; above the cap it stops reading and cancels the body.
 */

export type CappedBody = { ok: true; bytes: Buffer } | { ok: false; bytes: number };

/**
 * At most `cap` bytes of `res`'s body. Above that (or when Content-Length already says so) it stops,
 * cancels the body and resolves `{ ok: false, bytes }` with how many bytes it had seen (or were
 * declared) — unless `truncate` is set: then it resolves with the first `cap` bytes (for the snippet
 * of an error answer).
 */
export async function readBodyCapped(res: Response, cap: number, options: { truncate?: boolean } = {}): Promise<CappedBody> {
	const declared = Number(res.headers.get("content-length"));
	if (!options.truncate && res.headers.has("content-length") && Number.isFinite(declared) && declared > cap) {
		await res.body?.cancel().catch(() => undefined);
		return { ok: false, bytes: declared };
	}
	if (!res.body) return { ok: true, bytes: Buffer.alloc(0) };
	const reader = res.body.getReader();
	const chunks: Uint8Array[] = [];
	let total = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		total += value.byteLength;
		if (total > cap || (options.truncate && total === cap)) {
			await reader.cancel().catch(() => undefined);
			if (!options.truncate) return { ok: false, bytes: total };
			chunks.push(value);
			break;
		}
		chunks.push(value);
	}
	const bytes = Buffer.concat(chunks);
	return { ok: true, bytes: options.truncate && bytes.length > cap ? bytes.subarray(0, cap) : bytes };
}
