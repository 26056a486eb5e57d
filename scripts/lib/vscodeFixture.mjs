// The workspace the VS Code tests open: test/fixtures/workspace plus real DICOM files from
// ../shared/dicom under scans/, chosen by the reference manifest's outcome, and fixture.json that
// lists them (the tests take their expectations from it, never from our own code's output).
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
export const sharedDicom = process.env.MII_SHARED_DICOM ?? resolve(root, "..", "shared", "dicom");

const fixtureFiles = {
	images: [
		"files/pydicom/MR_small.dcm",
		"files/pydicom/MR_small_implicit.dcm",
		"files/pydicom/CT_small.dcm",
		"files/pydicom/SC_rgb_small_odd.dcm",
		"files/pydicom/dicomdirtests/77654033/CT2/17106",
		"files/pydicom/dicomdirtests/77654033/CR1/6154",
		"files/pydicom-data/SC_rgb.dcm",
		"files/pydicom/liver_1frame.dcm",
		"files/pydicom-data/SC_ybr_full_uncompressed.dcm",
		"files/pydicom/MR_small_padded.dcm",
	],
	skipped: ["files/pydicom/reportsi.dcm"],
};

/**
 * Copies test/fixtures/workspace into `ws` and adds the DICOM fixtures. Returns the fixture
 * manifest, or undefined (after a loud message) when ../shared/dicom is not there.
 */
export function fillFixtureWorkspace(ws) {
	cpSync(join(root, "test", "fixtures", "workspace"), ws, { recursive: true });
	const manifestPath = join(sharedDicom, "reference", "manifest.json");
	if (!existsSync(manifestPath)) {
		console.log(`\n!!!!! ${sharedDicom} not found: the tests that need DICOM files will be SKIPPED (not passed) !!!!!\n`);
		return undefined;
	}
	const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
	const byPath = new Map(manifest.files.map((f) => [f.path, f]));
	const scans = join(ws, "scans");
	const fx = { folder: "scans", images: [], skipped: [], corrupt: [], ignored: [] };
	const place = (rel, kind) => {
		const entry = byPath.get(rel);
		if (!entry) throw new Error(`${rel} is not in the shared manifest`);
		if (kind === "images" && !entry.reference?.ok) throw new Error(`${rel}: the reference does not convert it`);
		// Flat names; the files without a suffix stay suffix-less (discovery goes by content).
		const name = rel.replace(/^files\//, "").replaceAll("/", "_");
		const target = kind === "images" && rel.includes("dicomdirtests") ? join(scans, "no-suffix", name) : join(scans, name);
		mkdirSync(dirname(target), { recursive: true });
		cpSync(join(sharedDicom, rel), target);
		fx[kind].push(relative(scans, target).split("\\").join("/"));
	};
	for (const rel of fixtureFiles.images) place(rel, "images");
	for (const rel of fixtureFiles.skipped) place(rel, "skipped");
	// A corrupt file that claims to be DICOM: must fail with a reason, never reach the endpoint.
	const corrupt = Buffer.alloc(300);
	corrupt.write("DICM", 128, "latin1");
	corrupt.write("this is not a data set", 140, "latin1");
	writeFileSync(join(scans, "broken.dcm"), corrupt);
	fx.corrupt.push("broken.dcm");
	writeFileSync(join(scans, "notes.txt"), "Scans of the test workspace; not DICOM.\n");
	fx.ignored.push("notes.txt");
	writeFileSync(join(ws, "fixture.json"), JSON.stringify(fx, null, "\t"));
	return fx;
}
