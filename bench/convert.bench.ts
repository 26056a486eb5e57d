// Converter speed on one thread: real files from ../shared/dicom against the reference's own timings,
// generated CT/MR/US/CR sets (bench/syntheticImages.ts) against the seed's numpy + Pillow stages, and
// where the time goes. Run through bench/run.ts: `npm run bench -- convert` (BENCH_REPEAT=2 while
// developing; default 7).
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { wasmDecodeTime } from "../src/core/dicom/codecs";
import { convertDicomBytes } from "../src/core/dicom/convert";
import { parseDicomBytes } from "../src/core/dicom/parse";
import { decodeFirstFrame } from "../src/core/dicom/pixels";
import { defaultConvertOptions, type ConvertOptions } from "../src/core/dicom/types";
import { encodePng, encodeRgbPng } from "../src/core/png/encodePng";
import { windowToUint8 } from "../src/core/imaging/window";
import { seedStageSeconds } from "./seedStages";
import { readManifest, sharedDir, type ManifestEntry, type Table } from "./sharedFiles";
import { generatedSets } from "./syntheticImages";

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

interface Timing {
	perImage: number[];
	seconds: number;
	cpuSeconds: number;
	bytes: number;
	images: number;
}

async function timeFiles(files: Uint8Array[], passes: number, options: ConvertOptions): Promise<Timing> {
	const perImage: number[] = [];
	let bytes = 0;
	let images = 0;
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	for (let p = 0; p < passes; p++) {
		for (const f of files) {
			const t = performance.now();
			const out = await convertDicomBytes(f, options);
			perImage.push(performance.now() - t);
			if (out.kind !== "image") throw new Error(`bench input did not convert: ${out.kind === "failed" ? out.error : out.reason}`);
			bytes += f.length;
			images++;
		}
	}
	const cpu = process.cpuUsage(cpu0);
	return { perImage, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytes, images };
}

function row(name: string, r: Timing): (string | number)[] {
	return [name, r.images, +(r.images / r.seconds).toFixed(1), +(r.images / r.cpuSeconds).toFixed(1), +(r.bytes / 1e6 / r.seconds).toFixed(1), +median(r.perImage).toFixed(2)];
}

/** Short names of the transfer syntaxes, for grouping. */
function syntaxGroup(uid: string | null | undefined): string {
	const names: Record<string, string> = {
		"1.2.840.10008.1.2.4.90": "JPEG 2000",
		"1.2.840.10008.1.2.4.91": "JPEG 2000",
		"1.2.840.10008.1.2.4.201": "HTJ2K",
		"1.2.840.10008.1.2.4.202": "HTJ2K",
		"1.2.840.10008.1.2.4.203": "HTJ2K",
		"1.2.840.10008.1.2.4.57": "JPEG lossless",
		"1.2.840.10008.1.2.4.70": "JPEG lossless",
		"1.2.840.10008.1.2.4.50": "JPEG baseline/extended",
		"1.2.840.10008.1.2.4.51": "JPEG baseline/extended",
		"1.2.840.10008.1.2.4.80": "JPEG-LS",
		"1.2.840.10008.1.2.4.81": "JPEG-LS",
		"1.2.840.10008.1.2.5": "RLE",
	};
	return uid ? (names[uid] ?? "native/deflate") : "native/deflate";
}

/** Conversions per file when timing (fastest counts): BENCH_REPEAT, default 7; use 2–3 while developing. */
const repeat = Math.max(1, Number(process.env["BENCH_REPEAT"] ?? 7));

/** CPU milliseconds of this process (user + system) spent in `f`. */
async function cpuMs(f: () => Promise<unknown>): Promise<number> {
	const c = process.cpuUsage();
	await f();
	const d = process.cpuUsage(c);
	return (d.user + d.system) / 1000;
}

/**
 * Per file: our fastest of `repeat` conversions (default options, CPU time of this thread: the
 * figure least disturbed by other processes on a shared machine) against the reference's own median
 * (manifest `reference.seconds_median`, SimpleITK + numpy + Pillow, one core), summed by codec.
 */
async function versusReference(dir: string, entries: ManifestEntry[]): Promise<Table> {
	type Sum = { files: number; ours: number; wasm: number; ref: number };
	const groups = new Map<string, Sum>();
	const all: Sum = { files: 0, ours: 0, wasm: 0, ref: 0 };
	const noJ2k: Sum = { files: 0, ours: 0, wasm: 0, ref: 0 };
	for (const e of entries) {
		const refSeconds = e.reference.seconds_median;
		if (!e.reference.ok || refSeconds === undefined) continue;
		const bytes = new Uint8Array(fs.readFileSync(path.join(dir, e.path)));
		let best = Infinity;
		let bestWasm = 0;
		wasmDecodeTime.enabled = true;
		for (let i = 0; i < repeat; i++) {
			wasmDecodeTime.cpuMs = 0;
			const ms = await cpuMs(() => convertDicomBytes(bytes, defaultConvertOptions));
			if (ms < best) [best, bestWasm] = [ms, wasmDecodeTime.cpuMs];
		}
		wasmDecodeTime.enabled = false;
		const g = syntaxGroup(e.transfer_syntax_uid);
		const acc = groups.get(g) ?? { files: 0, ours: 0, wasm: 0, ref: 0 };
		for (const a of g === "JPEG 2000" ? [acc, all] : [acc, all, noJ2k]) {
			a.files++;
			a.ours += best;
			a.wasm += bestWasm;
			a.ref += refSeconds * 1000;
		}
		groups.set(g, acc);
	}
	const line = (name: string, a: Sum) => [
		name,
		a.files,
		+a.ours.toFixed(1),
		+a.wasm.toFixed(1),
		+a.ref.toFixed(1),
		+(a.ref / a.ours).toFixed(2),
		a.wasm > 0 ? +(a.ref / a.wasm).toFixed(2) : "–",
	];
	const rows = [...groups.entries()].sort((a, b) => b[1].ours - a[1].ours).map(([g, a]) => line(g, a));
	rows.push(line("all but JPEG 2000", noJ2k), line("all", all));
	return { title: `Versus the reference per file, ../shared/dicom (ours: fastest of ${repeat}, CPU ms, default options; reference: its median), summed`, columns: ["codec", "files", "ours ms", "of which WASM decode ms", "reference ms", "speed-up", "ceiling: reference / WASM decode"], rows };
}

/**
 * Generated sets: ours (whole conversion, CPU ms per image, fastest of `repeat`) against the seed's
 * stages after its DICOM read (bench/seedStages.ts: a lower bound of the reference's time), so the
 * speed-up shown is a lower bound.
 */
async function versusSeedStages(sets: { name: string; files: Uint8Array[] }[]): Promise<Table> {
	const rows: (string | number)[][] = [];
	const all = { images: 0, ours: 0, seed: 0 };
	for (const set of sets) {
		let ours = 0;
		const frames = [];
		for (const f of set.files) {
			let best = Infinity;
			for (let i = 0; i < repeat; i++) best = Math.min(best, await cpuMs(() => convertDicomBytes(f, defaultConvertOptions)));
			ours += best;
			frames.push(await decodeFirstFrame(parseDicomBytes(f), 64e6));
		}
		const seed = seedStageSeconds(frames, Math.min(repeat, 5));
		const seedMs = seed ? seed.reduce((a, b) => a + b, 0) * 1000 : Number.NaN;
		rows.push([set.name, set.files.length, +(ours / set.files.length).toFixed(2), seed ? +(seedMs / set.files.length).toFixed(2) : "n/a (no python3 with numpy + Pillow)", seed ? +(seedMs / ours).toFixed(2) : "n/a"]);
		all.images += set.files.length;
		all.ours += ours / set.files.length;
		all.seed += seedMs / set.files.length;
	}
	rows.push(["one image of each set", sets.length, +all.ours.toFixed(2), Number.isNaN(all.seed) ? "n/a" : +all.seed.toFixed(2), Number.isNaN(all.seed) ? "n/a" : +(all.seed / all.ours).toFixed(2)]);
	return {
		title: `Generated sets: ours (whole conversion, fastest of ${repeat}, CPU ms/image) vs the seed's stages after its DICOM read (numpy + Pillow, median CPU ms; a lower bound of the reference)`,
		columns: ["set", "images", "ours ms/image", "seed stages ms/image (≤ reference)", "speed-up (≥)"],
		rows,
	};
}

export async function run(): Promise<Table[]> {
	const tables: Table[] = [];
	const throughput: Table = {
		title: "convertDicomBytes, one thread",
		// images/CPU-s divides by this process's CPU time, a fairer per-core figure on a busy machine.
		columns: ["input", "PNG", "images", "images/s", "images/CPU-s", "MB/s (DICOM)", "median ms/image"],
		rows: [],
	};
	const rgb: ConvertOptions = { ...defaultConvertOptions, grayscalePng: false };
	const measure = async (name: string, files: Uint8Array[], passes: number): Promise<void> => {
		for (const options of [defaultConvertOptions, rgb]) {
			const r = await timeFiles(files, passes, options);
			const [input, ...rest] = row(name, r);
			throughput.rows.push([input ?? name, options.grayscalePng ? "default (gray 8-bit)" : "--rgb", ...rest]);
		}
	};
	const dir = sharedDir();
	if (dir) {
		const manifest = readManifest(dir);
		const files = manifest.filter((f) => f.reference.ok).map((f) => new Uint8Array(fs.readFileSync(path.join(dir, f.path))));
		await timeFiles(files, 1, defaultConvertOptions); // warm up: load the WASM codecs once
		await measure(`../shared/dicom: ${files.length} ok files × 3 passes`, files, 3);
		tables.push(await versusReference(dir, manifest));
	} else {
		console.warn("!!!!!! ../shared/dicom not found: real-file benchmark skipped !!!!!!");
	}
	const sets = generatedSets({ ct: 20, mr: 20, us: 6, cr: 2 });
	tables.push(await versusSeedStages(sets));
	for (const set of sets) await measure(set.name, set.files, 1);
	tables.push(throughput);

	// Where the time goes, and what the PNG choices cost, on a few images of each set.
	const stages: Table = {
		title: "Stages (median ms/image) and PNG size",
		columns: ["input", "parse+decode", "window", "PNG default", "PNG RGB L1 Sub (--rgb)", "PNG RGB L6 Sub", "KB default", "KB --rgb", "KB RGB L6 Sub"],
		rows: [],
	};
	for (const set of sets) {
		const t: Record<string, number[]> = {};
		const sizes: Record<string, number> = {};
		const add = (k: string, v: number): void => {
			(t[k] ??= []).push(v);
		};
		const some = set.files.slice(0, 5);
		for (const f of some) {
			let s = performance.now();
			const frame = await decodeFirstFrame(parseDicomBytes(f), 64e6);
			add("decode", performance.now() - s);
			s = performance.now();
			const u8 = windowToUint8(frame.values);
			add("window", performance.now() - s);
			const encoders: [string, () => Uint8Array][] = [
				["default", () => encodePng(u8, frame.width, frame.height, frame.channels, { level: defaultConvertOptions.pngCompressionLevel })],
				["rgb1", () => encodeRgbPng(u8, frame.width, frame.height, frame.channels, 1)],
				["rgb6", () => encodeRgbPng(u8, frame.width, frame.height, frame.channels, 6)],
			];
			for (const [key, enc] of encoders) {
				s = performance.now();
				const png = enc();
				add(key, performance.now() - s);
				sizes[key] = (sizes[key] ?? 0) + png.length / some.length / 1024;
			}
		}
		const m = (k: string): number => +median(t[k] ?? []).toFixed(1);
		const kb = (k: string): number => Math.round(sizes[k] ?? 0);
		stages.rows.push([set.name, m("decode"), m("window"), m("default"), m("rgb1"), m("rgb6"), kb("default"), kb("rgb1"), kb("rgb6")]);
	}
	tables.push(stages);
	return tables;
}
