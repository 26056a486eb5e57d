// Request bytes per image against the seed's (issue 8, item 3): the seed sent base64 of Pillow's
// default RGB PNG (zlib level 6) in its JSON; we send an 8-bit grayscale PNG for gray images.
// Shared files: the seed's real PNGs (../shared/dicom/reference/*.png) and the reference uint8
// arrays (*.npy), against which our decoded pixels are checked. Generated CT/MR/US/CR sets: the seed's
// PNG emulated (bench/seedPng.ts, its gap to the real one measured on the shared files).
// Run through bench/run.ts: `npm run bench -- bytes`.
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as zlib from "node:zlib";
import { PNG } from "pngjs";
import { convertDicomBytes } from "../src/core/dicom/convert";
import { decodeToUint8 } from "../src/core/dicom/convert";
import { defaultConvertOptions } from "../src/core/dicom/types";
import { imagePayloadBytes } from "../src/core/endpoint/payload";
import { encodePng, PNG_FILTER_ADAPTIVE } from "../src/core/png/encodePng";
import { seedIdat, seedPngBytes, seedRequestBytes } from "./seedPng";
import { readManifest, sharedDir, type Table } from "./sharedFiles";
import { generatedSets } from "./syntheticImages";

/** A .npy file's uint8 data and shape (C order, as the reference writes it). */
function readNpyUint8(file: string): { data: Uint8Array; shape: number[] } {
	const b = fs.readFileSync(file);
	const headerLen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
	const start = b[6] === 1 ? 10 : 12;
	const header = b.toString("latin1", start, start + headerLen);
	if (!/'descr':\s*'\|u1'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: not a C-order uint8 array`);
	const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "")
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean)
		.map(Number);
	return { data: new Uint8Array(b.buffer, b.byteOffset + start + headerLen, b.length - start - headerLen), shape };
}

/** Request bytes of images sent in batches of `batch`, by a body-size function. */
function batched(sizes: number[], batch: number, body: (s: number[]) => number): number {
	let n = 0;
	for (let i = 0; i < sizes.length; i += batch) n += body(sizes.slice(i, i + batch));
	return n;
}

/** True when our PNG decodes (pngjs) to exactly the reference's uint8 array, gray replicated to RGB. */
function sameRgb(png: Uint8Array, ref: { data: Uint8Array; shape: number[] }): boolean {
	const img = PNG.sync.read(Buffer.from(png));
	const [h = 0, w = 0, c = 1] = ref.shape;
	if (img.width !== w || img.height !== h) return false;
	for (let i = 0; i < w * h; i++) {
		for (let k = 0; k < 3; k++) {
			if (img.data[4 * i + k] !== ref.data[i * c + (c === 3 ? k : 0)]) return false;
		}
	}
	return true;
}

const batch = 10;

/** Gray replicated to RGB. */
function replicate(gray: Uint8Array): Uint8Array {
	const rgb = new Uint8Array(gray.length * 3);
	for (let i = 0; i < gray.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i] as number;
	return rgb;
}

/** The concatenated IDAT data of a PNG file. */
function idatOf(png: Buffer): Buffer {
	const parts: Buffer[] = [];
	for (let o = 8; o < png.length; ) {
		const len = png.readUInt32BE(o);
		if (png.toString("latin1", o + 4, o + 8) === "IDAT") parts.push(png.subarray(o + 8, o + 8 + len));
		o += 12 + len;
	}
	return Buffer.concat(parts);
}

async function sharedFiles(dir: string): Promise<Table[]> {
	const groups = new Map<string, { images: number; seedReal: number[]; seedEmu: number[]; ours: number[]; oursRgb: number[]; same: number; exactIdat: number }>();
	for (const e of readManifest(dir)) {
		if (!e.reference.ok || !e.reference.output_npy || !e.reference.output_png) continue;
		const ref = readNpyUint8(path.join(dir, e.reference.output_npy));
		const bytes = new Uint8Array(fs.readFileSync(path.join(dir, e.path)));
		const ours = await convertDicomBytes(bytes, defaultConvertOptions);
		const rgb = await convertDicomBytes(bytes, { ...defaultConvertOptions, grayscalePng: false });
		if (ours.kind !== "image" || rgb.kind !== "image") continue;
		const colour = ref.shape.length === 3;
		for (const g of [colour ? "colour images" : "gray images", "all"]) {
			const acc = groups.get(g) ?? { images: 0, seedReal: [], seedEmu: [], ours: [], oursRgb: [], same: 0, exactIdat: 0 };
			acc.images++;
			acc.seedReal.push(fs.statSync(path.join(dir, e.reference.output_png)).size);
			acc.seedEmu.push(seedPngBytes(ref.data, ref.shape[1] ?? 0, ref.shape[0] ?? 0, colour ? 3 : 1));
			if (Buffer.compare(Buffer.from(seedIdat(colour ? ref.data : replicate(ref.data), ref.shape[1] ?? 0, ref.shape[0] ?? 0)), idatOf(fs.readFileSync(path.join(dir, e.reference.output_png)))) === 0) acc.exactIdat++;
			acc.ours.push(ours.png.length);
			acc.oursRgb.push(rgb.png.length);
			if (sameRgb(ours.png, ref) && sameRgb(rgb.png, ref)) acc.same++;
			groups.set(g, acc);
		}
	}
	const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
	const rows = [...groups.entries()].map(([g, a]) => {
		const seedReq = batched(a.seedReal, batch, seedRequestBytes);
		const ourReq = batched(a.ours, batch, imagePayloadBytes);
		const rgbReq = batched(a.oursRgb, batch, imagePayloadBytes);
		return [
			g,
			a.images,
			`${a.same}/${a.images}`,
			+(sum(a.seedReal) / 1024).toFixed(0),
			`${a.exactIdat}/${a.images}, size ×${(sum(a.seedEmu) / sum(a.seedReal)).toFixed(4)}`,
			+(seedReq / a.images / 1024).toFixed(1),
			+(ourReq / a.images / 1024).toFixed(1),
			+(ourReq / seedReq).toFixed(3),
			+(rgbReq / seedReq).toFixed(3),
		];
	});
	return [
		{
			title: `Request bytes vs the seed, ../shared/dicom (the seed's real PNGs; batches of ${batch})`,
			columns: ["images", "files", "identical RGB (ours gray & --rgb vs reference .npy)", "seed PNG KB total", "seed emulation: identical IDAT, size vs real", "seed KB/image", "ours KB/image", "ours / seed", "--rgb / seed"],
			rows,
		},
	];
}

interface Variant {
	name: string;
	level: number;
	/** NaN (level and filter): the encoder's default for the colour type. */
	filter: number;
	rgb: boolean;
	strategy?: number;
}

const variants: Variant[] = [
	{ name: "default (gray: adaptive + Z_RLE; colour: the smaller of adaptive L4 Z_FILTERED and none L6)", level: NaN, filter: NaN, rgb: false },
	{ name: "gray Sub + Z_RLE", level: 1, filter: 1, rgb: false, strategy: zlib.constants.Z_RLE },
	{ name: "gray Paeth + Z_RLE", level: 1, filter: 4, rgb: false, strategy: zlib.constants.Z_RLE },
	{ name: "gray L1 Sub (before)", level: 1, filter: 1, rgb: false, strategy: zlib.constants.Z_DEFAULT_STRATEGY },
	{ name: "gray L6 Sub", level: 6, filter: 1, rgb: false, strategy: zlib.constants.Z_DEFAULT_STRATEGY },
	{ name: "gray L6 adaptive Z_FILTERED", level: 6, filter: PNG_FILTER_ADAPTIVE, rgb: false, strategy: zlib.constants.Z_FILTERED },
	{ name: "RGB L1 Sub (--rgb; colour before)", level: 1, filter: 1, rgb: true },
	{ name: "RGB L3 adaptive", level: 3, filter: PNG_FILTER_ADAPTIVE, rgb: true },
	{ name: "RGB L6 adaptive Z_FILTERED", level: 6, filter: PNG_FILTER_ADAPTIVE, rgb: true, strategy: zlib.constants.Z_FILTERED },
];

async function generated(perSet: { ct: number; mr: number; us: number; cr: number }): Promise<Table> {
	const rows: (string | number)[][] = [];
	const total = new Map<string, { seed: number; ours: number }>();
	for (const set of generatedSets(perSet)) {
		const images = await Promise.all(set.files.map((f) => decodeToUint8(f)));
		const seedSizes = images.map((im) => seedPngBytes(im.data, im.width, im.height, im.channels));
		const seedReq = batched(seedSizes, batch, seedRequestBytes);
		for (const v of variants) {
			if (images[0]?.channels === 3 && !v.rgb && !Number.isNaN(v.filter)) continue;
			const sizes: number[] = [];
			const ms: number[] = [];
			for (const im of images) {
				const t = performance.now();
				const png = encodePng(im.data, im.width, im.height, im.channels, { rgb: v.rgb, ...(Number.isNaN(v.level) ? {} : { level: v.level }), ...(Number.isNaN(v.filter) ? {} : { filter: v.filter }), ...(v.strategy !== undefined ? { strategy: v.strategy } : {}) });
				ms.push(performance.now() - t);
				sizes.push(png.length);
			}
			const req = batched(sizes, batch, imagePayloadBytes);
			ms.sort((a, b) => a - b);
			rows.push([set.name, v.name, images.length, +(seedReq / images.length / 1024).toFixed(1), +(req / images.length / 1024).toFixed(1), +(req / seedReq).toFixed(3), +(ms[ms.length >> 1] ?? 0).toFixed(2)]);
			const acc = total.get(v.name) ?? { seed: 0, ours: 0 };
			acc.seed += seedReq / images.length;
			acc.ours += req / images.length;
			total.set(v.name, acc);
		}
	}
	for (const [name, a] of total) rows.push(["one image of each set", name, 4, +(a.seed / 1024).toFixed(1), +(a.ours / 1024).toFixed(1), +(a.ours / a.seed).toFixed(3), ""]);
	return {
		title: `Request bytes vs the seed (emulated: Pillow 9.4 defaults), generated sets (colour images are RGB in every mode; batches of ${batch})`,
		columns: ["set", "PNG", "images", "seed KB/image", "ours KB/image", "ours / seed", "encode median ms"],
		rows,
	};
}

export async function run(): Promise<Table[]> {
	const tables: Table[] = [];
	const dir = sharedDir();
	if (dir) tables.push(...(await sharedFiles(dir)));
	else console.warn("!!!!!! ../shared/dicom not found: the real-file byte comparison is skipped !!!!!!");
	const n = Number(process.env["BENCH_REPEAT"] ?? "1");
	tables.push(await generated({ ct: 5 * n, mr: 5 * n, us: 3 * n, cr: n }));
	return tables;
}
