/**
 * Counts the elements, sequence items and pixel-data fragments of a data set without building
 * anything, so that a file of millions of tiny elements (each becomes an object in dicom-parser)
 * is refused with a reason before it can exhaust a worker's JS heap. A worker thread that runs out
 * of heap on one large allocation can abort the whole process (Node gives it 16 MB of leeway), so
 * this budget is enforced before parsing, not left to the heap limit.
 */
import { ConvertError } from "./convertError";

/** More elements, items and fragments than any image header holds (an enhanced multi-frame header of thousands of frames holds a few hundred thousand; a million objects take about 200 MB of heap). */
export const maxElements = 1_000_000;

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"]);
const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 64;

class Counter {
	count = 0;
	constructor(
		private readonly b: Uint8Array,
		private readonly le: boolean,
		private readonly cap: number,
	) {}

	private u16(p: number): number {
		const x = this.b[p] ?? 0;
		const y = this.b[p + 1] ?? 0;
		return this.le ? x | (y << 8) : (x << 8) | y;
	}

	private u32(p: number, le = this.le): number {
		const a = this.b[p] ?? 0;
		const b = this.b[p + 1] ?? 0;
		const c = this.b[p + 2] ?? 0;
		const d = this.b[p + 3] ?? 0;
		return le ? (a | (b << 8) | (c << 16)) + d * 0x1000000 : (b << 16 | c << 8 | d) + a * 0x1000000;
	}

	private add(n: number): void {
		this.count += n;
		if (this.count > this.cap) {
			throw new ConvertError("parse", `the data set holds more than ${this.cap.toLocaleString("en-US")} elements, items and fragments, more than any image header needs; refused before parsing (a hostile file?)`);
		}
	}

	/** Walks a data set from `pos` to `end` (or to an item delimiter); returns where it stopped. */
	dataSet(pos: number, end: number, explicit: boolean, depth: number): number {
		const b = this.b;
		while (pos + 8 <= end) {
			const group = this.u16(pos);
			const element = this.u16(pos + 2);
			if (group === 0xfffe) return element === 0xe00d || element === 0xe0dd ? pos + 8 : end;
			this.add(1);
			let length: number;
			let value: number;
			let vr = "";
			if (explicit) {
				vr = String.fromCharCode(b[pos + 4] ?? 0, b[pos + 5] ?? 0);
				if (LONG_VRS.has(vr)) {
					length = this.u32(pos + 8);
					value = pos + 12;
				} else {
					length = this.u16(pos + 6);
					value = pos + 8;
				}
			} else {
				length = this.u32(pos + 4);
				value = pos + 8;
			}
			if (group === 0x7fe0 && element === 0x0010 && length === UNDEFINED) {
				pos = this.fragments(value, end);
				continue;
			}
			const nested = explicit && vr !== "UN";
			const isItem = value + 4 <= end && this.u16(value) === 0xfffe && this.u16(value + 2) === 0xe000;
			if (length === UNDEFINED) {
				pos = depth < MAX_DEPTH && (vr === "SQ" || vr === "UN" || !explicit || isItem) ? this.items(value, end, nested, depth + 1) : end;
				continue;
			}
			if ((vr === "SQ" || (!explicit && isItem)) && depth < MAX_DEPTH) this.items(value, Math.min(end, value + length), nested, depth + 1);
			pos = value + length;
		}
		return pos;
	}

	/** Walks sequence items up to a sequence delimiter (or `end`). */
	private items(pos: number, end: number, explicit: boolean, depth: number): number {
		while (pos + 8 <= end) {
			const group = this.u16(pos);
			const element = this.u16(pos + 2);
			const length = this.u32(pos + 4);
			if (group !== 0xfffe) return end;
			if (element === 0xe0dd) return pos + 8;
			this.add(1);
			if (length === UNDEFINED) pos = this.dataSet(pos + 8, end, explicit, depth);
			else {
				this.dataSet(pos + 8, Math.min(end, pos + 8 + length), explicit, depth);
				pos = pos + 8 + length;
			}
		}
		return end;
	}

	/** Encapsulated pixel data: the offset table's entries and one per fragment (always little endian). */
	private fragments(pos: number, end: number): number {
		let first = true;
		while (pos + 8 <= end) {
			const tag = this.u32(pos, true);
			const length = this.u32(pos + 4, true);
			if (tag === 0xe0ddfffe) return pos + 8;
			if (tag !== 0xe000fffe) return end;
			this.add(first ? 1 + Math.floor(length / 4) : 1);
			first = false;
			pos += 8 + length;
		}
		return end;
	}
}

/**
 * Throws ConvertError("parse") when the data set that starts at `start` holds more than `cap`
 * elements, items and fragments (nested ones included). Reads nothing but the structure.
 */
export function checkElementCount(bytes: Uint8Array, start: number, explicit: boolean, littleEndian: boolean, cap = maxElements): number {
	const counter = new Counter(bytes, littleEndian, cap);
	counter.dataSet(start, bytes.length, explicit, 0);
	return counter.count;
}
