// The Sources a run (and `submit`) enumerates its inputs with: the folder walk with the recorded
// paths a local run writes, and the DICOMweb listing against a loopback QIDO-RS server — a listing
// that breaks off yields what it listed, goes on with the next target and ends incomplete; a
// refusal of the whole source stops at once.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { DicomwebClient, DicomwebError } from "../../../src/core/sources/dicomweb/client";
import { parseDicomwebUrl } from "../../../src/core/sources/dicomweb/url";
import { dicomwebSource, IncompleteSourceError } from "../../../src/core/sources/dicomwebSource";
import { folderSource } from "../../../src/core/sources/folderSource";
import { checkInputs, inputSource } from "../../../src/core/sources/inputSource";
import type { SourceItem, WorkItem } from "../../../src/core/pipeline/types";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-sources-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
	const out: T[] = [];
	for await (const x of it) out.push(x);
	return out;
}

function dicomFile(file: string, seed: number): void {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	fs.writeFileSync(file, writeDicom({ rows: 4, columns: 4, bitsAllocated: 8, pixels: Array.from({ length: 16 }, (_, i) => (i * seed) % 256), sopInstanceUid: `1.2.826.0.1.3680043.8.498.7.${seed}` }));
}

void describe("folderSource", () => {
	void it("yields file items with paths relative to the inputs' common folder, ignored files, and unfollowed links as skipped", async () => {
		const root = path.join(tmp, "walk");
		dicomFile(path.join(root, "siteA", "data", "IM1.dcm"), 1);
		dicomFile(path.join(root, "siteB", "data", "IM1.dcm"), 2);
		fs.writeFileSync(path.join(root, "siteA", "data", "notes.txt"), "not DICOM\n");
		const outside = path.join(tmp, "outside.dcm");
		dicomFile(outside, 3);
		fs.symlinkSync(outside, path.join(root, "siteB", "data", "link.dcm"));
		const out = path.join(root, "siteA", "out");
		dicomFile(path.join(out, "old.dcm"), 4); // the output folder is never walked

		const items = await collect(folderSource([path.join(root, "siteA"), path.join(root, "siteB", "data")], { exclude: [out] }));
		const work = items.filter((i): i is WorkItem => i.kind !== "ignored");
		assert.deepEqual(
			work.map((i) => `${i.kind} ${i.path}`).sort(),
			["file siteA/data/IM1.dcm", "file siteB/data/IM1.dcm", "skipped siteB/data/link.dcm"],
		);
		const file = work.find((i) => i.path === "siteB/data/IM1.dcm")!;
		assert.equal(file.kind === "file" && file.absPath, path.join(root, "siteB", "data", "IM1.dcm"));
		const skipped = work.find((i) => i.kind === "skipped")!;
		assert.match(skipped.kind === "skipped" ? skipped.reason : "", /outside the selected folders/);
		assert.deepEqual(
			items.filter((i) => i.kind === "ignored").map((i) => i.absPath),
			[path.join(root, "siteA", "data", "notes.txt")],
		);
	});

	void it("gives one selected file its base name, as a local run records it", async () => {
		const f = path.join(tmp, "single", "deep", "IM9.dcm");
		dicomFile(f, 9);
		const items = await collect(folderSource([f]));
		assert.deepEqual(items, [{ kind: "file", path: "IM9.dcm", absPath: f }]);
	});

	void it("throws a one-line error for an input that does not exist, before yielding", async () => {
		const got: SourceItem[] = [];
		await assert.rejects(async () => {
			for await (const i of folderSource([path.join(tmp, "nope")])) got.push(i);
		}, /Input not found/);
		assert.equal(got.length, 0);
	});
});

const uid = (i: number) => `1.2.826.0.1.3680043.8.498.${i}`;

/** A QIDO-RS server: study `uid(1)` lists 3 instances; study `uid(2)` answers 500; study `uid(3)` 401 (whole source refused). */
async function qido(): Promise<{ url: string; close(): Promise<void> }> {
	const server = http.createServer((req, res) => {
		const u = new URL(req.url!, "http://x");
		const json = (body: unknown) => {
			res.writeHead(200, { "content-type": "application/dicom+json" });
			res.end(JSON.stringify(body));
		};
		if (u.pathname.includes(uid(2))) return void res.writeHead(500).end("broken");
		if (u.pathname.includes(uid(3))) return void res.writeHead(401).end("who are you");
		if (u.pathname.endsWith("/series")) return json(Number(u.searchParams.get("offset") ?? 0) > 0 ? [] : [{ "0020000E": { vr: "UI", Value: [uid(10)] } }]);
		if (u.pathname.endsWith("/instances")) {
			if (Number(u.searchParams.get("offset") ?? 0) > 0) return json([]);
			return json([100, 101, 102].map((i) => ({ "00080018": { vr: "UI", Value: [uid(i)] } })));
		}
		res.writeHead(404).end();
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`,
		close: () =>
			new Promise((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}

void describe("dicomwebSource", () => {
	const client = new DicomwebClient({ attempts: 1, minRetryDelayMs: 1, maxRetryDelayMs: 2, timeoutMs: 10_000 });

	void it("yields one dicomweb item per instance with the readable path <Study>/<Series>/<SOP>", async () => {
		const s = await qido();
		try {
			const items = await collect(dicomwebSource([parseDicomwebUrl(`${s.url}/studies/${uid(1)}`)], client));
			assert.deepEqual(
				items.map((i) => `${i.kind} ${i.path}`),
				[100, 101, 102].map((i) => `dicomweb ${uid(1)}/${uid(10)}/${uid(i)}`),
			);
			const first = items[0]!;
			assert.equal(first.kind === "dicomweb" && first.ref.sopInstanceUid, uid(100));
		} finally {
			await s.close();
		}
	});

	void it("a listing that breaks off: the other targets are still listed, then it ends with IncompleteSourceError naming the target", async () => {
		const s = await qido();
		try {
			const got: WorkItem[] = [];
			const targets = [`${s.url}/studies/${uid(2)}`, `${s.url}/studies/${uid(1)}`].map((u) => parseDicomwebUrl(u));
			let error: unknown;
			try {
				for await (const i of dicomwebSource(targets, client)) got.push(i);
			} catch (e) {
				error = e;
			}
			assert.deepEqual(
				got.map((i) => i.path),
				[100, 101, 102].map((i) => `${uid(1)}/${uid(10)}/${uid(i)}`),
				"the target after the broken one is listed",
			);
			assert.ok(error instanceof IncompleteSourceError, `got ${String(error)}`);
			assert.match(error.message, new RegExp(`Could not list .*${uid(2).replace(/\./g, "\\.")}.*run again to complete`));
			assert.equal(error.problems.length, 1);
		} finally {
			await s.close();
		}
	});

	void it("a refusal of the whole source (401) is thrown at once as the DicomwebError it is, fatal", async () => {
		const s = await qido();
		try {
			const got: WorkItem[] = [];
			const targets = [`${s.url}/studies/${uid(3)}`, `${s.url}/studies/${uid(1)}`].map((u) => parseDicomwebUrl(u));
			await assert.rejects(
				async () => {
					for await (const i of dicomwebSource(targets, client)) got.push(i);
				},
				(e: unknown) => e instanceof DicomwebError && e.fatal,
			);
			assert.equal(got.length, 0, "nothing after a source-wide refusal");
		} finally {
			await s.close();
		}
	});
});

void describe("inputSource (a run's inputs, as a local run and submit enumerate them)", () => {
	const noDicomweb = () => {
		throw new Error("no DICOMweb input here");
	};

	void it("walks folders and files with the recorded paths, never the output folder", async () => {
		const root = path.join(tmp, "inputs");
		dicomFile(path.join(root, "one", "a.dcm"), 11);
		dicomFile(path.join(root, "two", "b.dcm"), 12);
		const out = path.join(root, "one", "results");
		dicomFile(path.join(out, "c.dcm"), 13);
		const items = await collect(inputSource([path.join(root, "one"), path.join(root, "two")], { outDir: out, dicomweb: noDicomweb }));
		assert.deepEqual(items.map((i) => (i.kind === "ignored" ? "ignored" : `${i.kind} ${i.path}`)).sort(), ["file one/a.dcm", "file two/b.dcm"]);
	});

	void it("with `only`, yields just those recorded paths, each once, and stops reading once all were seen", async () => {
		const root = path.join(tmp, "retry");
		for (let i = 0; i < 6; i++) dicomFile(path.join(root, `f${i}.dcm`), 20 + i);
		const items = await collect(inputSource([root, path.join(root, "f2.dcm")], { outDir: path.join(tmp, "retry-out"), dicomweb: noDicomweb, only: new Set(["f2.dcm", "f4.dcm", "missing.dcm"]) }));
		assert.deepEqual(items.map((i) => (i.kind === "ignored" ? "ignored" : i.path)).sort(), ["f2.dcm", "f4.dcm"]);
		// Every path seen: the DICOMweb listing is not even started.
		const early = await collect(inputSource([root, "http://127.0.0.1:1/dicom-web/studies"], { outDir: path.join(tmp, "retry-out"), dicomweb: noDicomweb, only: new Set(["f1.dcm"]) }));
		assert.deepEqual(
			early.map((i) => (i.kind === "ignored" ? "ignored" : i.path)),
			["f1.dcm"],
		);
		assert.deepEqual(await collect(inputSource([root], { outDir: path.join(tmp, "retry-out"), dicomweb: noDicomweb, only: new Set() })), [], "nothing to retry: nothing walked");
	});

	void it("checkInputs refuses no input, a missing path, a malformed DICOMweb URL and the output folder among the inputs", async () => {
		await assert.rejects(checkInputs([], "/tmp/x"), /Nothing to embed/);
		await assert.rejects(checkInputs([path.join(tmp, "absent")], path.join(tmp, "o")), /Input not found/);
		await assert.rejects(checkInputs(["https://example.invalid/dicom-web/nonsense"], path.join(tmp, "o")), /Not a DICOMweb/);
		await assert.rejects(checkInputs([tmp], tmp), /output folder cannot be one of the inputs/);
		await checkInputs([tmp], path.join(tmp, "o"));
	});
});
