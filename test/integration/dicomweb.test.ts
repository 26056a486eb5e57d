/**
 * The DICOMweb Servers view in the real extension host, against a real Orthanc with its DICOMweb
 * plugin started by this test on loopback (basic authentication on): add a server, refuse unsafe
 * URLs, search studies, expand a study to its series, a wrong password in plain words, Generate
 * Embeddings on a series (a normal run to the built-in simulation), a re-run that retrieves nothing,
 * and the password nowhere but in SecretStorage (not in settings, globalState, logs or run.json).
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../src/core/pipeline/types";
import { writeDicom } from "../../src/devtools/dicomWriter";
import type { DicomwebServer } from "../../src/extension/dicomwebServers";
import type { DicomwebItemView, SearchNode } from "../../src/extension/views/dicomwebView";
import { startOrthanc, type OrthancServer } from "../unit/helpers/orthanc";
import { api, extensionId, readJsonl, setSetting, workspaceRoot } from "./helpers";

const root = "1.2.826.0.1.3680043.8.498.91";
const user = "radiology";
/** A canary password: it must never show up outside SecretStorage. */
const password = "Pw-canary-7f3a9c2e-DICOMweb";

interface Uploaded {
	study: string;
	series: string;
	sop: string;
}

/** A CT study (series 1: 3 slices, series 2: 2 slices), an MR study (one series of 2) and an OT study (3, the last one broken), as real DICOM files. */
function corpus(): { bytes: Uint8Array; ref: Uploaded }[] {
	const layout = [
		{ study: `${root}.1`, modality: "CT", date: "20240115", accession: "ACC-CT-1", series: [3, 2] },
		{ study: `${root}.2`, modality: "MR", date: "20240320", accession: "ACC-MR-2", series: [2] },
		{ study: `${root}.3`, modality: "OT", date: "20230101", accession: "ACC-OT-3", series: [3] },
	];
	const out: { bytes: Uint8Array; ref: Uploaded }[] = [];
	let n = 0;
	for (const st of layout) {
		for (const [si, count] of st.series.entries()) {
			const series = `${st.study}.${si + 1}`;
			for (let i = 0; i < count; i++) {
				n++;
				const sop = `${series}.${i + 1}`;
				const bytes = writeDicom({
					rows: 32,
					columns: 32,
					bitsAllocated: 16,
					pixelRepresentation: 1,
					pixels: new Int16Array(32 * 32).map((_, p) => ((p * (n + 5)) % 1800) - 900),
					transferSyntax: "explicitLE",
					modality: st.modality,
					studyInstanceUid: st.study,
					seriesInstanceUid: series,
					sopInstanceUid: sop,
					studyDescription: `${st.modality} study`,
					seriesDescription: `${st.modality} series ${si + 1}`,
					seriesNumber: si + 1,
					instanceNumber: i + 1,
					patientId: `PID-${st.modality}`,
					patientName: "Doe^Jane",
					overrides: [
						[0x00080020, "DA", st.date],
						[0x00080050, "SH", st.accession],
						// The last OT image declares far more pixels than its pixel data holds: it cannot be converted.
						...(st.modality === "OT" && i === count - 1
							? ([
									[0x00280010, "US", 4096],
									[0x00280011, "US", 4096],
								] as [number, string, number][])
							: []),
					],
				});
				out.push({ bytes, ref: { study: st.study, series, sop } });
			}
		}
	}
	return out;
}

function find(items: DicomwebItemView[], pred: (i: DicomwebItemView) => boolean): DicomwebItemView | undefined {
	for (const i of items) {
		if (pred(i)) return i;
		const c = find(i.children, pred);
		if (c) return c;
	}
	return undefined;
}

describe("DICOMweb Servers view", function () {
	let orthanc: OrthancServer | undefined;
	let uploaded: Uploaded[] = [];
	let server: DicomwebServer | undefined;

	before(async function () {
		this.timeout(300_000);
		await api();
		orthanc = await startOrthanc({ users: { [user]: password } });
		if (!orthanc) return;
		for (const f of corpus()) {
			await orthanc.upload(f.bytes);
			uploaded.push(f.ref);
		}
		await setSetting("rateLimit.calls", 1000);
		await setSetting("rateLimit.periodSeconds", 1);
		await vscode.commands.executeCommand("medImageInsight.startSimulatedEndpoint");
		await vscode.commands.executeCommand("workbench.view.extension.medImageInsight");
	});

	after(async function () {
		this.timeout(60_000);
		for (const s of (await api()).dicomwebServers()) await vscode.commands.executeCommand("medImageInsight.dicomweb.removeServer", { serverId: s.id, confirm: false });
		await vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint");
		for (const k of ["endpoint.url", "endpoint.authMode", "rateLimit.calls", "rateLimit.periodSeconds"]) await setSetting(k, undefined);
		await orthanc?.stop();
		uploaded = [];
	});

	it("contributes the DICOMweb Servers view in the MedImageInsight container with item menus keyed on viewItem", function () {
		const pkg = vscode.extensions.getExtension(extensionId)!.packageJSON as {
			contributes: { views: Record<string, { id: string }[]>; menus: Record<string, { command: string; when?: string }[]> };
		};
		assert.ok(pkg.contributes.views["medImageInsight"]?.some((v) => v.id === "medImageInsight.dicomwebServers"));
		const item = pkg.contributes.menus["view/item/context"]!;
		const gen = item.filter((m) => m.command === "medImageInsight.dicomweb.generateEmbeddings");
		assert.ok(gen.length > 0 && gen.every((m) => /view == medImageInsight\.dicomwebServers/.test(m.when ?? "") && /viewItem/.test(m.when ?? "")));
		const re = /viewItem =~ \/(.*)\/ /.exec(gen[0]!.when!)![1]!;
		for (const v of ["dicomwebSearch", "dicomwebStudy", "dicomwebSeries"]) assert.match(v, new RegExp(re), v);
		assert.doesNotMatch("dicomwebServer", new RegExp(re));
		assert.ok(item.some((m) => m.command === "medImageInsight.dicomweb.removeServer" && /viewItem == dicomwebServer\b/.test(m.when ?? "")));
	});

	it("refuses a server URL with credentials in it, and plain http to another machine", async function () {
		const before = (await api()).dicomwebServers().length;
		const a = await vscode.commands.executeCommand("medImageInsight.dicomweb.addServer", { name: "bad", url: "http://u:p@127.0.0.1:1/dicom-web", auth: "none" });
		const b = await vscode.commands.executeCommand("medImageInsight.dicomweb.addServer", { name: "bad", url: "http://pacs.example.org/dicom-web", auth: "none" });
		assert.equal(a, undefined);
		assert.equal(b, undefined);
		assert.equal((await api()).dicomwebServers().length, before);
		const log = (await api()).logLines().join("\n");
		assert.match(log, /user name or password in the DICOMweb URL/);
		assert.match(log, /Plain http:\/\/ is only allowed for this machine/);
	});

	it("adds a server with basic authentication; the password is in none of settings, globalState or the log", async function () {
		if (!orthanc) return this.skip();
		server = await vscode.commands.executeCommand<DicomwebServer>("medImageInsight.dicomweb.addServer", { name: "Orthanc test", url: `${orthanc.dicomweb}/`, auth: "basic", user, secret: password });
		assert.ok(server);
		assert.equal(server.base, orthanc.dicomweb);
		const listed = (await api()).dicomwebServers();
		assert.deepEqual(
			listed.map((s) => [s.name, s.base, s.auth, s.user]),
			[["Orthanc test", orthanc.dicomweb, "basic", user]],
		);
		const dump = (await api()).globalStateDump();
		assert.ok(dump.includes(orthanc.dicomweb), "the server list is in globalState");
		assert.ok(!dump.includes(password), "no password in globalState");
		const settings = process.env["MII_USER_SETTINGS"];
		if (settings && fs.existsSync(settings)) assert.ok(!fs.readFileSync(settings, "utf8").includes(password));
		const rows = await (await api()).dicomwebItems();
		assert.equal(rows[0]?.label, "Orthanc test");
		assert.equal(rows[0]?.contextValue, "dicomwebServer");
	});

	it("searches studies by modality and date range, lists date, description, modalities and counts, and expands a study to its series", async function () {
		if (!orthanc || !server) return this.skip();
		const ct = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: server.id, criteria: { modality: "CT", studyDate: "20240101-20240131" } });
		assert.ok(ct && !ct.error, ct?.error);
		assert.deepEqual(
			ct.studies.map((s) => s.studyUid),
			[`${root}.1`],
		);
		const none = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: server.id, criteria: { modality: "CT", studyDate: "20240301-20240331" } });
		assert.equal(none.studies.length, 0);
		const byPatient = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: server.id, criteria: { patientId: "PID-MR", accessionNumber: "ACC-MR-2" } });
		assert.deepEqual(
			byPatient.studies.map((s) => s.studyUid),
			[`${root}.2`],
		);
		const rows = await (await api()).dicomwebItems();
		const searchRow = find(rows, (r) => r.kind === "search" && r.node === ct)!;
		assert.ok(searchRow, "the CT search is under the server");
		assert.equal(searchRow.label, "20240101-20240131 · CT");
		assert.equal(searchRow.description, "1 study");
		const study = searchRow.children[0]!;
		assert.equal(study.label, "CT study");
		assert.equal(study.contextValue, "dicomwebStudy");
		assert.equal(study.description, "2024-01-15 · CT · 5 instances");
		assert.deepEqual(
			study.children.map((c) => [c.label, c.description, c.contextValue]),
			[
				["CT · CT series 1", "#1 · 3 instances", "dicomwebSeries"],
				["CT · CT series 2", "#2 · 2 instances", "dicomwebSeries"],
			],
		);
		const empty = find(rows, (r) => r.kind === "search" && r.node === none)!;
		assert.deepEqual(
			empty.children.map((c) => c.label),
			["No study matches."],
		);
	});

	it("a wrong password is a plain 'check the credentials' error in the view and the log", async function () {
		if (!orthanc) return this.skip();
		const wrong = await vscode.commands.executeCommand<DicomwebServer>("medImageInsight.dicomweb.addServer", { name: "Orthanc wrong", url: orthanc.dicomweb, auth: "basic", user, secret: "not-the-password" });
		const node = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: wrong.id, criteria: {} });
		assert.match(node.error ?? "", /refused the request \(HTTP 401\): check the credentials/);
		const rows = await (await api()).dicomwebItems();
		const row = find(rows, (r) => r.node === node)!;
		assert.equal(row.description, "failed");
		assert.match(row.children[0]!.label, /check the credentials/);
		assert.match((await api()).logLines().join("\n"), /search on .* failed: .*HTTP 401/);
		assert.equal(await vscode.commands.executeCommand("medImageInsight.dicomweb.removeServer", { serverId: wrong.id, confirm: false }), true);
	});

	it("an unreachable server and a redirect are plain errors in the view and the log", async function () {
		// A loopback server the test starts: every request is redirected elsewhere. And a port nothing listens on.
		const redirecting = http.createServer((_req, res) => {
			res.writeHead(302, { location: "https://elsewhere.example.org/dicom-web/studies" });
			res.end();
		});
		await new Promise<void>((r) => redirecting.listen(0, "127.0.0.1", r));
		const port = (redirecting.address() as AddressInfo).port;
		const closed = http.createServer();
		await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
		const closedPort = (closed.address() as AddressInfo).port;
		await new Promise((r) => closed.close(r));
		try {
			const moved = await vscode.commands.executeCommand<DicomwebServer>("medImageInsight.dicomweb.addServer", { name: "Moved", url: `http://127.0.0.1:${port}/dicom-web`, auth: "none" });
			const gone = await vscode.commands.executeCommand<DicomwebServer>("medImageInsight.dicomweb.addServer", { name: "Gone", url: `http://127.0.0.1:${closedPort}/dicom-web`, auth: "none" });
			const a = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: moved.id, criteria: {} });
			assert.match(a.error ?? "", /redirected .* to https:\/\/elsewhere\.example\.org\/dicom-web\/studies.*Redirects are not followed/);
			const b = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: gone.id, criteria: {} });
			assert.match(b.error ?? "", new RegExp(`^"Gone": Cannot reach the DICOMweb server at 127\\.0\\.0\\.1:${closedPort}.*Check the server's URL`));
			const log = (await api()).logLines().join("\n");
			assert.match(log, /search on http:\/\/127\.0\.0\.1:\d+\/dicom-web failed: .*redirected/);
			assert.match(log, new RegExp(`search on http://127\\.0\\.0\\.1:${closedPort}/dicom-web failed`));
			for (const sv of [moved, gone]) await vscode.commands.executeCommand("medImageInsight.dicomweb.removeServer", { serverId: sv.id, confirm: false });
		} finally {
			await new Promise((r) => redirecting.close(r));
		}
	});

	it("Generate Embeddings on a series embeds its instances with UID paths and sourceUrl; a re-run retrieves nothing; the password is in no output", async function () {
		this.timeout(300_000);
		if (!orthanc || !server) return this.skip();
		const rows = await (await api()).dicomwebItems();
		const series = find(rows, (r) => r.kind === "series" && r.label === "CT · CT series 1")!;
		assert.ok(series);
		const summary = await vscode.commands.executeCommand<RunSummary>("medImageInsight.dicomweb.generateEmbeddings", series.node);
		assert.ok(summary, "a run happened");
		assert.equal(summary.fatal, undefined, summary.fatal?.message);
		assert.equal(summary.embedded, 3);
		assert.equal(summary.failed, 0);
		const outDir = summary.outDir;
		assert.equal(path.dirname(outDir), path.join(workspaceRoot(), ".medimageinsight"));
		assert.match(path.basename(outDir), /^Orthanc_test-series-CT_CT_series_1-[0-9a-f]{8}$/);
		const want = uploaded.filter((u) => u.series === `${root}.1.1`);
		const records = readJsonl<{ path: string; sourceUrl?: string; embedding?: number[] }>(path.join(outDir, "embeddings.jsonl"));
		assert.deepEqual(records.map((r) => r.path).sort(), want.map((u) => `${u.study}/${u.series}/${u.sop}`).sort());
		for (const r of records) assert.equal(r.sourceUrl, orthanc.dicomweb);
		const runJson = fs.readFileSync(path.join(outDir, "run.json"), "utf8");
		assert.ok(runJson.includes(`${orthanc.dicomweb}/studies/${root}.1/series/${root}.1.1`), "run.json records the series URL as the input");
		const basic = Buffer.from(`${user}:${password}`).toString("base64");
		for (const f of fs.readdirSync(outDir).filter((n) => /\.(json|jsonl|csv|txt)$/.test(n))) {
			const text = fs.readFileSync(path.join(outDir, f), "utf8");
			assert.ok(!text.includes(password) && !text.includes(basic), `no password in ${f}`);
		}
		// The same series again: every instance is already done, nothing is retrieved or sent again.
		const again = await vscode.commands.executeCommand<RunSummary>("medImageInsight.dicomweb.generateEmbeddings", series.node);
		assert.equal(again.outDir, outDir);
		assert.equal(again.alreadyDone, 3);
		assert.equal(again.embedded, 0);
		assert.equal(readJsonl(path.join(outDir, "embeddings.jsonl")).length, 3);
		const log = (await api()).logLines().join("\n");
		assert.match(log, /Generate Embeddings on .*series/);
		assert.ok(!log.includes(password) && !log.includes(basic), "no password in the log");
		assert.ok(!(await api()).globalStateDump().includes(password), "no password in globalState after runs");
	});

	it("Retry Failed of a DICOMweb run lists the series again with the server's credentials and retries only the failed instance", async function () {
		this.timeout(300_000);
		if (!orthanc || !server) return this.skip();
		const ot = await vscode.commands.executeCommand<SearchNode>("medImageInsight.dicomweb.searchStudies", { serverId: server.id, criteria: { modality: "OT" } });
		assert.deepEqual(
			ot.studies.map((s) => s.studyUid),
			[`${root}.3`],
		);
		const rows = await (await api()).dicomwebItems();
		const series = find(rows, (r) => r.kind === "series" && r.label === "OT · OT series 1")!;
		assert.ok(series);
		const first = await vscode.commands.executeCommand<RunSummary>("medImageInsight.dicomweb.generateEmbeddings", series.node);
		assert.equal(first.fatal, undefined, first.fatal?.message);
		assert.equal(first.embedded, 2);
		assert.equal(first.failed, 1);
		const failures = readJsonl<{ path: string }>(path.join(first.outDir, "failures.jsonl"));
		assert.deepEqual([...new Set(failures.map((f) => f.path))], [`${root}.3/${root}.3.1/${root}.3.1.3`]);
		// The generic Retry Failed (as from the notification or the Runs view): the URL input is kept and the
		// server's credentials are found by its base URL (without them Orthanc answers 401 and the run stops).
		const retried = await vscode.commands.executeCommand<RunSummary>("medImageInsight.retryFailed", first.outDir);
		assert.ok(retried, "Retry Failed ran on the DICOMweb input");
		assert.equal(retried.fatal, undefined, retried.fatal?.message);
		assert.equal(retried.outDir, first.outDir);
		assert.equal(retried.found, 1, "only the failed instance is taken again");
		assert.equal(retried.failed, 1, "it is still broken");
		assert.equal(retried.embedded, 0);
	});
});
