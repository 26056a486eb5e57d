/**
 * Box (area-average) downscale of 8-bit pixels so that the longest side is `size`; images already
 * that small are returned unchanged. Output keeps the input's channel count.
 */
export function boxDownscale(
	data: Uint8Array,
	width: number,
	height: number,
	channels: 1 | 3,
	size: number,
): { data: Uint8Array; width: number; height: number } {
	const longest = Math.max(width, height);
	if (size <= 0 || longest <= size) return { data, width, height };
	const scale = size / longest;
	const tw = Math.max(1, Math.round(width * scale));
	const th = Math.max(1, Math.round(height * scale));
	const out = new Uint8Array(tw * th * channels);
	const sums = new Float64Array(tw * channels);
	const counts = new Float64Array(tw);
	// Which output column each input column falls into.
	const colOf = new Int32Array(width);
	for (let x = 0; x < width; x++) colOf[x] = Math.min(tw - 1, Math.floor((x * tw) / width));
	let y = 0;
	for (let ty = 0; ty < th; ty++) {
		const yEnd = Math.min(height, Math.floor(((ty + 1) * height) / th));
		sums.fill(0);
		counts.fill(0);
		for (; y < yEnd; y++) {
			const row = y * width * channels;
			for (let x = 0; x < width; x++) {
				const tx = colOf[x] ?? 0;
				counts[tx] = (counts[tx] ?? 0) + 1;
				for (let c = 0; c < channels; c++) sums[tx * channels + c] = (sums[tx * channels + c] ?? 0) + (data[row + x * channels + c] ?? 0);
			}
		}
		for (let tx = 0; tx < tw; tx++) {
			const n = counts[tx] || 1;
			for (let c = 0; c < channels; c++) out[(ty * tw + tx) * channels + c] = Math.round((sums[tx * channels + c] ?? 0) / n);
		}
	}
	return { data: out, width: tw, height: th };
}
