/**
 * Generated DICOM sets for the converter benches (CT, MR, US, CR), written with the project's own
 * writer. Deterministic (seeded): the same files on every run.
 */
import { writeDicom } from "../src/devtools/dicomWriter";

/** Deterministic pseudo-random numbers. */
export function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** A CT-like 512×512 slice: air, a body ellipse, bone ring, organs, noise (HU + 1024 stored, slope 1). */
export function ctSlice(seed: number): number[] {
	const r = rng(seed);
	const n = 512;
	const out = new Array<number>(n * n);
	const cx = 256 + (r() - 0.5) * 20;
	const cy = 256 + (r() - 0.5) * 20;
	for (let y = 0; y < n; y++) {
		for (let x = 0; x < n; x++) {
			const dx = (x - cx) / 200;
			const dy = (y - cy) / 150;
			const d = dx * dx + dy * dy;
			let hu = -1000;
			if (d < 1) hu = 40;
			if (d > 0.85 && d < 1) hu = 700;
			const ox = (x - cx + 60) / 50;
			const oy = (y - cy) / 40;
			if (ox * ox + oy * oy < 1) hu = 60;
			hu += (r() - 0.5) * 40;
			out[y * n + x] = Math.max(0, Math.round(hu + 1024));
		}
	}
	return out;
}

/** A 2048×2500 radiograph, 12 bits stored: smooth gradients, a bright body, noise. */
export function radiograph(seed: number): number[] {
	const r = rng(seed);
	const w = 2048;
	const h = 2500;
	const out = new Array<number>(w * h);
	for (let y = 0; y < h; y++) {
		for (let x = 0; x < w; x++) {
			const dx = (x - 1024) / 800;
			const dy = (y - 1250) / 1100;
			const body = dx * dx + dy * dy < 1 ? 1800 + 600 * Math.cos(x / 90) * Math.sin(y / 120) : 200;
			out[y * w + x] = Math.min(4095, Math.max(0, Math.round(body + y * 0.3 + (r() - 0.5) * 60)));
		}
	}
	return out;
}

/** A 256×256 MR slice (head-like): background noise, skull ring, brain with structure, 12 bits. */
export function mrSlice(seed: number): number[] {
	const r = rng(seed);
	const n = 256;
	const out = new Array<number>(n * n);
	for (let y = 0; y < n; y++) {
		for (let x = 0; x < n; x++) {
			const dx = (x - 128) / 100;
			const dy = (y - 128) / 118;
			const d = dx * dx + dy * dy;
			let v = 15 * r();
			if (d < 1) v = 300;
			if (d < 0.8) v = 700 + 250 * Math.sin(x / 6 + seed) * Math.cos(y / 9) + 120 * Math.sin((x + y) / 23);
			if (d < 0.05) v = 1400;
			v += d < 1 ? (r() - 0.5) * 60 : 0;
			out[y * n + x] = Math.max(0, Math.min(4095, Math.round(v)));
		}
	}
	return out;
}

/**
 * A 640×480 RGB ultrasound frame: black background, a speckled sector (gray, R = G = B), a colour
 * Doppler box and a few coloured annotation marks, 8 bits per sample, interleaved.
 */
export function usFrame(seed: number): number[] {
	const r = rng(seed);
	const w = 640;
	const h = 480;
	const out = new Array<number>(w * h * 3).fill(0);
	for (let y = 0; y < h; y++) {
		for (let x = 0; x < w; x++) {
			const dx = x - 320;
			const dy = y - 20;
			const rad = Math.sqrt(dx * dx + dy * dy);
			const ang = Math.atan2(dx, dy);
			const o = (y * w + x) * 3;
			if (rad > 30 && rad < 440 && Math.abs(ang) < 0.75) {
				const tissue = 90 + 60 * Math.sin(rad / 25 + seed) * Math.cos(ang * 7);
				const speckle = -Math.log(1 - r() * 0.999) * tissue * 0.8;
				const g = Math.max(0, Math.min(255, Math.round(speckle)));
				out[o] = g;
				out[o + 1] = g;
				out[o + 2] = g;
				if (x > 280 && x < 380 && y > 200 && y < 280 && r() < 0.6) {
					const flow = Math.sin((x - 280) / 15) > 0;
					out[o] = flow ? 200 + Math.round(r() * 55) : 20;
					out[o + 1] = 30;
					out[o + 2] = flow ? 20 : 200 + Math.round(r() * 55);
				}
			} else if (y > 440 && x % 40 < 20 && x < 300) {
				out[o] = 240;
				out[o + 1] = 220;
				out[o + 2] = 40;
			}
		}
	}
	return out;
}

export interface GeneratedSet {
	name: string;
	files: Uint8Array[];
}

/** CT, MR, US and CR sets of the given sizes. */
export function generatedSets(counts: { ct: number; mr: number; us: number; cr: number }): GeneratedSet[] {
	return [
		{ name: "CT 512×512 16-bit", files: Array.from({ length: counts.ct }, (_, i) => writeDicom({ rows: 512, columns: 512, bitsAllocated: 16, bitsStored: 12, pixels: ctSlice(i), rescaleSlope: 1, rescaleIntercept: -1024, modality: "CT" })) },
		{ name: "MR 256×256 16-bit", files: Array.from({ length: counts.mr }, (_, i) => writeDicom({ rows: 256, columns: 256, bitsAllocated: 16, bitsStored: 12, pixels: mrSlice(i), modality: "MR" })) },
		{ name: "US 640×480 RGB", files: Array.from({ length: counts.us }, (_, i) => writeDicom({ rows: 480, columns: 640, bitsAllocated: 8, samplesPerPixel: 3, pixels: usFrame(i), modality: "US" })) },
		{ name: "CR 2048×2500 12-bit", files: Array.from({ length: counts.cr }, (_, i) => writeDicom({ rows: 2500, columns: 2048, bitsAllocated: 16, bitsStored: 12, pixels: radiograph(i), modality: "CR" })) },
	];
}
