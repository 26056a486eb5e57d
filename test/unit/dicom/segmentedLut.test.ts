// Segmented palette LUTs (PS3.3 C.7.9.2), expanded by hand.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { expandSegmentedLut } from "../../../src/core/dicom/color";

void test("discrete, linear and indirect segments expand as the standard describes", () => {
	// Discrete 10 20 30; linear 4 steps from 30 to 70; indirect: one segment copied from word 0.
	const data = Uint16Array.from([0, 3, 10, 20, 30, 1, 4, 70, 2, 1, 0, 0]);
	assert.deepEqual([...expandSegmentedLut(data, 10)], [10, 20, 30, 40, 50, 60, 70, 10, 20, 30]);
	// More entries than the segments give: the last value repeats; fewer: cut.
	assert.deepEqual([...expandSegmentedLut(data, 12)], [10, 20, 30, 40, 50, 60, 70, 10, 20, 30, 30, 30]);
	assert.deepEqual([...expandSegmentedLut(data, 5)], [10, 20, 30, 40, 50]);
});

void test("a linear ramp truncates toward zero, down as well as up, and a long table grows past its first guess", () => {
	// From 0 up to 10 in 3 steps: 3.33 → 3, 6.67 → 6, 10; then down to 0 in 4 steps: 7.5 → 7, 5, 2.5 → 2, 0.
	assert.deepEqual([...expandSegmentedLut(Uint16Array.from([0, 1, 0, 1, 3, 10, 1, 4, 0]), 8)], [0, 3, 6, 10, 7, 5, 2, 0]);
	const ramp = expandSegmentedLut(Uint16Array.from([0, 1, 0, 1, 65535, 65535]), 65536);
	assert.equal(ramp.length, 65536);
	assert.deepEqual([ramp[0], ramp[1], ramp[1000], ramp[65535]], [0, 1, 1000, 65535]);
});

void test("unknown opcodes are refused", () => {
	assert.throws(() => expandSegmentedLut(Uint16Array.from([7, 1, 0]), 4), /unknown opcode 7/);
});
