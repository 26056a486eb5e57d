/**
 * The demo's sample data: synthetic DICOM studies written by the project's own writer
 * (src/core/dicom/writer.ts), deterministic for a given seed. Several modalities and encodings,
 * files without suffix or preamble, a few non-DICOM files, one corrupt file and one report
 * without pixels — the things a real export folder holds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeDicomAsync, type DicomWriteSpec, type WriterTransferSyntax } from "./dicomWriter";
import { brainMrSlice, chestCtSlice, chestRadiographMono1, headCtSlice, hotIronPalette, paletteIndices, rgbToYbrFull, seededRandom, ultrasoundRgb } from "./phantoms";

/** Bump when the generated data changes, so that an old demo folder is regenerated. */
export const sampleGeneratorVersion = 1;

export interface SampleSeries {
	folder: string;
	modality: string;
	images: number;
	encodings: string[];
}

export interface SampleSet {
	/** Files that hold an image (each must end embedded). */
	images: number;
	/** All files written, DICOM or not. */
	files: number;
	/** Paths (relative to the data folder, posix) planted to fail: corrupt files. */
	plantedFailures: string[];
	/** Paths planted to be skipped: DICOM without pixel data. */
	plantedSkips: string[];
	/** Non-DICOM files, ignored by discovery. */
	nonDicom: string[];
	series: SampleSeries[];
}

export interface GenerateOptions {
	/** Images to write (default 240; at least 20). */
	count?: number;
	seed?: number;
	signal?: AbortSignal;
}

const sopClass = {
	ct: "1.2.840.10008.5.1.4.1.1.2",
	mr: "1.2.840.10008.5.1.4.1.1.4",
	cr: "1.2.840.10008.5.1.4.1.1.1",
	dx: "1.2.840.10008.5.1.4.1.1.1.1",
	us: "1.2.840.10008.5.1.4.1.1.6.1",
	nm: "1.2.840.10008.5.1.4.1.1.20",
	sr: "1.2.840.10008.5.1.4.1.1.88.11",
};

/** A deterministic UID under the 2.25 root from the seeded source. */
function uidFrom(rand: () => number): string {
	let n = 0n;
	for (let i = 0; i < 4; i++) n = (n << 30n) | BigInt(Math.floor(rand() * 2 ** 30));
	return `2.25.${(n + 1n).toString()}`;
}

/** Codec syntaxes need the WASM encoders, which a bundle may not ship: probed once, else RLE. */
const codecSyntaxes = new Set<WriterTransferSyntax>(["jpegLs", "jpegLsNear", "j2k", "j2kLossy", "jpegBaseline"]);
const probed = new Map<WriterTransferSyntax, Promise<boolean>>();

function canEncode(syntax: WriterTransferSyntax): Promise<boolean> {
	if (!codecSyntaxes.has(syntax)) return Promise.resolve(true);
	let p = probed.get(syntax);
	if (!p) {
		// 16×16: the JPEG encoder fails on smaller images. JPEG baseline is 8-bit RGB here, the others 16-bit grey.
		const probe: DicomWriteSpec =
			syntax === "jpegBaseline"
				? { transferSyntax: syntax, rows: 16, columns: 16, bitsAllocated: 8, samplesPerPixel: 3, pixels: new Uint8Array(768).fill(90) }
				: { transferSyntax: syntax, rows: 16, columns: 16, bitsAllocated: 16, pixels: new Uint16Array(256).fill(900) };
		p = writeDicomAsync(probe).then(
			() => true,
			() => false,
		);
		probed.set(syntax, p);
	}
	return p;
}

/** Encodings actually written, by series folder (a codec the bundle cannot load falls back to RLE). */
const used = new Map<string, Set<string>>();

const syntaxNames: Record<WriterTransferSyntax, string> = {
	implicitLE: "implicit VR LE",
	explicitLE: "explicit VR LE",
	explicitBE: "explicit VR BE",
	deflated: "deflated",
	rle: "RLE",
	jpegLs: "JPEG-LS lossless",
	jpegLsNear: "JPEG-LS near-lossless",
	j2k: "JPEG 2000 lossless",
	j2kLossy: "JPEG 2000",
	jpegBaseline: "JPEG baseline",
};

async function write(dataDir: string, rel: string, spec: DicomWriteSpec): Promise<void> {
	const file = path.join(dataDir, ...rel.split("/"));
	let syntax = spec.transferSyntax ?? "explicitLE";
	if (!(await canEncode(syntax))) {
		// RLE keeps the file compressed; a JPEG baseline YBR_FULL_422 stays RGB.
		syntax = "rle";
		spec = { ...spec, transferSyntax: syntax, ...(spec.photometricInterpretation?.startsWith("YBR_FULL_422") ? { photometricInterpretation: "RGB" } : {}) };
	}
	if (spec.pixels) {
		const folder = path.posix.dirname(rel);
		const set = used.get(folder) ?? new Set<string>();
		set.add(syntaxNames[syntax]);
		used.set(folder, set);
	}
	await fs.promises.mkdir(path.dirname(file), { recursive: true });
	await fs.promises.writeFile(file, await writeDicomAsync(spec));
}

function pad(n: number): string {
	return String(n).padStart(4, "0");
}

/** Splits `count` images over the series by weight (the largest series takes the remainder). */
function split(count: number, weights: number[]): number[] {
	const total = weights.reduce((a, b) => a + b, 0);
	const parts = weights.map((w) => Math.max(1, Math.floor((count * w) / total)));
	const rest = count - parts.reduce((a, b) => a + b, 0);
	parts[0] = (parts[0] ?? 0) + rest;
	return parts;
}

/**
 * Writes `n` chest CT slices (size × size, signed 16-bit, stored HU + 1024 with intercept -1024) to
 * `dir`, explicit VR little endian. Used by the demo and the pool benchmark.
 */
export async function generateCtSeries(dir: string, n: number, size: number, seed: number, folder = ".", signal?: AbortSignal): Promise<void> {
	const rand = seededRandom(seed);
	const study = uidFrom(rand);
	const series = uidFrom(rand);
	for (let i = 0; i < n; i++) {
		signal?.throwIfAborted();
		const hu = chestCtSlice(size, n === 1 ? 0.5 : i / (n - 1), rand);
		const stored = new Int16Array(hu.length);
		for (let k = 0; k < hu.length; k++) stored[k] = hu[k]! + 1024;
		await write(dir, `${folder}/IM${pad(i + 1)}.dcm`, {
			transferSyntax: "explicitLE",
			rows: size,
			columns: size,
			bitsAllocated: 16,
			bitsStored: 16,
			pixelRepresentation: 1,
			pixels: stored,
			rescaleSlope: 1,
			rescaleIntercept: -1024,
			modality: "CT",
			sopClassUid: sopClass.ct,
			sopInstanceUid: uidFrom(rand),
			seriesInstanceUid: series,
			studyInstanceUid: study,
			studyDescription: "DEMO CHEST (synthetic phantom)",
			seriesDescription: "Chest CT axial 5 mm",
			bodyPartExamined: "CHEST",
			seriesNumber: 2,
			instanceNumber: i + 1,
			patientName: "Demo^Phantom",
			patientId: "DEMO-0001",
		});
	}
}

/** Generates the demo data set in `dataDir` (created if missing). */
export async function generateSamples(dataDir: string, options: GenerateOptions = {}): Promise<SampleSet> {
	const count = Math.max(20, Math.floor(options.count ?? 240));
	const seed = options.seed ?? 20240601;
	const signal = options.signal;
	const rand = seededRandom(seed);
	await fs.promises.mkdir(dataDir, { recursive: true });
	const series: SampleSeries[] = [];
	// chest CT, head CT, brain MR, CR/DX, US RGB, US YBR, palette NM
	const [nCt, nHead, nMr, nCr, nUs, nYbr, nPal] = split(count, [30, 12, 25, 6, 14, 8, 5]) as [number, number, number, number, number, number, number];

	// 1. Chest CT, 512², signed 16-bit, rescale intercept -1024, explicit VR LE.
	await generateCtSeries(dataDir, nCt, 512, seed + 1, "patient1/ct_chest", signal);
	series.push({ folder: "patient1/ct_chest", modality: "CT", images: nCt, encodings: ["signed 16-bit, intercept -1024"] });

	// 2. Head CT, 256², unsigned 16-bit with slope 0.5 / intercept -1024; RLE, JPEG 2000 and JPEG-LS lossless.
	{
		const study = uidFrom(rand);
		const ser = uidFrom(rand);
		const syntaxes: WriterTransferSyntax[] = ["rle", "j2k", "jpegLs"];
		for (let i = 0; i < nHead; i++) {
			signal?.throwIfAborted();
			const hu = headCtSlice(256, nHead === 1 ? 0.5 : i / (nHead - 1), rand);
			const stored = new Uint16Array(hu.length);
			for (let k = 0; k < hu.length; k++) stored[k] = Math.max(0, (hu[k]! + 1024) * 2);
			await write(dataDir, `patient2/ct_head/IM${pad(i + 1)}.dcm`, {
				transferSyntax: syntaxes[i % syntaxes.length]!,
				rows: 256,
				columns: 256,
				bitsAllocated: 16,
				bitsStored: 16,
				pixelRepresentation: 0,
				pixels: stored,
				rescaleSlope: 0.5,
				rescaleIntercept: -1024,
				modality: "CT",
				sopClassUid: sopClass.ct,
				sopInstanceUid: uidFrom(rand),
				seriesInstanceUid: ser,
				studyInstanceUid: study,
				studyDescription: "DEMO HEAD (synthetic phantom)",
				seriesDescription: "Head CT axial",
				bodyPartExamined: "HEAD",
				seriesNumber: 3,
				instanceNumber: i + 1,
				patientName: "Demo^Phantom2",
				patientId: "DEMO-0002",
			});
		}
		series.push({ folder: "patient2/ct_head", modality: "CT", images: nHead, encodings: ["unsigned 16-bit, slope 0.5"] });
	}

	// 3. Brain MR, 256², 12 bits stored in 16, implicit VR LE, no file suffix; every 4th without preamble and meta.
	{
		const study = uidFrom(rand);
		const ser = uidFrom(rand);
		for (let i = 0; i < nMr; i++) {
			signal?.throwIfAborted();
			const bare = i % 4 === 3;
			await write(dataDir, `patient2/mr_brain/MR${String(100000 + i)}`, {
				transferSyntax: bare ? "implicitLE" : i % 4 === 1 ? "jpegLs" : "implicitLE",
				preamble: !bare,
				fileMeta: !bare,
				rows: 256,
				columns: 256,
				bitsAllocated: 16,
				bitsStored: 12,
				pixelRepresentation: 0,
				pixels: brainMrSlice(256, nMr === 1 ? 0.5 : i / (nMr - 1), rand),
				modality: "MR",
				sopClassUid: sopClass.mr,
				sopInstanceUid: uidFrom(rand),
				seriesInstanceUid: ser,
				studyInstanceUid: study,
				studyDescription: "DEMO HEAD (synthetic phantom)",
				seriesDescription: "MR T2 axial",
				bodyPartExamined: "BRAIN",
				seriesNumber: 4,
				instanceNumber: i + 1,
				patientName: "Demo^Phantom2",
				patientId: "DEMO-0002",
			});
		}
		series.push({ folder: "patient2/mr_brain", modality: "MR", images: nMr, encodings: ["12 bits in 16", "no file suffix", "no preamble, no file meta"] });
	}

	// 4. Chest radiographs, MONOCHROME1, 12-bit; CR explicit LE, DX deflated.
	for (let i = 0; i < nCr; i++) {
		signal?.throwIfAborted();
		const dx = i % 2 === 1;
		await write(dataDir, `patient3/${dx ? "dx" : "cr"}/chest_${pad(i + 1)}.dcm`, {
			transferSyntax: dx ? "deflated" : "explicitLE",
			rows: 640,
			columns: 528,
			bitsAllocated: 16,
			bitsStored: 12,
			pixelRepresentation: 0,
			photometricInterpretation: "MONOCHROME1",
			pixels: chestRadiographMono1(528, 640, i, rand),
			modality: dx ? "DX" : "CR",
			sopClassUid: dx ? sopClass.dx : sopClass.cr,
			sopInstanceUid: uidFrom(rand),
			seriesInstanceUid: uidFrom(rand),
			studyInstanceUid: uidFrom(rand),
			studyDescription: "DEMO CHEST PA (synthetic phantom)",
			seriesDescription: dx ? "DX chest PA" : "CR chest PA",
			bodyPartExamined: "CHEST",
			seriesNumber: 1,
			instanceNumber: 1,
			patientName: "Demo^Phantom3",
			patientId: "DEMO-0003",
		});
	}
	series.push({ folder: "patient3", modality: "CR/DX", images: nCr, encodings: ["MONOCHROME1", "12 bits in 16"] });

	// 5. Ultrasound RGB 320×240: interleaved, planar, and JPEG baseline (YBR_FULL_422).
	{
		const study = uidFrom(rand);
		const ser = uidFrom(rand);
		for (let i = 0; i < nUs; i++) {
			signal?.throwIfAborted();
			const kind = i % 3;
			await write(dataDir, `patient4/us/US${pad(i + 1)}${kind === 2 ? "" : ".dcm"}`, {
				transferSyntax: kind === 2 ? "jpegBaseline" : "explicitLE",
				rows: 240,
				columns: 320,
				samplesPerPixel: 3,
				planarConfiguration: kind === 1 ? 1 : 0,
				bitsAllocated: 8,
				pixels: ultrasoundRgb(320, 240, nUs === 1 ? 0.5 : i / (nUs - 1), rand),
				modality: "US",
				sopClassUid: sopClass.us,
				sopInstanceUid: uidFrom(rand),
				seriesInstanceUid: ser,
				studyInstanceUid: study,
				studyDescription: "DEMO ABDOMEN US (synthetic phantom)",
				seriesDescription: "US abdomen",
				bodyPartExamined: "ABDOMEN",
				seriesNumber: 1,
				instanceNumber: i + 1,
				patientName: "Demo^Phantom4",
				patientId: "DEMO-0004",
			});
		}
		series.push({ folder: "patient4/us", modality: "US", images: nUs, encodings: ["RGB interleaved", "RGB planar", "some without suffix"] });
	}

	// 6. Ultrasound YBR_FULL, uncompressed, explicit VR big endian for some.
	{
		const ser = uidFrom(rand);
		const study = uidFrom(rand);
		for (let i = 0; i < nYbr; i++) {
			signal?.throwIfAborted();
			await write(dataDir, `patient4/us_ybr/YBR${pad(i + 1)}.dcm`, {
				transferSyntax: i % 2 ? "explicitBE" : "explicitLE",
				rows: 240,
				columns: 320,
				samplesPerPixel: 3,
				photometricInterpretation: "YBR_FULL",
				bitsAllocated: 8,
				pixels: rgbToYbrFull(ultrasoundRgb(320, 240, (i + 0.5) / nYbr, rand)),
				modality: "US",
				sopClassUid: sopClass.us,
				sopInstanceUid: uidFrom(rand),
				seriesInstanceUid: ser,
				studyInstanceUid: study,
				studyDescription: "DEMO ABDOMEN US (synthetic phantom)",
				seriesDescription: "US abdomen YBR",
				seriesNumber: 2,
				instanceNumber: i + 1,
				patientName: "Demo^Phantom4",
				patientId: "DEMO-0004",
			});
		}
		series.push({ folder: "patient4/us_ybr", modality: "US", images: nYbr, encodings: ["YBR_FULL"] });
	}

	// 7. PALETTE COLOR nuclear-medicine-like images.
	{
		const palette = hotIronPalette();
		const ser = uidFrom(rand);
		const study = uidFrom(rand);
		for (let i = 0; i < nPal; i++) {
			signal?.throwIfAborted();
			await write(dataDir, `patient5/nm/NM${pad(i + 1)}.dcm`, {
				transferSyntax: "explicitLE",
				rows: 128,
				columns: 128,
				bitsAllocated: 8,
				photometricInterpretation: "PALETTE COLOR",
				palette: { ...palette, bits: 16 },
				pixels: paletteIndices(128, i / Math.max(1, nPal), rand),
				modality: "NM",
				sopClassUid: sopClass.nm,
				sopInstanceUid: uidFrom(rand),
				seriesInstanceUid: ser,
				studyInstanceUid: study,
				studyDescription: "DEMO NM (synthetic phantom)",
				seriesDescription: "NM hot iron palette",
				seriesNumber: 1,
				instanceNumber: i + 1,
				patientName: "Demo^Phantom5",
				patientId: "DEMO-0005",
			});
		}
		series.push({ folder: "patient5/nm", modality: "NM", images: nPal, encodings: ["PALETTE COLOR"] });
	}

	// 8. What else a real export holds: a report without pixels, a corrupt file, non-DICOM files.
	const plantedSkips = ["patient1/reports/report.dcm"];
	await write(dataDir, plantedSkips[0]!, {
		rows: 0,
		columns: 0,
		bitsAllocated: 8,
		modality: "SR",
		sopClassUid: sopClass.sr,
		sopInstanceUid: uidFrom(rand),
		seriesInstanceUid: uidFrom(rand),
		studyInstanceUid: uidFrom(rand),
		seriesDescription: "Radiology report (no image)",
		patientName: "Demo^Phantom",
		patientId: "DEMO-0001",
	});
	const plantedFailures = ["patient1/ct_chest/IM_corrupt.dcm"];
	const junk = new Uint8Array(4096);
	for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
	await fs.promises.writeFile(path.join(dataDir, ...plantedFailures[0]!.split("/")), junk);
	const nonDicom = ["notes.txt", ".DS_Store", "patient4/us/readme.md", "patient3/photo.jpg"];
	await fs.promises.writeFile(path.join(dataDir, "notes.txt"), "Synthetic demo data written by medimageinsight demo. No patient data.\n");
	await fs.promises.writeFile(path.join(dataDir, ".DS_Store"), new Uint8Array(1024));
	await fs.promises.writeFile(path.join(dataDir, "patient4/us/readme.md"), "# Ultrasound\nSynthetic frames.\n");
	await fs.promises.writeFile(path.join(dataDir, "patient3/photo.jpg"), Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0xff, 0xd9]));

	for (const s of series) {
		const written = [...used.entries()].filter(([folder]) => folder === s.folder || folder.startsWith(`${s.folder}/`)).flatMap(([, v]) => [...v]);
		s.encodings = [...new Set([...written, ...s.encodings])];
	}
	const images = series.reduce((n, s) => n + s.images, 0);
	return { images, files: images + plantedSkips.length + plantedFailures.length + nonDicom.length, plantedFailures, plantedSkips, nonDicom, series };
}
