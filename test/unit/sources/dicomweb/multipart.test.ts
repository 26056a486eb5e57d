import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseContentType, readMultipart, type MultipartPart } from "../../../../src/core/sources/dicomweb/multipart";

const enc = new TextEncoder();

function body(boundary: string, parts: Uint8Array[], { preamble = "", epilogue = "\r\n", close = true } = {}): Uint8Array {
	const pieces: Uint8Array[] = [enc.encode(preamble)];
	parts.forEach((p, i) => {
		pieces.push(enc.encode(`${i === 0 && !preamble ? "" : "\r\n"}--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${p.length}\r\n\r\n`));
		pieces.push(p);
	});
	if (close) pieces.push(enc.encode(`\r\n--${boundary}--${epilogue}`));
	return Buffer.concat(pieces);
}

async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
	for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function collect(it: AsyncIterable<MultipartPart>): Promise<MultipartPart[]> {
	const out: MultipartPart[] = [];
	for await (const p of it) out.push(p);
	return out;
}

/** Bytes that contain pieces of the boundary, CRLFs and dashes, as DICOM pixel data can. */
function tricky(n: number, boundary: string, seed: number): Uint8Array {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
	const near = enc.encode(`\r\n--${boundary.slice(0, -1)}X\r\n--`);
	b.set(near.subarray(0, Math.min(near.length, n)), Math.floor(n / 3));
	return b;
}

void describe("multipart/related reader", () => {
	void it("reads the media type's boundary, quoted or not", () => {
		assert.deepEqual(parseContentType('multipart/related; type="application/dicom"; boundary="a b;c"'), { type: "multipart/related", params: { type: "application/dicom", boundary: "a b;c" } });
		assert.equal(parseContentType("Multipart/Related;boundary=xyz-1").params["boundary"], "xyz-1");
		assert.equal(parseContentType("application/dicom").type, "application/dicom");
	});

	void it("gives back every part byte for byte, whatever the chunking, even with boundary look-alikes inside", async () => {
		const boundary = "332e25d9-0b8a-490f";
		const parts = [tricky(1000, boundary, 1), tricky(1, boundary, 2), new Uint8Array(0), tricky(70_000, boundary, 3)];
		const bytes = body(boundary, parts, { preamble: "ignored preamble\r\n" });
		for (const size of [1, 2, 3, 7, 64, 1000, 65_536, bytes.length]) {
			const got = await collect(readMultipart(chunks(bytes, size), boundary, 1 << 20));
			assert.equal(got.length, parts.length, `chunk size ${size}`);
			got.forEach((p, i) => {
				assert.deepEqual(Buffer.from(p.body), Buffer.from(parts[i]!), `part ${i}, chunk size ${size}`);
				assert.equal(p.headers["content-type"], "application/dicom");
			});
		}
	});

	void it("a body that stops inside a part is an error, not a short instance", async () => {
		const boundary = "b0";
		const bytes = body("b0", [tricky(500, boundary, 4)], { close: false }).slice(0, 300);
		await assert.rejects(collect(readMultipart(chunks(bytes, 50), boundary, 1 << 20)), /truncated/);
	});

	void it("a part above the cap is refused before it is held", async () => {
		const boundary = "cap";
		let produced = 0;
		async function* endless(): AsyncGenerator<Uint8Array> {
			yield enc.encode(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
			for (;;) {
				produced += 65_536;
				yield new Uint8Array(65_536);
			}
		}
		await assert.rejects(collect(readMultipart(endless(), boundary, 1 << 20)), /larger than 1 MB/);
		assert.ok(produced <= 2 * (1 << 20) + 65_536, `read ${produced} bytes of an endless part`);
	});

	void it("an answer without the boundary is an error", async () => {
		await assert.rejects(collect(readMultipart(chunks(enc.encode("<html>login</html>"), 5), "zzz", 1000)), /before its first multipart boundary/);
	});
});
