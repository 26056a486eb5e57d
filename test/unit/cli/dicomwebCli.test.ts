/**
 * `convert` and `embed` with DICOMweb URLs as inputs, as users run them (`node dist/cli.js`), against a
 * real Orthanc with basic authentication and the simulated endpoint, both on 127.0.0.1. Credentials
 * come from the environment only and appear in no output.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PNG } from "pngjs";
import { writeDicom } from "../../../src/devtools/dicomWriter";
import { startSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { startOrthanc, type OrthancServer } from "../helpers/orthanc";

const repo = path.join(__dirname, "../../../..");
const cli = path.join(repo, "dist/cli.js");
const password = "PW-canary-5d1c0b7e";
const apiKey = "API-canary-0c9d3f1a";
const root = "1.2.826.0.1.3680043.8.498.93";

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [cli, ...args], { cwd: repo, env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
		let stderr = "";
		const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
		child.stdout.on("data", (d: Buffer) => (stderr += d.toString()));
		child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
		child.on("error", reject);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolve({ code, stderr });
		});
	});
}

function filesUnder(dir: string): string[] {
	return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

void describe("CLI with DICOMweb inputs (real Orthanc, basic auth)", () => {
	let orthanc: OrthancServer | undefined;
	let sim: SimulatorHandle;
	let tmp = "";
	const sops = [`${root}.1.1.1`, `${root}.1.1.2`];

	before(async () => {
		const r = spawnSync(process.execPath, ["esbuild.js"], { cwd: repo, encoding: "utf8" });
		assert.equal(r.status, 0, r.stderr);
		tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-dwcli-"));
		sim = await startSimulator({ key: apiKey });
		orthanc = await startOrthanc({ users: { alice: password } });
		if (!orthanc) return;
		for (const [i, sop] of sops.entries()) {
			const pixels = new Uint16Array(40 * 30).map((_, p) => (p * (i + 2)) % 4096);
			await orthanc.upload(writeDicom({ rows: 30, columns: 40, bitsAllocated: 16, bitsStored: 12, pixels, modality: "CT", studyInstanceUid: `${root}.1`, seriesInstanceUid: `${root}.1.1`, sopInstanceUid: sop }));
		}
	});
	after(async () => {
		await orthanc?.stop();
		await sim.close();
		fs.rmSync(tmp, { recursive: true, force: true });
	});

	const creds = { MEDIMAGEINSIGHT_DICOMWEB_USER: "alice", MEDIMAGEINSIGHT_DICOMWEB_PASSWORD: password };

	void it("convert writes DIR/<Study>/<Series>/<SOP>.png for every instance of a query; without credentials it stops with exit 2 and says why", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const out = path.join(tmp, "pngs");
		const ok = await run(["convert", `${orthanc.dicomweb}/studies?ModalitiesInStudy=CT`, "--out", out], creds);
		assert.equal(ok.code, 0, ok.stderr);
		for (const sop of sops) {
			const png = PNG.sync.read(fs.readFileSync(path.join(out, `${root}.1`, `${root}.1.1`, `${sop}.png`)));
			assert.deepEqual([png.width, png.height], [40, 30]);
		}
		const denied = await run(["convert", `${orthanc.dicomweb}/studies`, "--out", path.join(tmp, "denied")], {});
		assert.equal(denied.code, 2);
		assert.match(denied.stderr, /refused the credentials \(HTTP 401\)/);
	});

	void it("embed takes a series URL; records carry UIDs and the source; no credential in any output or message", async (t) => {
		if (!orthanc) return t.skip("Orthanc is not installed");
		const out = path.join(tmp, "embed");
		const series = `${orthanc.dicomweb}/studies/${root}.1/series/${root}.1.1`;
		const r = await run(["embed", series, "--endpoint", sim.url, "--out", out, "--dicomweb-concurrency", "2"], { ...creds, MEDIMAGEINSIGHT_API_KEY: apiKey });
		assert.equal(r.code, 0, r.stderr);
		const records = fs
			.readFileSync(path.join(out, "embeddings.jsonl"), "utf8")
			.split("\n")
			.filter(Boolean)
			.map((l) => JSON.parse(l) as { path: string; sopInstanceUid: string; sourceUrl: string });
		assert.deepEqual(records.map((x) => x.sopInstanceUid).sort(), sops);
		assert.ok(records.every((x) => x.sourceUrl === orthanc!.dicomweb && x.path === `${root}.1/${root}.1.1/${x.sopInstanceUid}`));
		for (const f of filesUnder(out)) {
			const text = fs.readFileSync(f).toString("latin1");
			assert.ok(!text.includes(password) && !text.includes(apiKey), `a credential in ${f}`);
		}
		assert.ok(!r.stderr.includes(password) && !r.stderr.includes(apiKey));
	});

	void it("a URL with a user name or password in it is refused (exit 2)", async () => {
		const r = await run(["embed", `http://alice:${password}@127.0.0.1:1/dicom-web/studies`, "--endpoint", sim.url, "--out", path.join(tmp, "x")], { MEDIMAGEINSIGHT_API_KEY: apiKey });
		assert.equal(r.code, 2);
		assert.match(r.stderr, /Do not put a user name or password in the DICOMweb URL/);
		assert.ok(!r.stderr.includes(password));
	});
});
