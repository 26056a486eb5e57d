// The thread's reusable conversion arrays (src/core/util/scratch.ts): every array handed out is zero-filled
// like a new one, one conversion holds them at a time, and conversions interleaved on one thread (or
// following a larger one) give exactly the pictures they give alone.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { convertDicomFile } from "../../../src/core/dicom/convertFile";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { giveBackScratch, Scratch, takeScratch } from "../../../src/core/util/scratch";
import { writeDicom, writeDicomAsync, type DicomWriteSpec } from "../../../src/devtools/dicomWriter";

/** A picture with content that depends on `seed` (so two images never look alike). */
function spec(rows: number, columns: number, seed: number, extra: Partial<DicomWriteSpec> = {}): DicomWriteSpec {
	return {
		rows,
		columns,
		bitsAllocated: 16,
		bitsStored: 12,
		pixels: Array.from({ length: rows * columns }, (_, i) => (i * (seed + 3) + Math.floor(i / columns) * seed * 7) % 4096),
		modality: "CT",
		...extra,
	};
}

async function png(bytes: Uint8Array): Promise<Buffer> {
	const out = await convertDicomBytes(bytes, defaultConvertOptions);
	assert.equal(out.kind, "image", JSON.stringify(out));
	return Buffer.from(out.kind === "image" ? out.png : new Uint8Array(0));
}

void describe("conversion scratch arrays", () => {
	void it("hands out zero-filled arrays of the exact length, also when a buffer is reused", () => {
		const s = new Scratch();
		const a = s.float32("values", 1000);
		a.fill(7);
		const b = s.float32("values", 600);
		assert.equal(b.length, 600);
		assert.ok(b.every((v) => v === 0), "reused float32 is zero-filled");
		assert.equal(b.buffer, a.buffer, "the same buffer, reused");
		const c = s.uint8("window", 50);
		c.fill(255);
		assert.ok(s.uint8("window", 50).every((v) => v === 0));
		assert.ok(s.int32("samples", 10).every((v) => v === 0));
		// Another role never shares a buffer.
		assert.notEqual(s.float32("samples", 10).buffer, s.float32("values", 10).buffer);
		assert.ok(s.keptBytes >= 4000 + 50 + 40);
	});

	void it("is held by one conversion at a time", () => {
		const first = takeScratch();
		assert.ok(first, "the thread's scratch is free between conversions");
		assert.equal(takeScratch(), undefined, "not handed out twice");
		giveBackScratch(first);
		const again = takeScratch();
		assert.equal(again, first);
		giveBackScratch(again);
	});

	void it("conversions interleaved on one thread, and after a larger one, give the pictures they give alone", async () => {
		// Codec files await their decoder, so their conversions interleave with the native ones.
		const files: Uint8Array[] = [
			writeDicom(spec(300, 280, 1)),
			await writeDicomAsync({ ...spec(64, 80, 2), transferSyntax: "j2k" }),
			writeDicom(spec(40, 30, 3, { pixelRepresentation: 1, bitsStored: 16, pixels: Array.from({ length: 1200 }, (_, i) => -500 + ((i * 37) % 1500)) })),
			await writeDicomAsync({ ...spec(90, 70, 4), transferSyntax: "jpegLs" }),
			writeDicom({ rows: 50, columns: 60, bitsAllocated: 8, samplesPerPixel: 3, pixels: Array.from({ length: 9000 }, (_, i) => (i * 13) % 256), modality: "US" }),
			writeDicom(spec(20, 20, 5)),
		];
		const alone: Buffer[] = [];
		for (const f of files) alone.push(await png(f));
		const together = await Promise.all(files.map((f) => png(f)));
		together.forEach((p, i) => assert.deepEqual(p, alone[i], `file ${i} converted alongside the others`));
		// Small after large, in both orders, repeatedly: no leftovers of the larger picture.
		for (const order of [[0, 5, 2, 5], [5, 0, 5]]) for (const i of order) assert.deepEqual(await png(files[i]!), alone[i], `file ${i} in order ${order.join(",")}`);
	});

	void it("convertDicomFile reads into the scratch and gives the same picture as from bytes", async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-scratch-"));
		try {
			const big = writeDicom(spec(400, 400, 6));
			const small = writeDicom(spec(30, 20, 7));
			fs.writeFileSync(path.join(dir, "big.dcm"), big);
			fs.writeFileSync(path.join(dir, "small.dcm"), small);
			for (const [name, bytes] of [["big.dcm", big], ["small.dcm", small], ["big.dcm", big], ["small.dcm", small]] as const) {
				const r = await convertDicomFile(path.join(dir, name), defaultConvertOptions);
				assert.equal(r.outcome.kind, "image");
				assert.deepEqual(Buffer.from(r.outcome.kind === "image" ? r.outcome.png : new Uint8Array(0)), await png(bytes), name);
			}
			const both = await Promise.all(["big.dcm", "small.dcm", "big.dcm"].map((n) => convertDicomFile(path.join(dir, n), defaultConvertOptions)));
			assert.deepEqual(Buffer.from(both[1]!.outcome.kind === "image" ? both[1]!.outcome.png : new Uint8Array(0)), await png(small));
			assert.deepEqual(Buffer.from(both[2]!.outcome.kind === "image" ? both[2]!.outcome.png : new Uint8Array(0)), await png(big));
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
