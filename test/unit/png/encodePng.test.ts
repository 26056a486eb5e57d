// PNG round trip: what encodeRgbPng writes, pngjs reads back pixel for pixel.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import { encodeRgbPng, PNG_FILTER_ADAPTIVE } from "../../../src/core/png/encodePng";

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

void test("every filter type (None, Sub, Up, Average, Paeth, adaptive) round-trips gray and RGB exactly", () => {
	const width = 29;
	const height = 13;
	// Gradients, steps and noise, so that every filter sees negative and wrapping differences.
	let s = 12345;
	const noise = (): number => (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
	const gray = Uint8Array.from({ length: width * height }, (_, i) => ((i % width) * 9 + (i > 200 ? 128 : 0) + (noise() & 7)) & 0xff);
	const rgb = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i % 3 === 0 ? noise() : (i * 5) & 0xff));
	for (const filter of [0, 1, 2, 3, 4, PNG_FILTER_ADAPTIVE]) {
		const g = decode(encodeRgbPng(gray, width, height, 1, 6, filter));
		const c = decode(encodeRgbPng(rgb, width, height, 3, 1, filter));
		for (let i = 0; i < width * height; i++) {
			const v = gray[i];
			assert.deepEqual([g.data[4 * i], g.data[4 * i + 1], g.data[4 * i + 2]], [v, v, v], `gray pixel ${i}, filter ${filter}`);
			assert.deepEqual([c.data[4 * i], c.data[4 * i + 1], c.data[4 * i + 2]], [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]], `RGB pixel ${i}, filter ${filter}`);
		}
	}
});

void test("the zlib level is honoured: level 0 stores, level 9 compresses a smooth image further than level 1", () => {
	const width = 200;
	const height = 150;
	const gray = Uint8Array.from({ length: width * height }, (_, i) => Math.round(128 + 100 * Math.sin((i % width) / 13) * Math.cos(Math.floor(i / width) / 17)));
	const sizes = [0, 1, 9].map((level) => encodeRgbPng(gray, width, height, 1, level).length);
	const [l0 = 0, l1 = 0, l9 = 0] = sizes;
	assert.ok(l0 > width * height * 3, `level 0 keeps every filtered byte (${l0})`);
	assert.ok(l9 < l1 && l1 < l0, `sizes by level 0/1/9: ${sizes.join("/")}`);
});

void test("chunks are well formed: IHDR, one IDAT, IEND, each with a correct CRC", () => {
	const png = encodeRgbPng(Uint8Array.from([0, 128, 255, 7]), 2, 2, 1, 1);
	const b = Buffer.from(png);
	assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	const types: string[] = [];
	for (let o = 8; o < b.length; ) {
		const len = b.readUInt32BE(o);
		const type = b.toString("latin1", o + 4, o + 8);
		types.push(type);
		// CRC-32 of type + data, computed here bit by bit.
		let c = 0xffffffff;
		for (const byte of b.subarray(o + 4, o + 8 + len)) {
			c ^= byte;
			for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
		}
		assert.equal(b.readUInt32BE(o + 8 + len), (c ^ 0xffffffff) >>> 0, `${type} CRC`);
		o += 12 + len;
	}
	assert.deepEqual(types, ["IHDR", "IDAT", "IEND"]);
	assert.deepEqual([b.readUInt32BE(16), b.readUInt32BE(20), b[24], b[25], b[26], b[27], b[28]], [2, 2, 8, 2, 0, 0, 0]);
});

void test("consecutive images of different sizes do not leak into each other (the filter buffer is reused)", () => {
	const big = encodeRgbPng(new Uint8Array(300 * 200).fill(255), 300, 200, 1, 1);
	assert.ok(big.length > 0);
	const small = Uint8Array.from({ length: 5 * 4 }, (_, i) => i * 3);
	for (const filter of [0, 1, 2, 4]) {
		const back = decode(encodeRgbPng(small, 5, 4, 1, 1, filter));
		assert.deepEqual([back.width, back.height], [5, 4]);
		for (let i = 0; i < 20; i++) assert.equal(back.data[4 * i], small[i], `pixel ${i}, filter ${filter}`);
	}
});
