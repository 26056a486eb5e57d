// PNG round trip: what encodeRgbPng writes, pngjs reads back pixel for pixel.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import { encodeRgbPng } from "../../../src/core/png/encodePng";

function decode(png: Uint8Array): PNG {
	return PNG.sync.read(Buffer.from(png));
}

void test("gray input becomes an 8-bit RGB PNG with three equal channels", () => {
	const width = 37;
	const height = 23;
	const gray = Uint8Array.from({ length: width * height }, (_, i) => (i * 7) & 0xff);
	for (const level of [0, 1, 6, 9]) {
		const png = encodeRgbPng(gray, width, height, 1, level);
		assert.equal(png[25], 2, "IHDR colour type 2 (RGB)");
		assert.equal(png[24], 8, "IHDR bit depth 8");
		const back = decode(png);
		assert.deepEqual([back.width, back.height], [width, height]);
		for (let i = 0; i < width * height; i++) {
			const v = gray[i];
			assert.deepEqual([back.data[4 * i], back.data[4 * i + 1], back.data[4 * i + 2], back.data[4 * i + 3]], [v, v, v, 255], `pixel ${i} at level ${level}`);
		}
	}
});

void test("RGB input round-trips exactly", () => {
	const width = 16;
	const height = 9;
	const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 31 + (i >> 4)) & 0xff);
	const back = decode(encodeRgbPng(rgb, width, height, 3));
	for (let i = 0; i < width * height; i++) {
		assert.deepEqual([back.data[4 * i], back.data[4 * i + 1], back.data[4 * i + 2]], [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]]);
	}
});

void test("a buffer of the wrong size is refused", () => {
	assert.throws(() => encodeRgbPng(new Uint8Array(10), 4, 4, 1), /expected 16/);
});

void test("the PNG owns its ArrayBuffer (safe to transfer to another thread), even when tiny", () => {
	for (const size of [1, 4, 300]) {
		const png = encodeRgbPng(new Uint8Array(size * size), size, size, 1);
		assert.equal(png.byteOffset, 0);
		assert.equal(png.byteLength, png.buffer.byteLength);
	}
});
