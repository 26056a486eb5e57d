/* global process, console, URL */
// Before/after of the converter on ../shared/dicom, in one process so that both see the same load:
// `node bench/abConvert.mjs <checkout A> <checkout B>` where each checkout has been compiled
// (`npm run compile-tests`, giving out/src/...). Per file, A and B alternate (ABBA…) BENCH_REPEAT times
// (default 9); the fastest CPU time of each counts, summed per codec family against the reference's median.
// Make a checkout of the old revision with e.g. `git archive <rev> | tar -x -C /tmp/base` and a
// node_modules link. PER=1 prints every file.
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [a, b] = process.argv.slice(2);
if (!a || !b) {
	console.error("usage: node bench/abConvert.mjs <checkout A> <checkout B>");
	process.exit(2);
}
const roots = { A: path.resolve(a), B: path.resolve(b) };
const convert = Object.fromEntries(Object.entries(roots).map(([k, r]) => [k, require(path.join(r, "out/src/core/dicom/convert.js")).convertDicomBytes]));
const options = require(path.join(roots.B, "out/src/core/dicom/types.js")).defaultConvertOptions;
const dir = process.env.MEDIMAGEINSIGHT_DICOM_DIR ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..", "shared", "dicom");
const manifest = JSON.parse(fs.readFileSync(path.join(dir, "reference", "manifest.json"), "utf8"));
const entries = manifest.files.filter((f) => f.reference.ok && f.reference.seconds_median !== undefined);
const j2k = new Set(["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"]);
const repeat = Math.max(1, Number(process.env.BENCH_REPEAT ?? 9));
const cpuMs = () => {
	const u = process.cpuUsage();
	return (u.user + u.system) / 1000;
};

const files = entries.map((e) => ({ e, bytes: new Uint8Array(fs.readFileSync(path.join(dir, e.path))) }));
for (const k of Object.keys(convert)) for (const f of files) await convert[k](f.bytes, options); // warm up, load codecs
const sums = new Map();
for (const f of files) {
	const best = { A: Infinity, B: Infinity };
	for (let i = 0; i < repeat; i++) {
		for (const k of i % 2 ? ["A", "B"] : ["B", "A"]) {
			const t = cpuMs();
			const out = await convert[k](f.bytes, options);
			best[k] = Math.min(best[k], cpuMs() - t);
			if (out.kind !== "image") throw new Error(`${f.e.path} did not convert with ${k}`);
		}
	}
	const group = j2k.has(f.e.transfer_syntax_uid) ? "JPEG 2000" : "all but JPEG 2000";
	for (const g of [group, "all"]) {
		const s = sums.get(g) ?? { files: 0, A: 0, B: 0, ref: 0 };
		s.files++;
		s.A += best.A;
		s.B += best.B;
		s.ref += f.e.reference.seconds_median * 1000;
		sums.set(g, s);
	}
	if (process.env.PER) console.log(`${f.e.path}\t${best.A.toFixed(2)}\t${best.B.toFixed(2)}`);
}
console.log(`| files | n | A ms | B ms | reference ms | A speed-up | B speed-up | B / A |`);
console.log(`|---|---|---|---|---|---|---|---|`);
for (const [g, s] of sums) {
	console.log(`| ${g} | ${s.files} | ${s.A.toFixed(1)} | ${s.B.toFixed(1)} | ${s.ref.toFixed(1)} | ${(s.ref / s.A).toFixed(2)} | ${(s.ref / s.B).toFixed(2)} | ${(s.B / s.A).toFixed(3)} |`);
}
