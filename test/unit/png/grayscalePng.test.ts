// Grayscale PNGs on the wire (issue 8, item 3): a gray image is an 8-bit grayscale PNG (colour type 0)
// that an independent decoder (pngjs) reads back to exactly the gray values; colour images stay RGB;
// the RGB mode (CLI --rgb, setting medImageInsight.grayscalePng = false) gives RGB with three equal
// channels, the same pixels once gray is turned into RGB.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { constants as zlibConstants, inflateSync } from "node:zlib";
import { after, describe, it } from "node:test";
import { PNG } from "pngjs";
import { convertCommand } from "../../../src/cli/convertCommand";
import type { CliContext } from "../../../src/cli/context";
import { ProgressLine } from "../../../src/cli/progressLine";
import { convertDicomBytes } from "../../../src/core/dicom/convert";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { encodePng, encodeRgbPng, PNG_FILTER_ADAPTIVE } from "../../../src/core/png/encodePng";

/** IHDR fields read straight from the bytes: width, height, bit depth, colour type. */
function ihdr(png: Uint8Array): { width: number; height: number; depth: number; colourType: number } {
	const b = Buffer.from(png);
	assert.equal(b.toString("latin1", 12, 16), "IHDR");
	return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), depth: b[24] as number, colourType: b[25] as number };
}

/** The concatenated, inflated IDAT data (filter byte + samples per row). */
function scanlines(png: Uint8Array): Buffer {
	const b = Buffer.from(png);
	const parts: Buffer[] = [];
	for (let o = 8; o < b.length; ) {
		const len = b.readUInt32BE(o);
		if (b.toString("latin1", o + 4, o + 8) === "IDAT") parts.push(b.subarray(o + 8, o + 8 + len));
		o += 12 + len;
	}
	return inflateSync(Buffer.concat(parts));
}

/** pngjs decodes every PNG to RGBA. */
function rgba(png: Uint8Array): PNG {
	return PNG.sync.read(Buffer.from(png));
}

/** Gradients, a hard step and noise: every filter sees negative and wrapping differences. */
function grayImage(width: number, height: number, seed = 7): Uint8Array {
	let s = seed;
	const noise = (): number => (s = (s * 1103515245 + 12345) >>> 0) >>> 27;
	return Uint8Array.from({ length: width * height }, (_, i) => {
		const x = i % width;
		const y = Math.floor(i / width);
		return (x * 5 + y * 3 + (x > width / 2 ? 97 : 0) + noise()) & 0xff;
	});
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-graypng-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

void describe("encodePng: gray as 8-bit grayscale", () => {
	void it("writes colour type 0, bit depth 8, one byte per pixel, and pngjs reads back exactly the gray values (every filter and level)", () => {
		const width = 53;
		const height = 31;
		const gray = grayImage(width, height);
		for (const filter of [0, 1, 2, 3, 4, PNG_FILTER_ADAPTIVE]) {
			for (const level of [0, 1, 6, 9]) {
				const png = encodePng(gray, width, height, 1, { level, filter });
				assert.deepEqual(ihdr(png), { width, height, depth: 8, colourType: 0 }, `filter ${filter} level ${level}`);
				assert.equal(scanlines(png).length, height * (width + 1), "one filter byte and one sample per pixel per row");
				const back = rgba(png);
				for (let i = 0; i < width * height; i++) {
					const v = gray[i];
					if (back.data[4 * i] !== v || back.data[4 * i + 1] !== v || back.data[4 * i + 2] !== v || back.data[4 * i + 3] !== 255) {
						assert.fail(`pixel ${i} (filter ${filter}, level ${level}): expected ${String(v)}, got ${[...back.data.subarray(4 * i, 4 * i + 4)].join(",")}`);
					}
				}
			}
		}
	});

	void it("the RGB mode writes colour type 2 with three equal channels: the same RGB once decoded", () => {
		const width = 40;
		const height = 25;
		const gray = grayImage(width, height, 99);
		const g = encodePng(gray, width, height, 1, { level: 1 });
		const c = encodePng(gray, width, height, 1, { level: 1, rgb: true });
		assert.equal(ihdr(c).colourType, 2);
		assert.equal(scanlines(c).length, height * (width * 3 + 1));
		assert.deepEqual(rgba(g).data, rgba(c).data);
		// encodeRgbPng keeps the reference's RGB layout.
		assert.equal(ihdr(encodeRgbPng(gray, width, height, 1, 1)).colourType, 2);
		assert.ok(g.length < c.length, `gray ${g.length} B < RGB ${c.length} B`);
	});

	void it("colour input stays RGB (colour type 2) whatever the mode, and round-trips exactly", () => {
		const width = 17;
		const height = 11;
		const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 3)) & 0xff);
		for (const png of [encodePng(rgb, width, height, 3, { level: 1 }), encodePng(rgb, width, height, 3, { level: 6, rgb: true })]) {
			assert.equal(ihdr(png).colourType, 2);
			const back = rgba(png);
			for (let i = 0; i < width * height; i++) {
				assert.deepEqual([back.data[4 * i], back.data[4 * i + 1], back.data[4 * i + 2]], [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]], `pixel ${i}`);
			}
		}
	});

	// 96×64 is encoded both ways in full; 400×300 (above 16,384 pixels) is judged on a sample of its rows.
	for (const [width, height] of [[96, 64], [400, 300]] as const) {
		void it(`a colour image (${width}×${height}) is encoded filtered or unfiltered, whichever is smaller: each kind of picture gets the one that suits it`, () => {
			const same = (png: Uint8Array, rgb: Uint8Array): void => {
				const back = rgba(png);
				for (let i = 0; i < width * height; i++) assert.deepEqual([back.data[4 * i], back.data[4 * i + 1], back.data[4 * i + 2]], [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]], `pixel ${i}`);
			};
			// A screen-capture-like picture: an 8×8 tile of arbitrary colours repeated (zlib finds the repeats
			// unfiltered; the filters turn the tile edges into residuals that differ from row to row).
			let seed = 7;
			const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
			const tile = Uint8Array.from({ length: 8 * 8 * 3 }, rnd);
			const tiled = new Uint8Array(width * height * 3);
			for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) tiled[3 * (y * width + x) + c] = tile[3 * ((y % 8) * 8 + (x % 8)) + c] as number;
			// A photograph-like picture: smooth colour gradients with a little noise (the filters leave small residuals).
			const smooth = new Uint8Array(width * height * 3);
			for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) smooth[3 * (y * width + x) + c] = (x * (c + 1) + y * 2 + (rnd() & 3)) & 0xff;
			for (const [name, rgb, winner] of [["tiled", tiled, "unfiltered"], ["smooth", smooth, "filtered"]] as const) {
				const filtered = encodePng(rgb, width, height, 3, { filter: PNG_FILTER_ADAPTIVE, level: 4, strategy: zlibConstants.Z_FILTERED });
				const unfiltered = encodePng(rgb, width, height, 3, { filter: 0, level: 6, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
				const chosen = encodePng(rgb, width, height, 3);
				assert.ok(winner === "unfiltered" ? unfiltered.length < filtered.length : filtered.length < unfiltered.length, `${name}: filtered ${filtered.length} B, unfiltered ${unfiltered.length} B`);
				assert.equal(chosen.length, Math.min(filtered.length, unfiltered.length), `${name}: the smaller is kept`);
				assert.deepEqual(Buffer.from(chosen), Buffer.from(winner === "unfiltered" ? unfiltered : filtered), name);
				same(chosen, rgb);
			}
		});
	}

	void it("refuses a buffer of the wrong size or a channel count other than 1 or 3", () => {
		assert.throws(() => encodePng(new Uint8Array(10), 4, 4, 1), /expected 16/);
		assert.throws(() => encodePng(new Uint8Array(32), 4, 4, 2 as 1), /2 channels/);
	});

	void it("one-pixel-wide and one-row images encode and decode (filter edge cases)", () => {
		for (const [w, h] of [[1, 9], [9, 1], [1, 1]] as const) {
			const gray = grayImage(w, h, w * 10 + h);
			for (const filter of [1, 2, 3, 4, PNG_FILTER_ADAPTIVE]) {
				const back = rgba(encodePng(gray, w, h, 1, { level: 1, filter }));
				assert.deepEqual(
					Array.from({ length: w * h }, (_, i) => back.data[4 * i]),
					[...gray],
					`${w}×${h} filter ${filter}`,
				);
			}
		}
	});
});

void describe("convertDicomBytes: PNG mode", () => {
	const rows = 48;
	const columns = 64;
	const ct = writeDicom({ rows, columns, bitsAllocated: 16, bitsStored: 12, pixels: Array.from({ length: rows * columns }, (_, i) => ((i * 7919) % 4000) + (i % columns) * 3), modality: "CT" });
	const colour = writeDicom({
		rows,
		columns,
		bitsAllocated: 8,
		samplesPerPixel: 3,
		pixels: Array.from({ length: rows * columns * 3 }, (_, i) => (i % 3 === 0 ? (i >> 2) & 0xff : i % 3 === 1 ? 200 - ((i >> 5) & 0x7f) : (i * 13) & 0xff)),
		modality: "US",
	});

	void it("a gray DICOM becomes a grayscale PNG by default and RGB with grayscalePng false; both decode to the same RGB", async () => {
		const gray = await convertDicomBytes(ct, { ...defaultConvertOptions, thumbnailSize: 16 });
		const rgb = await convertDicomBytes(ct, { ...defaultConvertOptions, thumbnailSize: 16, grayscalePng: false });
		if (gray.kind !== "image" || rgb.kind !== "image") return assert.fail("did not convert");
		assert.equal(ihdr(gray.png).colourType, 0);
		assert.equal(ihdr(rgb.png).colourType, 2);
		assert.equal(ihdr(gray.thumbnail!).colourType, 0);
		assert.equal(ihdr(rgb.thumbnail!).colourType, 2);
		const a = rgba(gray.png);
		assert.deepEqual(a.data, rgba(rgb.png).data);
		// Not a blank picture: the window spreads the values.
		assert.ok(new Set(Array.from({ length: rows * columns }, (_, i) => a.data[4 * i])).size > 100);
	});

	void it("a colour DICOM stays RGB in both modes, with the same bytes", async () => {
		const gray = await convertDicomBytes(colour, defaultConvertOptions);
		const rgb = await convertDicomBytes(colour, { ...defaultConvertOptions, grayscalePng: false });
		if (gray.kind !== "image" || rgb.kind !== "image") return assert.fail("did not convert");
		assert.equal(ihdr(gray.png).colourType, 2);
		assert.deepEqual(Buffer.from(gray.png), Buffer.from(rgb.png));
	});

	// An RGB DICOM whose pixels are all R = G = B (ultrasound or screen captures stored as RGB, say).
	const grayAsRgb = (colouredPixel?: number) =>
		writeDicom({
			rows,
			columns,
			bitsAllocated: 8,
			samplesPerPixel: 3,
			pixels: Array.from({ length: rows * columns * 3 }, (_, i) => {
				const p = Math.floor(i / 3);
				const v = ((p * 37) % 251) ^ (p >> 6);
				return p === colouredPixel && i % 3 === 1 ? (v + 1) & 0xff : v;
			}),
			modality: "US",
		});

	void it("an RGB DICOM without any colour is sent as a grayscale PNG that decodes to exactly the RGB picture (--rgb keeps RGB)", async () => {
		const file = grayAsRgb();
		const gray = await convertDicomBytes(file, { ...defaultConvertOptions, thumbnailSize: 16 });
		const rgb = await convertDicomBytes(file, { ...defaultConvertOptions, thumbnailSize: 16, grayscalePng: false });
		if (gray.kind !== "image" || rgb.kind !== "image") return assert.fail("did not convert");
		assert.equal(ihdr(gray.png).colourType, 0);
		assert.equal(ihdr(gray.thumbnail!).colourType, 0);
		assert.equal(ihdr(rgb.png).colourType, 2);
		assert.deepEqual(rgba(gray.png).data, rgba(rgb.png).data);
		assert.ok(gray.png.byteLength < rgb.png.byteLength * 0.6, `gray ${gray.png.byteLength} B vs RGB ${rgb.png.byteLength} B`);
	});

	void it("one coloured pixel keeps the picture RGB", async () => {
		const out = await convertDicomBytes(grayAsRgb(rows * columns - 1), defaultConvertOptions);
		if (out.kind !== "image") return assert.fail("did not convert");
		assert.equal(ihdr(out.png).colourType, 2);
		const px = rgba(out.png).data;
		const last = 4 * (rows * columns - 1);
		assert.notEqual(px[last], px[last + 1], "the coloured pixel survives");
	});

	void it("CLI convert writes grayscale PNGs by default, RGB with --rgb (real worker threads)", async () => {
		const input = path.join(tmp, "in");
		fs.mkdirSync(input, { recursive: true });
		fs.writeFileSync(path.join(input, "ct.dcm"), ct);
		fs.writeFileSync(path.join(input, "us.dcm"), colour);
		const said: string[] = [];
		const ctx: CliContext = {
			signal: new AbortController().signal,
			workerScript: path.resolve(__dirname, "../../../src/workers/convertWorker.js"),
			logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: unknown) => said.push(String(m)) },
			progress: new ProgressLine(process.stderr, 3_600_000),
			say: (line) => said.push(line),
		};
		const grayOut = path.join(tmp, "gray");
		const rgbOut = path.join(tmp, "rgb");
		assert.equal(await convertCommand([input, "--out", grayOut, "--workers", "1"], ctx), 0, said.join("\n"));
		assert.equal(await convertCommand(["--rgb", input, "--out", rgbOut, "--workers", "1"], ctx), 0, said.join("\n"));
		const read = (dir: string, name: string) => new Uint8Array(fs.readFileSync(path.join(dir, name)));
		assert.equal(ihdr(read(grayOut, "ct.dcm.png")).colourType, 0);
		assert.equal(ihdr(read(rgbOut, "ct.dcm.png")).colourType, 2);
		assert.equal(ihdr(read(grayOut, "us.dcm.png")).colourType, 2);
		assert.equal(ihdr(read(rgbOut, "us.dcm.png")).colourType, 2);
		assert.deepEqual(rgba(read(grayOut, "ct.dcm.png")).data, rgba(read(rgbOut, "ct.dcm.png")).data);
	});
});
