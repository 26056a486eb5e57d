import { sharedDicomDir } from "../helpers/sharedDicom";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { discover } from "../../../src/core/pipeline/discover";
import type { DiscoveryItem } from "../../../src/core/pipeline/types";

const shared = path.join(sharedDicomDir() ?? path.resolve(__dirname, "../../../../../shared/dicom"), "files");
/** A real DICOM file written without the 128-byte preamble and "DICM" marker. */
const noPreambleSource = path.join(shared, "pydicom/ExplVR_LitEndNoMeta.dcm");

/** A minimal Part 10 header: 128-byte preamble, "DICM", one meta element. Enough to be sniffed. */
function part10(): Buffer {
	const uid = Buffer.from("1.2.840.10008.1.2.1\0", "latin1");
	const el = Buffer.alloc(8);
	el.writeUInt16LE(0x0002, 0);
	el.writeUInt16LE(0x0010, 2);
	el.write("UI", 4, "latin1");
	el.writeUInt16LE(uid.length, 6);
	return Buffer.concat([Buffer.alloc(128), Buffer.from("DICM", "latin1"), el, uid, Buffer.alloc(600, 1)]);
}

async function collect(inputs: string[], options?: Parameters<typeof discover>[1]): Promise<DiscoveryItem[]> {
	const out: DiscoveryItem[] = [];
	for await (const item of discover(inputs, options)) out.push(item);
	return out;
}

const candidates = (items: DiscoveryItem[]) => items.flatMap((i) => (i.kind === "candidate" ? [i.relPath] : []));
const ignored = (root: string, items: DiscoveryItem[]) => items.flatMap((i) => (i.kind === "ignored" ? [path.relative(root, i.absPath)] : [])).sort();

void describe("discover", () => {
	let root = "";
	const haveNoPreamble = fs.existsSync(noPreambleSource);

	before(() => {
		root = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-"));
		const w = (rel: string, data: Buffer | string) => {
			fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
			fs.writeFileSync(path.join(root, rel), data);
		};
		w("series1/IM0002.dcm", part10());
		w("series1/IM0001", part10()); // no suffix, found by content
		w("series1/sub/deeper/x.DCM", part10());
		w("corrupt.dcm", Buffer.from("this is not a DICOM file, but its name says it is")); // by name: must not vanish
		w("notes.txt", "some notes\n");
		w("README", "a file without suffix that is not DICOM\n");
		w("photo.jpg", Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]));
		w(".DS_Store", Buffer.alloc(64, 0));
		w("series1/._IM0001", part10()); // AppleDouble junk, even with a DICOM body
		w(".medimageinsight/thumbs/a.dcm", part10()); // our own output folder
		w("excluded/y.dcm", part10());
		w("empty/.keep", "");
		if (haveNoPreamble) w("nopreamble/scan", fs.readFileSync(noPreambleSource));
		fs.symlinkSync(root, path.join(root, "series1/loop")); // a loop back to the top
		fs.symlinkSync(path.join(root, "series1/IM0002.dcm"), path.join(root, "link.dcm"));
	});

	after(() => fs.rmSync(root, { recursive: true, force: true }));

	void it("finds DICOM by content and name, depth-first in sorted order, and ignores the rest", async () => {
		if (!haveNoPreamble) console.log(`\n!!! ${noPreambleSource} missing: the preamble-less case is NOT tested !!!\n`);
		const items = await collect([root], { exclude: [path.join(root, "excluded")] });
		const expected = ["corrupt.dcm", ...(haveNoPreamble ? ["nopreamble/scan"] : []), "series1/IM0001", "series1/IM0002.dcm", "series1/sub/deeper/x.DCM"];
		assert.deepEqual(candidates(items), expected);
		assert.deepEqual(ignored(root, items), [".DS_Store", ".medimageinsight", "README", "empty/.keep", "link.dcm", "notes.txt", "photo.jpg", "series1/._IM0001", "series1/loop"].sort());
		for (const item of items) {
			if (item.kind !== "candidate") continue;
			assert.equal(item.root, root);
			assert.equal(item.absPath, path.join(root, ...item.relPath.split("/")));
			const st = fs.statSync(item.absPath);
			assert.equal(item.size, st.size);
			assert.equal(item.mtimeMs, st.mtimeMs);
		}
	});

	void it("gives the same order every time", async () => {
		const a = await collect([root]);
		const b = await collect([root]);
		assert.deepEqual(a, b);
	});

	void it("takes files given directly: relPath is the base name, root the file", async () => {
		const file = path.join(root, "series1/sub/deeper/x.DCM");
		const items = await collect([file, path.join(root, "notes.txt")]);
		assert.deepEqual(items[0], { kind: "candidate", absPath: file, relPath: "x.DCM", root: file, size: fs.statSync(file).size, mtimeMs: fs.statSync(file).mtimeMs });
		assert.deepEqual(items[1], { kind: "ignored", absPath: path.join(root, "notes.txt") });
	});

	void it("walks an input given twice, or inside another selected folder, only once", async () => {
		const inner = path.join(root, "series1");
		const file = path.join(root, "series1/IM0002.dcm");
		const items = await collect([inner, root, file, root]);
		const all = (await collect([root])).filter((i) => i.kind === "candidate");
		assert.deepEqual(
			items.filter((i) => i.kind === "candidate"),
			all,
		);
	});

	void it("skips an unreadable folder and an unreadable file by content as ignored, and goes on", async () => {
		// As root every folder is readable, so the walk then runs in a child process as "nobody".
		const tree = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-locked-"));
		try {
			fs.mkdirSync(path.join(tree, "a/locked"), { recursive: true });
			fs.writeFileSync(path.join(tree, "a/locked/z.dcm"), part10());
			fs.writeFileSync(path.join(tree, "a/ok.dcm"), part10());
			fs.writeFileSync(path.join(tree, "a/secret"), part10()); // DICOM by content only, unreadable
			fs.writeFileSync(path.join(tree, "a/secret.dcm"), part10()); // DICOM by name, unreadable
			fs.chmodSync(tree, 0o755);
			fs.chmodSync(path.join(tree, "a"), 0o755);
			for (const f of ["a/ok.dcm"]) fs.chmodSync(path.join(tree, f), 0o644);
			for (const f of ["a/secret", "a/secret.dcm"]) fs.chmodSync(path.join(tree, f), 0o000);
			fs.chmodSync(path.join(tree, "a/locked"), 0o000);
			const asRoot = process.getuid?.() === 0;
			const script = `
				const { discover } = require(${JSON.stringify(require.resolve("../../../src/core/pipeline/discover"))});
				(async () => {
					const out = [];
					for await (const i of discover([${JSON.stringify(tree)}])) out.push(i.kind === "candidate" ? "candidate " + i.relPath : "ignored " + i.absPath);
					process.stdout.write(JSON.stringify(out));
				})().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
			const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
			assert.equal(r.status, 0, r.stderr);
			const lines = JSON.parse(r.stdout) as string[];
			assert.deepEqual(lines, [
				`ignored ${path.join(tree, "a/locked")}`,
				"candidate a/ok.dcm",
				`ignored ${path.join(tree, "a/secret")}`,
				"candidate a/secret.dcm", // by name: it will fail at stage "read" rather than vanish
			]);
		} finally {
			fs.rmSync(tree, { recursive: true, force: true });
		}
	});

	void it("says which input does not exist, before yielding anything", async () => {
		const missing = path.join(root, "no-such-folder");
		await assert.rejects(collect([root, missing]), { message: `Input not found: ${missing}` });
	});

	void it("stops with an AbortError when the signal aborts", async () => {
		const ac = new AbortController();
		let n = 0;
		await assert.rejects(
			(async () => {
				for await (const _ of discover([root], { signal: ac.signal })) {
					if (++n === 2) ac.abort();
				}
			})(),
			{ name: "AbortError" },
		);
		assert.equal(n, 2);
	});

	void it("streams: the first item comes before a large folder has been walked", async () => {
		const big = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-big-"));
		try {
			const body = part10();
			for (let d = 0; d < 50; d++) {
				fs.mkdirSync(path.join(big, `d${String(d).padStart(2, "0")}`));
				for (let f = 0; f < 40; f++) fs.writeFileSync(path.join(big, `d${String(d).padStart(2, "0")}`, `f${f}`), body);
			}
			const gen = discover([big]);
			const first = await gen.next();
			// Replace the last folder: if discovery had listed everything up front, it would miss this change.
			fs.rmSync(path.join(big, "d49"), { recursive: true });
			fs.mkdirSync(path.join(big, "d49"));
			fs.writeFileSync(path.join(big, "d49", "late.dcm"), body);
			const rest: DiscoveryItem[] = [];
			for await (const item of gen) rest.push(item);
			assert.equal(first.done, false);
			assert.equal(candidates([first.value as DiscoveryItem]).at(0), "d00/f0");
			const all = candidates(rest);
			assert.equal(all.length, 49 * 40 - 1 + 1);
			assert.equal(all.at(-1), "d49/late.dcm");
		} finally {
			fs.rmSync(big, { recursive: true, force: true });
		}
	});
});
