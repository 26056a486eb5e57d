// JPEG Lossless (ITU-T T.81 process 14, Annex H): Huffman-coded differences from one of seven
// predictors, 2–16 bit, any number of components (interleaved or one scan per component), point
// transform and restart intervals. Written from the standard; samples come out interleaved.
import type { DecodedJpeg } from "./jpegLossless";

/** Thrown for codestreams this decoder does not handle (the caller falls back to another decoder). */
export class LosslessUnsupported extends Error {}

interface Component {
	id: number;
	/** Index in the interleaved output. */
	index: number;
}

interface HuffmanTable {
	/** 16-bit lookahead → (code length << 8) | symbol; 0 = no such code. */
	lookup: Uint32Array;
}

/** Builds a 16-bit lookahead table from the DHT counts (codes per length 1–16) and symbols. */
function buildTable(counts: Uint8Array, symbols: Uint8Array): HuffmanTable {
	const lookup = new Uint32Array(1 << 16);
	let code = 0;
	let s = 0;
	for (let len = 1; len <= 16; len++) {
		const n = counts[len - 1] as number;
		for (let i = 0; i < n; i++) {
			if (code >= 1 << len) throw new Error("invalid Huffman table");
			const symbol = symbols[s++] as number;
			const shift = 16 - len;
			const first = code << shift;
			lookup.fill((len << 8) | symbol, first, first + (1 << shift));
			code++;
		}
		code <<= 1;
	}
	return { lookup };
}

function u16(data: Uint8Array, pos: number): number {
	return ((data[pos] as number) << 8) | (data[pos + 1] as number);
}

/** Decodes a JPEG Lossless (SOF3) codestream; throws LosslessUnsupported for anything else. */
export function decodeLosslessJpeg(data: Uint8Array): DecodedJpeg {
	if (data[0] !== 0xff || data[1] !== 0xd8) throw new LosslessUnsupported("no SOI marker");
	const tables: (HuffmanTable | undefined)[] = [];
	let precision = 0;
	let width = 0;
	let height = 0;
	let components: Component[] = [];
	let out: Uint16Array | undefined;
	let restartInterval = 0;
	let pointTransform = -1;
	const decoded = new Set<number>();
	let pos = 2;
	for (;;) {
		// Find the next marker (skipping fill bytes).
		while (pos < data.length && data[pos] !== 0xff) pos++;
		while (pos < data.length && data[pos] === 0xff) pos++;
		if (pos >= data.length) break;
		const marker = data[pos++] as number;
		if (marker === 0xd9) break; // EOI
		if (marker === 0) continue; // a stuffed 0xFF of entropy-coded data the scan did not need
		if (marker >= 0xd0 && marker <= 0xd7) continue; // stray RST
		if (pos + 2 > data.length) break;
		const length = u16(data, pos);
		const end = pos + length;
		if (length < 2 || end > data.length) throw new Error("truncated marker segment");
		switch (marker) {
			case 0xc3: {
				precision = data[pos + 2] as number;
				height = u16(data, pos + 3);
				width = u16(data, pos + 5);
				const nf = data[pos + 7] as number;
				if (precision < 2 || precision > 16) throw new LosslessUnsupported(`precision ${precision}`);
				if (height === 0 || width === 0 || nf === 0) throw new LosslessUnsupported("image size in a DNL marker");
				components = [];
				for (let i = 0; i < nf; i++) {
					const p = pos + 8 + 3 * i;
					if (data[p + 1] !== 0x11) throw new LosslessUnsupported("subsampled components");
					components.push({ id: data[p] as number, index: i });
				}
				out = new Uint16Array(width * height * nf);
				break;
			}
			case 0xc4: {
				let p = pos + 2;
				while (p < end) {
					const tc = (data[p] as number) >> 4;
					const th = (data[p] as number) & 15;
					const counts = data.subarray(p + 1, p + 17);
					let total = 0;
					for (let i = 0; i < 16; i++) total += counts[i] as number;
					const symbols = data.subarray(p + 17, p + 17 + total);
					if (tc === 0) tables[th] = buildTable(counts, symbols);
					p += 17 + total;
				}
				break;
			}
			case 0xdd:
				restartInterval = u16(data, pos + 2);
				break;
			case 0xda: {
				if (!out) throw new LosslessUnsupported("scan before a SOF3 frame header");
				const ns = data[pos + 2] as number;
				const scan: { component: Component; table: HuffmanTable }[] = [];
				for (let i = 0; i < ns; i++) {
					const cid = data[pos + 3 + 2 * i] as number;
					const component = components.find((c) => c.id === cid);
					const table = tables[(data[pos + 4 + 2 * i] as number) >> 4];
					if (!component || !table) throw new Error("scan refers to an unknown component or table");
					scan.push({ component, table });
					decoded.add(component.index);
				}
				const predictor = data[pos + 3 + 2 * ns] as number;
				const pt = (data[pos + 5 + 2 * ns] as number) & 15;
				if (predictor < 1 || predictor > 7) throw new LosslessUnsupported(`predictor ${predictor}`);
				if (pointTransform >= 0 && pt !== pointTransform) throw new LosslessUnsupported("point transform differs between scans");
				pointTransform = pt;
				pos = decodeScan(data, end, out, width, height, components.length, scan, predictor, precision, pt, restartInterval);
				continue;
			}
			case 0xdc:
				throw new LosslessUnsupported("DNL marker");
			default:
				if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
					throw new LosslessUnsupported(`frame type 0x${marker.toString(16)} is not lossless SOF3`);
				}
		}
		pos = end;
	}
	if (!out) throw new LosslessUnsupported("no SOF3 frame header");
	if (decoded.size !== components.length) throw new Error("a component has no scan");
	if (pointTransform > 0) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) << pointTransform;
	return { width, height, components: components.length, precision, samples: out };
}

/**
 * Decodes one scan's entropy-coded data into `out` (interleaved, `nc` samples per pixel); returns
 * the position where the next marker search starts.
 */
function decodeScan(
	data: Uint8Array,
	start: number,
	out: Uint16Array,
	width: number,
	height: number,
	nc: number,
	scan: { component: Component; table: HuffmanTable }[],
	predictor: number,
	precision: number,
	pt: number,
	restartInterval: number,
): number {
	const ns = scan.length;
	if (ns !== 1 && ns !== nc) throw new LosslessUnsupported("a scan with some but not all components");
	// In a scan of one component every sample is one MCU; interleaved, one pixel is.
	if (restartInterval > 0 && restartInterval % width !== 0) throw new LosslessUnsupported("restart interval that is not whole lines");
	const restartRows = restartInterval > 0 ? restartInterval / width : height;
	const initial = 1 << (precision - pt - 1);
	const stride = width * nc;
	let pos = start;
	let acc = 0;
	let bits = 0;
	const n = data.length;
	const lookups = scan.map((sc) => sc.table.lookup);
	const offsets = scan.map((sc) => sc.component.index);
	for (let y = 0; y < height; y++) {
		const firstLine = y % restartRows === 0;
		if (firstLine && y > 0) {
			// Restart: drop the padding bits, skip the RSTn marker.
			acc = 0;
			bits = 0;
			while (pos < n && data[pos] === 0xff && pos + 1 < n && data[pos + 1] === 0xff) pos++;
			if (pos + 1 < n && data[pos] === 0xff && (data[pos + 1] as number) >= 0xd0 && (data[pos + 1] as number) <= 0xd7) pos += 2;
		}
		const row = y * stride;
		for (let x = 0; x < width; x++) {
			for (let s = 0; s < ns; s++) {
				const i = row + x * nc + (offsets[s] as number);
				// Refill to more than 24 bits when fewer than 16 are left; a marker or the end of data feeds zeros.
				if (bits < 16) {
					do {
						let byte = 0;
						if (pos < n) {
							byte = data[pos] as number;
							if (byte !== 0xff) pos++;
							else if (data[pos + 1] === 0) pos += 2;
							else byte = 0;
						}
						acc = (acc << 8) | byte;
						bits += 8;
					} while (bits <= 24);
				}
				const entry = (lookups[s] as Uint32Array)[(acc >>> (bits - 16)) & 0xffff] as number;
				const len = entry >>> 8;
				if (len === 0) throw new Error("invalid Huffman code");
				bits -= len;
				const t = entry & 0xff;
				let diff = 0;
				if (t !== 0) {
					if (t >= 16) {
						if (t > 16) throw new Error("invalid difference category");
						diff = 32768;
					} else {
						if (bits < t) {
							do {
								let byte = 0;
								if (pos < n) {
									byte = data[pos] as number;
									if (byte !== 0xff) pos++;
									else if (data[pos + 1] === 0) pos += 2;
									else byte = 0;
								}
								acc = (acc << 8) | byte;
								bits += 8;
							} while (bits <= 24);
						}
						bits -= t;
						const v = (acc >>> bits) & ((1 << t) - 1);
						diff = v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
					}
				}
				let px: number;
				if (x === 0) px = firstLine ? initial : (out[i - stride] as number);
				else if (firstLine) px = out[i - nc] as number;
				else if (predictor === 1) px = out[i - nc] as number;
				else {
					const ra = out[i - nc] as number;
					const rb = out[i - stride] as number;
					const rc = out[i - stride - nc] as number;
					switch (predictor) {
						case 2:
							px = rb;
							break;
						case 3:
							px = rc;
							break;
						case 4:
							px = ra + rb - rc;
							break;
						case 5:
							px = ra + ((rb - rc) >> 1);
							break;
						case 6:
							px = rb + ((ra - rc) >> 1);
							break;
						default:
							px = (ra + rb) >> 1;
					}
				}
				out[i] = (px + diff) & 0xffff;
			}
		}
	}
	return pos;
}
