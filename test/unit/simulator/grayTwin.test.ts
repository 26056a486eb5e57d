// The simulated endpoint, like MedImageInsight, turns a gray PNG into RGB before it computes its
// vector: an 8-bit grayscale PNG and its RGB twin (three equal channels) give the same vector.
// Through the real simulator server on 127.0.0.1.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { encodePng } from "../../../src/core/png/encodePng";
import { startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";

const key = "gray-twin-key";

async function embed(sim: SimulatorHandle, pngs: Uint8Array[]): Promise<number[][]> {
	const rows = pngs.map((p) => [Buffer.from(p).toString("base64"), ""]);
	const res = await fetch(sim.url, {
		method: "POST",
		headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
		body: JSON.stringify({ input_data: { columns: ["image", "text"], index: rows.map((_, i) => i), data: rows }, params: {} }),
	});
	assert.equal(res.status, 200);
	const out = (await res.json()) as { image_features: number[][] }[];
	return out.map((r) => r.image_features[0]!);
}

function colourType(png: Uint8Array): number {
	return png[25] as number;
}

void describe("simulated endpoint: gray PNG and its RGB twin", () => {
	let sim: SimulatorHandle;
	before(async () => (sim = await startSimulator({ key })));
	after(async () => sim?.close());

	void it("gives the same vector for a grayscale PNG and the RGB PNG of the same pixels, and a different one for a different image", async () => {
		const width = 96;
		const height = 72;
		const gray = Uint8Array.from({ length: width * height }, (_, i) => Math.round(127 + 120 * Math.sin((i % width) / 9) * Math.cos(Math.floor(i / width) / 7)));
		const other = Uint8Array.from(gray, (v, i) => (i % width < width / 2 ? 255 - v : v));
		const g = encodePng(gray, width, height, 1, { level: 1 });
		const c = encodePng(gray, width, height, 1, { level: 6, rgb: true });
		assert.deepEqual([colourType(g), colourType(c)], [0, 2]);
		assert.notDeepEqual(Buffer.from(g), Buffer.from(c));
		const [vg, vc, vo] = await embed(sim, [g, c, encodePng(other, width, height, 1, { level: 1 })]);
		assert.equal(vg!.length, 1024);
		assert.deepEqual(vg, vc);
		assert.notDeepEqual(vg, vo);
	});

	void it("gives the same vector for a DICOM converted in the default (gray) and in the RGB mode", async () => {
		const rows = 64;
		const columns = 80;
		const mr = writeDicom({ rows, columns, bitsAllocated: 16, pixels: Array.from({ length: rows * columns }, (_, i) => ((i % columns) * (i % 13) + Math.floor(i / columns) * 17) % 3000), modality: "MR" });
		const gray = await convertDicomBytes(mr, defaultConvertOptions);
		const rgb = await convertDicomBytes(mr, { ...defaultConvertOptions, grayscalePng: false });
		if (gray.kind !== "image" || rgb.kind !== "image") return assert.fail("did not convert");
		assert.deepEqual([colourType(gray.png), colourType(rgb.png)], [0, 2]);
		const [a, b] = await embed(sim, [gray.png, rgb.png]);
		assert.deepEqual(a, b);
	});
});
