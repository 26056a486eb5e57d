// Converter throughput on one thread: real files from ../shared/dicom and generated CT slices and
// radiographs; plus what PNG level and filter cost. Run through bench/run.ts (npm run bench).
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { convertDicomBytes } from "../src/core/dicom/convert";
import { parseDicomBytes } from "../src/core/dicom/parse";
import { decodeFirstFrame } from "../src/core/dicom/pixels";
import { defaultConvertOptions, type ConvertOptions } from "../src/core/dicom/types";
import { writeDicom } from "../src/core/dicom/writer";
import { encodeRgbPng } from "../src/core/png/encodePng";
import { windowToUint8 } from "../src/core/imaging/window";

interface Table {
	title: string;
	columns: string[];
	rows: (string | number)[][];
}

function sharedDir(): string | undefined {
	const candidates = [process.env["MEDIMAGEINSIGHT_DICOM_DIR"], path.resolve(__dirname, "..", "..", "..", "shared", "dicom"), path.resolve(process.cwd(), "..", "shared", "dicom")];
	return candidates.find((c): c is string => !!c && fs.existsSync(path.join(c, "reference", "manifest.json")));
}

function median(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** A CT-like 512×512 slice: air, a body ellipse, bone ring, organs, noise (HU + 1024 stored, slope 1). */
function ctSlice(seed: number): number[] {
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
function radiograph(seed: number): number[] {
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

interface ManifestEntry {
	path: string;
	transfer_syntax_uid?: string | null;
	reference: { ok: boolean; seconds_median?: number };
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

/**
 * Per file: our fastest of 7 conversions (default options) against the reference's own median
 * (manifest `reference.seconds_median`, SimpleITK + numpy + Pillow, one core), summed by codec.
 * The minimum is the figure least disturbed by other processes on a shared machine.
 */
async function versusReference(dir: string, entries: ManifestEntry[]): Promise<Table> {
	const groups = new Map<string, { files: number; ours: number; ref: number }>();
	const all = { files: 0, ours: 0, ref: 0 };
	for (const e of entries) {
		const refSeconds = e.reference.seconds_median;
		if (!e.reference.ok || refSeconds === undefined) continue;
		const bytes = new Uint8Array(fs.readFileSync(path.join(dir, e.path)));
		let best = Infinity;
		for (let i = 0; i < 7; i++) {
			const t = performance.now();
			await convertDicomBytes(bytes, defaultConvertOptions);
			best = Math.min(best, performance.now() - t);
		}
		const g = syntaxGroup(e.transfer_syntax_uid);
		const acc = groups.get(g) ?? { files: 0, ours: 0, ref: 0 };
		for (const a of [acc, all]) {
			a.files++;
			a.ours += best;
			a.ref += refSeconds * 1000;
		}
		groups.set(g, acc);
	}
	const rows = [...groups.entries()].sort((a, b) => b[1].ours - a[1].ours).map(([g, a]) => [g, a.files, +a.ours.toFixed(1), +a.ref.toFixed(1), +(a.ref / a.ours).toFixed(2)]);
	rows.push(["all", all.files, +all.ours.toFixed(1), +all.ref.toFixed(1), +(all.ref / all.ours).toFixed(2)]);
	return { title: "Versus the reference per file (ours: fastest of 7, default options; reference: its median), summed", columns: ["codec", "files", "ours ms", "reference ms", "speed-up"], rows };
}

export async function run(): Promise<Table[]> {
	const tables: Table[] = [];
	const throughput: Table = {
		title: "convertDicomBytes, one thread",
		// images/CPU-s divides by this process's CPU time, a fairer per-core figure on a busy machine.
		columns: ["input", "PNG level", "images", "images/s", "images/CPU-s", "MB/s (DICOM)", "median ms/image"],
		rows: [],
	};
	const fast: ConvertOptions = { ...defaultConvertOptions, pngCompressionLevel: 1 };
	const measure = async (name: string, files: Uint8Array[], passes: number): Promise<void> => {
		for (const options of [defaultConvertOptions, fast]) {
			const r = await timeFiles(files, passes, options);
			const [input, ...rest] = row(name, r);
			throughput.rows.push([input ?? name, options.pngCompressionLevel, ...rest]);
		}
	};
	const dir = sharedDir();
	if (dir) {
		const manifest = JSON.parse(fs.readFileSync(path.join(dir, "reference", "manifest.json"), "utf8")) as { files: ManifestEntry[] };
		const files = manifest.files.filter((f) => f.reference.ok).map((f) => new Uint8Array(fs.readFileSync(path.join(dir, f.path))));
		await timeFiles(files, 1, defaultConvertOptions); // warm up: load the WASM codecs once
		await measure(`../shared/dicom: ${files.length} ok files × 3 passes`, files, 3);
		tables.push(await versusReference(dir, manifest.files));
	} else {
		console.warn("!!!!!! ../shared/dicom not found: real-file benchmark skipped !!!!!!");
	}
	const ct = Array.from({ length: 200 }, (_, i) => writeDicom({ rows: 512, columns: 512, bitsAllocated: 16, bitsStored: 12, pixels: ctSlice(i), rescaleSlope: 1, rescaleIntercept: -1024, modality: "CT" }));
	await measure("200× CT 512×512 16-bit", ct, 1);
	const cr = Array.from({ length: 10 }, (_, i) => writeDicom({ rows: 2500, columns: 2048, bitsAllocated: 16, bitsStored: 12, pixels: radiograph(i), modality: "CR" }));
	await measure("10× radiograph 2048×2500 12-bit", cr, 1);
	tables.push(throughput);

	// Where the time goes, and what PNG level and filter cost, on 20 CT slices and 2 radiographs.
	const stages: Table = {
		title: "Stages (median ms/image) and PNG size",
		columns: ["input", "parse+decode", "window", "PNG L1 Sub (default)", "PNG L1 Up", "PNG L1 None", "PNG L6 Sub", "PNG L6 adaptive", "KB L1 Sub", "KB L1 Up", "KB L6 Sub", "KB L6 adaptive"],
		rows: [],
	};
	for (const [name, set] of [["CT 512×512", ct.slice(0, 20)], ["radiograph 2048×2500", cr.slice(0, 2)]] as const) {
		const t: Record<string, number[]> = {};
		const sizes: Record<string, number> = {};
		const add = (k: string, v: number): void => {
			(t[k] ??= []).push(v);
		};
		for (const f of set) {
			let s = performance.now();
			const frame = await decodeFirstFrame(parseDicomBytes(f), 64e6);
			add("decode", performance.now() - s);
			s = performance.now();
			const u8 = windowToUint8(frame.values);
			add("window", performance.now() - s);
			for (const [key, level, filter] of [["l1sub", 1, 1], ["l1up", 1, 2], ["l1none", 1, 0], ["l6sub", 6, 1], ["l6a", 6, -1]] as const) {
				s = performance.now();
				const png = encodeRgbPng(u8, frame.width, frame.height, frame.channels, level, filter);
				add(key, performance.now() - s);
				sizes[key] = (sizes[key] ?? 0) + png.length / set.length / 1024;
			}
		}
		const m = (k: string): number => +median(t[k] ?? []).toFixed(1);
		const kb = (k: string): number => Math.round(sizes[k] ?? 0);
		stages.rows.push([name, m("decode"), m("window"), m("l1sub"), m("l1up"), m("l1none"), m("l6sub"), m("l6a"), kb("l1sub"), kb("l1up"), kb("l6sub"), kb("l6a")]);
	}
	tables.push(stages);
	return tables;
}
