/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, each segment
 * a PackBits stream of one byte plane (most significant byte of each sample first).
 */

/** Decodes one PackBits segment into `out` (exactly out.length bytes; missing bytes stay 0). */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
	let i = start;
	let o = 0;
	const n = out.length;
	while (i < end && o < n) {
		const h = src[i++] ?? 0;
		if (h < 128) {
			const count = Math.min(h + 1, n - o, end - i);
			out.set(src.subarray(i, i + count), o);
			o += count;
			i += h + 1;
		} else if (h > 128) {
			const count = Math.min(257 - h, n - o);
			out.fill(src[i] ?? 0, o, o + count);
			o += count;
			i += 1;
		}
		// h === 128: no operation
	}
}

/**
 * Decodes one RLE frame to native little-endian, pixel-interleaved bytes (planar configuration 0).
 * `bytesPerSample` is BitsAllocated/8 rounded up (1-bit frames are one segment of packed bits).
 */
export function decodeRleFrame(frame: Uint8Array, pixelCount: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
	if (frame.length < 64) throw new Error("RLE frame shorter than its 64-byte header");
	const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
	const segments = view.getUint32(0, true);
	if (bitsAllocated === 1) {
		if (segments < 1) throw new Error("RLE frame has no segment");
		const out = new Uint8Array(Math.ceil((pixelCount * samplesPerPixel) / 8));
		const start = view.getUint32(4, true);
		const end = segments > 1 ? view.getUint32(8, true) : frame.length;
		unpackBits(frame, start, Math.min(end, frame.length), out);
		return out;
	}
	const bytesPerSample = bitsAllocated / 8;
	const expected = bytesPerSample * samplesPerPixel;
	if (segments !== expected) throw new Error(`RLE frame has ${segments} segments, expected ${expected}`);
	const out = new Uint8Array(pixelCount * expected);
	const plane = new Uint8Array(pixelCount);
	for (let s = 0; s < segments; s++) {
		const start = view.getUint32(4 + 4 * s, true);
		const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
		if (start < 64 || start > frame.length) throw new Error(`RLE segment ${s + 1} offset out of range`);
		plane.fill(0);
		unpackBits(frame, start, Math.min(end, frame.length), plane);
		const sample = Math.floor(s / bytesPerSample);
		const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // MSB segment first → LE position
		let o = sample * bytesPerSample + byteInSample;
		for (let p = 0; p < pixelCount; p++, o += expected) out[o] = plane[p] ?? 0;
	}
	return out;
}

/** PackBits-encodes one byte plane (runs of 2+ equal bytes as replicate runs, the rest literal). */
function packBits(plane: Uint8Array, out: number[]): void {
	const n = plane.length;
	let i = 0;
	while (i < n) {
		let run = 1;
		while (i + run < n && run < 128 && plane[i + run] === plane[i]) run++;
		if (run >= 2) {
			out.push(257 - run, plane[i] ?? 0);
			i += run;
			continue;
		}
		let j = i + 1;
		while (j < n && j - i < 128 && !(j + 1 < n && plane[j] === plane[j + 1])) j++;
		out.push(j - i - 1);
		for (let k = i; k < j; k++) out.push(plane[k] ?? 0);
		i = j;
	}
	if (out.length % 2) out.push(128); // segments are padded to even length (128 = no-op)
}

/** Encodes one frame of native little-endian, pixel-interleaved samples as a DICOM RLE frame. */
export function encodeRleFrame(frame: Uint8Array, pixelCount: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
	const bytesPerSample = bitsAllocated / 8;
	const stride = bytesPerSample * samplesPerPixel;
	const segments: number[][] = [];
	const plane = new Uint8Array(pixelCount);
	for (let sample = 0; sample < samplesPerPixel; sample++) {
		for (let b = bytesPerSample - 1; b >= 0; b--) {
			for (let p = 0, o = sample * bytesPerSample + b; p < pixelCount; p++, o += stride) plane[p] = frame[o] ?? 0;
			const seg: number[] = [];
			packBits(plane, seg);
			segments.push(seg);
		}
	}
	const total = 64 + segments.reduce((a, s) => a + s.length, 0);
	const out = new Uint8Array(total);
	const view = new DataView(out.buffer);
	view.setUint32(0, segments.length, true);
	let offset = 64;
	segments.forEach((seg, i) => {
		view.setUint32(4 + 4 * i, offset, true);
		out.set(seg, offset);
		offset += seg.length;
	});
	return out;
}
