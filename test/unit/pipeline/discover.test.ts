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
/**
 * Bundles discovery (compiled under out/) with its imports into one file in a new temporary folder
 * readable by every user, and returns the file's path.
 */
function bundleForOtherUser(): string {
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const esbuild = require("esbuild") as typeof import("esbuild");
	const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-bundle-"));
	const outfile = path.join(outDir, "discover.js");
	esbuild.buildSync({ entryPoints: [require.resolve("../../../src/core/pipeline/discover")], bundle: true, platform: "node", format: "cjs", outfile, logLevel: "error" });
	fs.chmodSync(outDir, 0o755);
	fs.chmodSync(outfile, 0o644);
	return outfile;
}

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

/** Relative paths of the candidates, sorted (discovery yields them in the file system's order). */
const candidates = (items: DiscoveryItem[]) => items.flatMap((i) => (i.kind === "candidate" ? [i.relPath] : [])).sort();
const skipped = (items: DiscoveryItem[]) => items.flatMap((i) => (i.kind === "skipped" ? [`${i.relPath}: ${i.reason}`] : [])).sort();
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
		fs.symlinkSync(path.join(root, "excluded"), path.join(root, "to-excluded")); // into an excluded folder (the output folder)
	});

	after(() => fs.rmSync(root, { recursive: true, force: true }));

	void it("finds DICOM by content and name, follows links inside the selection, and ignores the rest", async () => {
		if (!haveNoPreamble) console.log(`\n!!! ${noPreambleSource} missing: the preamble-less case is NOT tested !!!\n`);
		const items = await collect([root], { exclude: [path.join(root, "excluded")] });
		const expected = ["corrupt.dcm", "link.dcm", ...(haveNoPreamble ? ["nopreamble/scan"] : []), "series1/IM0001", "series1/IM0002.dcm", "series1/sub/deeper/x.DCM"];
		assert.deepEqual(candidates(items), expected);
		assert.deepEqual(ignored(root, items), [".DS_Store", ".medimageinsight", "README", "empty/.keep", "notes.txt", "photo.jpg", "series1/._IM0001"].sort());
		assert.equal(items.some((i) => i.absPath.includes("to-excluded")), false, "a link into an excluded folder is not followed");
		assert.deepEqual(skipped(items), [`series1/loop: a symbolic link to ${fs.realpathSync(root)}, a folder that contains it (a loop): not followed`]);
		for (const item of items) {
			if (item.kind !== "candidate") continue;
			assert.equal(item.root, root);
			assert.equal(item.absPath, path.join(root, ...item.relPath.split("/")));
			const st = fs.statSync(item.absPath);
			assert.equal(item.size, st.size);
			assert.equal(item.mtimeMs, st.mtimeMs);
		}
	});

	void it("yields every entry exactly once", async () => {
		const items = await collect([root]);
		const keys = items.map((i) => i.absPath);
		assert.equal(new Set(keys).size, keys.length);
	});

	void it("follows links inside the selection (also to folders), skips those outside or broken with the reason, never loops", async () => {
		const top = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-links-"));
		try {
			const sel = path.join(top, "sel");
			fs.mkdirSync(path.join(sel, "real/deep"), { recursive: true });
			fs.mkdirSync(path.join(top, "outside"));
			fs.writeFileSync(path.join(sel, "real/deep/a.dcm"), part10());
			fs.writeFileSync(path.join(top, "outside/b.dcm"), part10());
			fs.writeFileSync(path.join(top, "outside/notes.txt"), "x");
			fs.symlinkSync(path.join(sel, "real"), path.join(sel, "alias")); // folder inside: followed
			fs.symlinkSync("../..", path.join(sel, "real/deep/up")); // to the selected folder itself: a loop
			fs.symlinkSync(path.join(top, "outside/b.dcm"), path.join(sel, "b.dcm")); // file outside
			fs.symlinkSync(path.join(top, "outside/notes.txt"), path.join(sel, "notes")); // outside, not even DICOM: still accounted for
			fs.symlinkSync(path.join(top, "outside"), path.join(sel, "ext")); // folder outside
			fs.symlinkSync(path.join(top, "missing"), path.join(sel, "broken"));
			fs.symlinkSync("self", path.join(sel, "self")); // a link to itself
			const items = await collect([sel]);
			const realTop = fs.realpathSync(top);
			assert.deepEqual(candidates(items), ["alias/deep/a.dcm", "real/deep/a.dcm"]);
			assert.deepEqual(skipped(items), [
				`alias/deep/up: a symbolic link to ${path.join(realTop, "sel")}, a folder that contains it (a loop): not followed`,
				`b.dcm: a symbolic link to ${path.join(realTop, "outside/b.dcm")}, outside the selected folders: not followed`,
				"broken: a broken symbolic link (its target does not exist)",
				`ext: a symbolic link to ${path.join(realTop, "outside")}, outside the selected folders: not followed`,
				`notes: a symbolic link to ${path.join(realTop, "outside/notes.txt")}, outside the selected folders: not followed`,
				`real/deep/up: a symbolic link to ${path.join(realTop, "sel")}, a folder that contains it (a loop): not followed`,
				"self: a symbolic link that leads back to itself (a loop): not followed",
			]);
			assert.deepEqual(ignored(sel, items), []);
			// Selecting the outside folder too makes its links "inside".
			const both = await collect([sel, path.join(top, "outside")]);
			assert.ok(candidates(both).includes("b.dcm"));
			assert.equal(skipped(both).some((s) => s.startsWith("b.dcm:") || s.startsWith("ext:")), false);
		} finally {
			fs.rmSync(top, { recursive: true, force: true });
		}
	});

	void it("takes files given directly: relPath is the base name, root the file", async () => {
		const file = path.join(root, "series1/sub/deeper/x.DCM");
		const items = await collect([file, path.join(root, "notes.txt")]);
		assert.deepEqual(items[0], { kind: "candidate", absPath: file, relPath: "x.DCM", root: file, size: fs.statSync(file).size, mtimeMs: fs.statSync(file).mtimeMs, ino: fs.statSync(file).ino });
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
		let bundle: string | undefined;
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
			// The child may run as another user who cannot reach this checkout (a clone under a 0700
			// folder): it loads discovery from a one-file bundle in a world-readable folder instead.
			bundle = bundleForOtherUser();
			const script = `
				const { discover } = require(${JSON.stringify(bundle)});
				(async () => {
					const out = [];
					for await (const i of discover([${JSON.stringify(tree)}])) out.push(i.kind === "candidate" ? "candidate " + i.relPath : "ignored " + i.absPath);
					process.stdout.write(JSON.stringify(out));
				})().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
			const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
			assert.equal(r.status, 0, r.stderr);
			const lines = (JSON.parse(r.stdout) as string[]).sort();
			assert.deepEqual(lines, [
				"candidate a/ok.dcm",
				"candidate a/secret.dcm", // by name: it will fail at stage "read" rather than vanish
				`ignored ${path.join(tree, "a/locked")}`,
				`ignored ${path.join(tree, "a/secret")}`,
			]);
		} finally {
			fs.rmSync(tree, { recursive: true, force: true });
			if (bundle) fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
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

	void it("streams: a flat folder's first file comes after a few of its entries were read, not all of them", async () => {
		const flat = fs.mkdtempSync(path.join(os.tmpdir(), "mii-discover-flat-"));
		const total = 1000;
		const realOpendir = fs.promises.opendir;
		let delivered = 0;
		// Count the entries the real directory handle hands out (through read() or iteration).
		const counting = async (...args: Parameters<typeof realOpendir>): Promise<fs.Dir> => {
			const dir = await realOpendir(...args);
			const read = async () => {
				const d = await dir.read();
				if (d) delivered++;
				return d;
			};
			return new Proxy(dir, {
				get(target, prop) {
					if (prop === "read") return read;
					if (prop === Symbol.asyncIterator) {
						return async function* () {
							try {
								for (let d = await read(); d; d = await read()) yield d;
							} finally {
								await target.close().catch(() => undefined);
							}
						};
					}
					const v = Reflect.get(target, prop, target) as unknown;
					return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
				},
			});
		};
		try {
			const body = part10();
			for (let f = 0; f < total; f++) fs.writeFileSync(path.join(flat, `f${f}`), body);
			fs.promises.opendir = counting as typeof realOpendir;
			const gen = discover([flat]);
			const first = await gen.next();
			const atFirst = delivered;
			const rest: DiscoveryItem[] = [];
			for await (const item of gen) rest.push(item);
			assert.equal(first.done, false);
			assert.equal(first.value?.kind, "candidate");
			assert.ok(atFirst < 200, `the first file came after ${atFirst} of ${total} entries were read`);
			assert.equal(delivered, total);
			assert.equal(candidates([first.value as DiscoveryItem, ...rest]).length, total);
		} finally {
			fs.promises.opendir = realOpendir;
			fs.rmSync(flat, { recursive: true, force: true });
		}
	});

	void it("closes the folders it was reading when the consumer stops early", async () => {
		const items = discover([root]);
		const first = await items.next();
		assert.equal(first.done, false);
		await items.return(undefined);
		// A closed generator yields nothing more (and its directory handles are closed in its finally).
		assert.equal((await items.next()).done, true);
	});
});
