// What the benches built on ../shared/dicom have in common: their table shape, where the shared
// files are, and the reference manifest.
import * as fs from "node:fs";
import * as path from "node:path";

/** A table a bench returns; bench/run.ts prints it. */
export interface Table {
	title: string;
	columns: string[];
	rows: (string | number)[][];
}

/** One file of the reference manifest, with the fields the benches read. */
export interface ManifestEntry {
	path: string;
	transfer_syntax_uid?: string | null;
	reference: { ok: boolean; output_npy?: string; output_png?: string; seconds_median?: number };
}

/** ../shared/dicom (or MEDIMAGEINSIGHT_DICOM_DIR) when it holds the reference manifest. */
export function sharedDir(): string | undefined {
	const candidates = [process.env["MEDIMAGEINSIGHT_DICOM_DIR"], path.resolve(__dirname, "..", "..", "..", "shared", "dicom"), path.resolve(process.cwd(), "..", "shared", "dicom")];
	return candidates.find((c): c is string => !!c && fs.existsSync(path.join(c, "reference", "manifest.json")));
}

/** The files of `dir`'s reference manifest. */
export function readManifest(dir: string): ManifestEntry[] {
	return (JSON.parse(fs.readFileSync(path.join(dir, "reference", "manifest.json"), "utf8")) as { files: ManifestEntry[] }).files;
}
