/**
 * Conversion of files read once each, in this thread (`convertDicomFile`: read, hash, convert): the
 * cost a run pays per file, first writes to fresh memory included (the converter's scratch arrays,
 * src/core/util/scratch.ts, are what keeps those low). Generated CT slices and radiographs, written
 * to a temporary folder; CPU time per image (user + system, and system alone).
 * Run: `npm run bench -- onePass`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { convertDicomFile } from "../src/core/dicom/convertFile";
import { defaultConvertOptions } from "../src/core/dicom/types";
import { writeDicom } from "../src/devtools/dicomWriter";
import { chestCtSlice, chestRadiographMono1, seededRandom } from "../src/devtools/phantoms";

interface Set {
	name: string;
	count: number;
	write(i: number, rand: () => number): Uint8Array;
}

const sets: Set[] = [
	{
		name: "CT 512×512 int16",
		count: 120,
		write: (i, rand) =>
			writeDicom({ rows: 512, columns: 512, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1, pixels: chestCtSlice(512, i / 120, rand), rescaleIntercept: -1024, rescaleSlope: 1, modality: "CT" }),
	},
	{
		name: "CR 2048×2500 12-bit MONOCHROME1",
		count: 8,
		write: (i, rand) => writeDicom({ rows: 2500, columns: 2048, bitsAllocated: 16, bitsStored: 12, pixels: chestRadiographMono1(2048, 2500, i, rand), photometricInterpretation: "MONOCHROME1", modality: "CR" }),
	},
];

export async function run(): Promise<{ title: string; columns: string[]; rows: (string | number)[][] }[]> {
	const rows: (string | number)[][] = [];
	for (const set of sets) {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-onepass-"));
		try {
			const rand = seededRandom(3);
			const files: string[] = [];
			for (let i = 0; i < set.count; i++) {
				const f = path.join(dir, `${i}.dcm`);
				fs.writeFileSync(f, set.write(i, rand));
				files.push(f);
			}
			// Warm-up on the first file (codec and code loading), then each file once.
			await convertDicomFile(files[0]!, defaultConvertOptions);
			const before = process.cpuUsage();
			let images = 0;
			for (const f of files) if ((await convertDicomFile(f, defaultConvertOptions)).outcome.kind === "image") images++;
			const used = process.cpuUsage(before);
			rows.push([set.name, files.length, images, (used.user + used.system) / 1000 / files.length, used.system / 1000 / files.length]);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	}
	return [{ title: "Files read and converted once each, one thread (convertDicomFile)", columns: ["input", "files", "images", "CPU ms per file", "of which system ms"], rows }];
}
