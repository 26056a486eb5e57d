/**
 * Synthetic, anatomy-like pixel data for the demo studies: deterministic (seeded), no real patient.
 * Each function returns stored values (before any rescale) for one image.
 */

import { seededRandom } from "../core/util/random";

export { seededRandom };

/** Approximately normal noise from a uniform source (sum of three uniforms, sd ≈ 1). */
function gauss(rand: () => number): number {
	return (rand() + rand() + rand() - 1.5) * 2;
}

/** True when (x, y) lies inside the ellipse centred at (cx, cy) with radii rx, ry. */
function inEllipse(x: number, y: number, cx: number, cy: number, rx: number, ry: number): boolean {
	const dx = (x - cx) / rx;
	const dy = (y - cy) / ry;
	return dx * dx + dy * dy <= 1;
}

/**
 * A chest CT slice in Hounsfield units: body, lungs that grow and shrink along z, heart, spine,
 * contrast-filled vessels, table.
 * `t` in [0, 1] is the position in the series.
 */
export function chestCtSlice(size: number, t: number, rand: () => number): Int16Array {
	const out = new Int16Array(size * size);
	const s = size / 512;
	const lungR = (0.35 + 0.65 * Math.sin(Math.PI * Math.min(1, t * 1.1))) * 95 * s;
	const heartR = Math.max(0, Math.sin(Math.PI * (t - 0.2) / 0.6)) * 70 * s;
	const c = size / 2;
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			let hu = -1000;
			if (inEllipse(x, y, c, c + 10 * s, 200 * s, 150 * s)) {
				hu = inEllipse(x, y, c, c + 10 * s, 190 * s, 140 * s) ? 40 : -100; // soft tissue, fat rim
				if (lungR > 5 && (inEllipse(x, y, c - 85 * s, c - 5 * s, lungR * 0.8, lungR) || inEllipse(x, y, c + 85 * s, c - 5 * s, lungR * 0.8, lungR))) hu = -850;
				if (heartR > 5 && inEllipse(x, y, c + 20 * s, c + 25 * s, heartR, heartR * 0.85)) hu = 50;
				if (inEllipse(x, y, c, c + 110 * s, 22 * s, 20 * s)) hu = inEllipse(x, y, c, c + 110 * s, 14 * s, 12 * s) ? 250 : 700;
				if (inEllipse(x, y, c - 60 * s, c + 60 * s, 8 * s, 8 * s) || inEllipse(x, y, c + 60 * s, c + 60 * s, 8 * s, 8 * s)) hu = 200; // vessels with contrast
			} else if (y > c + 175 * s && y < c + 185 * s && x > 40 * s && x < size - 40 * s) {
				hu = 300; // table
			}
			out[y * size + x] = Math.round(hu + gauss(rand) * (hu > -900 ? 12 : 4));
		}
	}
	return out;
}

/** A head CT slice (HU): skull, brain, ventricles changing along z. */
export function headCtSlice(size: number, t: number, rand: () => number): Int16Array {
	const out = new Int16Array(size * size);
	const s = size / 256;
	const c = size / 2;
	const scale = 0.6 + 0.4 * Math.sin(Math.PI * (0.15 + 0.85 * t));
	const ventricle = Math.max(0, Math.sin(Math.PI * (t - 0.3) / 0.4)) * 14 * s;
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			let hu = -1000;
			const rx = 95 * s * scale;
			const ry = 115 * s * scale;
			if (inEllipse(x, y, c, c, rx, ry)) {
				hu = inEllipse(x, y, c, c, rx - 7 * s, ry - 7 * s) ? (inEllipse(x, y, c, c, rx - 20 * s, ry - 20 * s) ? 38 : 30) : 1100;
				if (ventricle > 2 && (inEllipse(x, y, c - 10 * s, c - 8 * s, ventricle * 0.6, ventricle * 1.8) || inEllipse(x, y, c + 10 * s, c - 8 * s, ventricle * 0.6, ventricle * 1.8))) hu = 6;
			}
			out[y * size + x] = Math.round(hu + gauss(rand) * 5);
		}
	}
	return out;
}

/** An axial brain MR slice, 12-bit values (0–4095): T2-like contrast. */
export function brainMrSlice(size: number, t: number, rand: () => number): Uint16Array {
	const out = new Uint16Array(size * size);
	const s = size / 256;
	const c = size / 2;
	const scale = 0.55 + 0.45 * Math.sin(Math.PI * (0.1 + 0.9 * t));
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			let v = 0;
			const rx = 90 * s * scale;
			const ry = 110 * s * scale;
			if (inEllipse(x, y, c, c, rx + 6 * s, ry + 6 * s)) v = 900; // scalp
			if (inEllipse(x, y, c, c, rx, ry)) v = 250; // skull (dark on MR)
			if (inEllipse(x, y, c, c, rx - 5 * s, ry - 5 * s)) v = 1600; // grey matter
			if (inEllipse(x, y, c, c, rx - 22 * s, ry - 22 * s)) v = 1200; // white matter
			if (inEllipse(x, y, c - 12 * s, c, 6 * s, 25 * s * scale) || inEllipse(x, y, c + 12 * s, c, 6 * s, 25 * s * scale)) v = 3600; // CSF bright on T2
			if (v > 0) v += gauss(rand) * 40;
			else v = Math.abs(gauss(rand)) * 15; // background noise
			out[y * size + x] = Math.max(0, Math.min(4095, Math.round(v)));
		}
	}
	return out;
}

/**
 * A chest radiograph as MONOCHROME1 stored values (12-bit): high values are dark, so air and
 * lungs are stored high and bone low.
 */
export function chestRadiographMono1(width: number, height: number, variant: number, rand: () => number): Uint16Array {
	const out = new Uint16Array(width * height);
	const cx = width / 2;
	const cy = height / 2;
	const lung = 1 + 0.05 * Math.sin(variant);
	for (let y = 0; y < height; y++) {
		for (let x = 0; x < width; x++) {
			// Brightness as it would be displayed (MONOCHROME2 sense), 0–4095.
			let b = 300;
			if (inEllipse(x, y, cx, cy + 0.05 * height, 0.42 * width, 0.5 * height)) b = 2200; // soft tissue
			const l = inEllipse(x, y, cx - 0.18 * width, cy - 0.02 * height, 0.13 * width * lung, 0.3 * height * lung) || inEllipse(x, y, cx + 0.18 * width, cy - 0.02 * height, 0.13 * width * lung, 0.3 * height * lung);
			if (l) b = 900 + 500 * ((y / height) * 0.8); // lungs, denser toward the base
			if (Math.abs(x - cx) < 0.035 * width && y > 0.1 * height) b = 3300; // spine
			if (inEllipse(x, y, cx + 0.06 * width, cy + 0.12 * height, 0.12 * width, 0.1 * height)) b = Math.max(b, 2500); // heart
			for (let r = 0; r < 6; r++) {
				const ry = cy - 0.25 * height + r * 0.09 * height;
				if (Math.abs(y - ry - 0.04 * height * Math.cos((x - cx) / (0.3 * width))) < 0.008 * height && Math.abs(x - cx) < 0.33 * width) b += 600; // ribs
			}
			b += gauss(rand) * 25;
			out[y * width + x] = Math.max(0, Math.min(4095, Math.round(4095 - b)));
		}
	}
	return out;
}

/** An ultrasound frame, interleaved RGB: a grey speckled sector with a colour-Doppler blob. */
export function ultrasoundRgb(width: number, height: number, t: number, rand: () => number): Uint8Array {
	const out = new Uint8Array(width * height * 3);
	const ox = width / 2;
	const oy = 10;
	const radius = height * 0.95;
	for (let y = 0; y < height; y++) {
		for (let x = 0; x < width; x++) {
			const dx = x - ox;
			const dy = y - oy;
			const r = Math.hypot(dx, dy);
			const angle = Math.atan2(dx, dy);
			let g = 0;
			let rgb: [number, number, number] | undefined;
			if (r < radius && Math.abs(angle) < 0.6) {
				const depth = r / radius;
				g = 60 + 90 * rand() * (1 - 0.5 * depth);
				const lx = ox + 40 * Math.sin(t * 6.28);
				if (inEllipse(x, y, lx, height * 0.5, 45, 30)) g *= 0.25; // a dark cyst
				if (inEllipse(x, y, ox - 30, height * 0.7, 18, 10)) rgb = t > 0.5 ? [200, 30, 30] : [30, 60, 210]; // Doppler
			}
			const i = (y * width + x) * 3;
			const [rr, gg, bb] = rgb ?? [g, g, g];
			out[i] = Math.round(rr);
			out[i + 1] = Math.round(gg);
			out[i + 2] = Math.round(bb);
		}
	}
	return out;
}

/** Converts interleaved RGB to YBR_FULL (ITU-R BT.601 full range), interleaved. */
export function rgbToYbrFull(rgb: Uint8Array): Uint8Array {
	const out = new Uint8Array(rgb.length);
	for (let i = 0; i < rgb.length; i += 3) {
		const r = rgb[i]!;
		const g = rgb[i + 1]!;
		const b = rgb[i + 2]!;
		const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
		out[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
		out[i + 1] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
		out[i + 2] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
	}
	return out;
}

/** A nuclear-medicine-like blob image (8-bit indices) for a PALETTE COLOR file. */
export function paletteIndices(size: number, t: number, rand: () => number): Uint8Array {
	const out = new Uint8Array(size * size);
	const c = size / 2;
	for (let y = 0; y < size; y++) {
		for (let x = 0; x < size; x++) {
			const d1 = Math.hypot(x - c - 20 * Math.cos(t * 6), y - c) / (size * 0.25);
			const d2 = Math.hypot(x - c + 25, y - c - 30 * Math.sin(t * 6)) / (size * 0.15);
			const v = 230 * Math.exp(-d1 * d1) + 180 * Math.exp(-d2 * d2) + rand() * 12;
			out[y * size + x] = Math.max(0, Math.min(255, Math.round(v)));
		}
	}
	return out;
}

/** A "hot iron"-like 256-entry palette (16-bit entries, as DICOM stores them). */
export function hotIronPalette(): { red: Uint16Array; green: Uint16Array; blue: Uint16Array } {
	const red = new Uint16Array(256);
	const green = new Uint16Array(256);
	const blue = new Uint16Array(256);
	for (let i = 0; i < 256; i++) {
		red[i] = Math.min(255, i * 2) * 257;
		green[i] = Math.max(0, Math.min(255, (i - 128) * 2)) * 257;
		blue[i] = Math.max(0, Math.min(255, (i - 192) * 4)) * 257;
	}
	return { red, green, blue };
}
