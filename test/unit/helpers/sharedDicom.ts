import * as fs from "node:fs";
import * as path from "node:path";

/** One file of ../shared/dicom/reference/manifest.json (the fields the tests use). */
export interface ManifestFile {
	path: string;
	transfer_syntax_uid: string | null;
	photometric_interpretation: string | null;
	rows: number | null;
	columns: number | null;
	has_pixel_data: boolean;
	note: string | null;
	reference: { ok: boolean; output_npy?: string; shape?: number[]; sha256_uint8?: string; error?: string; nan_from_zero_range?: boolean };
}

/** The shared real-DICOM folder: $MEDIMAGEINSIGHT_DICOM_DIR, else ../shared/dicom beside the repository. */
export function sharedDicomDir(): string | undefined {
	const candidates = [process.env["MEDIMAGEINSIGHT_DICOM_DIR"], path.resolve(__dirname, "..", "..", "..", "..", "..", "shared", "dicom"), path.resolve(process.cwd(), "..", "shared", "dicom")];
	return candidates.find((c): c is string => !!c && fs.existsSync(path.join(c, "reference", "manifest.json")));
}

/** The manifest's files, or undefined (with a loud message) when the folder is missing. */
export function loadManifest(what: string): { dir: string; files: ManifestFile[] } | undefined {
	const dir = sharedDicomDir();
	if (!dir) {
		console.warn(`\n!!!!!! SKIPPING ${what}: ../shared/dicom (or $MEDIMAGEINSIGHT_DICOM_DIR) not found !!!!!!\n`);
		return undefined;
	}
	const manifest = JSON.parse(fs.readFileSync(path.join(dir, "reference", "manifest.json"), "utf8")) as { files: ManifestFile[] };
	return { dir, files: manifest.files };
}

/** Reads a .npy file (version 1/2/3, uint8, C order): returns the shape and the raw data. */
export function readNpy(file: string): { shape: number[]; dtype: string; data: Uint8Array } {
	const b = fs.readFileSync(file);
	if (b.toString("latin1", 1, 6) !== "NUMPY" || b[0] !== 0x93) throw new Error(`${file} is not a .npy file`);
	const major = b[6] ?? 1;
	const headerLength = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
	const start = major === 1 ? 10 : 12;
	const header = b.toString("latin1", start, start + headerLength);
	const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? "?";
	const fortran = /'fortran_order':\s*True/.test(header);
	if (fortran) throw new Error(`${file}: Fortran order not supported`);
	const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "";
	const shape = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
	return { shape, dtype, data: new Uint8Array(b.buffer, b.byteOffset + start + headerLength, b.length - start - headerLength) };
}
