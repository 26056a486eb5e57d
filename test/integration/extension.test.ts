/**
 * The extension in a real VS Code extension host (code-server here, @vscode/test-electron
 * elsewhere): the real commands against a simulated endpoint on 127.0.0.1 started by the test,
 * on DICOM files the test script copied into the workspace from ../shared/dicom.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { startSimulator, type SimulatorHandle } from "../../src/core/simulator/server";
import type { RunSummary } from "../../src/core/pipeline/types";
import { selectionName } from "../../src/extension/ui/outputLocation";
import { api, filesUnder, fixture, readJsonl, setSetting, waitFor, workspaceRoot, type FixtureManifest } from "./helpers";

/** A key that must never show up anywhere but in SecretStorage and the Authorization header. */
const canary = `CANARY-${Date.now().toString(36)}-e1b3f9c2d7a4`;

const commandIds = [
	"medImageInsight.generateEmbeddings",
	"medImageInsight.configureEndpoint",
	"medImageInsight.setApiKey",
	"medImageInsight.clearApiKey",
	"medImageInsight.selectAzureEndpoint",
	"medImageInsight.testConnection",
	"medImageInsight.showResults",
	"medImageInsight.retryFailed",
	"medImageInsight.cancelRun",
	"medImageInsight.startSimulatedEndpoint",
];

interface ConnectionTest {
	ok: boolean;
	latencyMs: number;
	dimensions?: number;
	error?: string;
}

describe("MedImageInsight extension", function () {
	let sim: SimulatorHandle | undefined;
	let fx: FixtureManifest | undefined;
	let scans = "";

	before(async function () {
		fx = fixture();
		if (fx) scans = path.join(workspaceRoot(), fx.folder);
		sim = await startSimulator({ port: 0, key: canary });
		await setSetting("endpoint.url", sim.url);
		await setSetting("endpoint.authMode", "key");
		// Fast for the tests: the default 60 calls/min would make every test wait a second per request.
		await setSetting("rateLimit.calls", 1000);
		await setSetting("rateLimit.periodSeconds", 1);
		await setSetting("retries", 2);
		await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
	});

	after(async function () {
		await sim?.close();
		for (const k of ["endpoint.url", "endpoint.authMode", "rateLimit.calls", "rateLimit.periodSeconds", "retries", "batchSize", "maxConcurrentRequests", "outputFolder"]) {
			await setSetting(k, undefined);
		}
	});

	function requireFixture(ctx: Mocha.Context): FixtureManifest {
		if (!fx) ctx.skip();
		return fx as FixtureManifest;
	}

	async function generate(...args: unknown[]): Promise<RunSummary | undefined> {
		return vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.generateEmbeddings", ...args);
	}

	it("activates on a command and registers every contributed command", async function () {
		const a = await api();
		assert.equal(typeof a.isRunning, "function");
		const all = await vscode.commands.getCommands(true);
		for (const id of commandIds) assert.ok(all.includes(id), `${id} is registered`);
		const pkg = vscode.extensions.getExtension("medimageinsight.medimageinsight-vscode")?.packageJSON as { contributes: { commands: { command: string }[] } };
		const contributed = pkg.contributes.commands.map((c) => c.command);
		for (const id of commandIds) assert.ok(contributed.includes(id), `${id} is contributed`);
	});

	it("the API key round-trips through SecretStorage: right key connects, no key and a wrong key are refused", async function () {
		await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
		const ok = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
		assert.equal(ok.ok, true, ok.error);
		assert.equal(ok.dimensions, 1024);

		await vscode.commands.executeCommand("medImageInsight.clearApiKey");
		const none = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
		assert.equal(none.ok, false);
		assert.match(none.error ?? "", /key/i);

		const before401 = sim?.stats.rejected401 ?? 0;
		await vscode.commands.executeCommand("medImageInsight.setApiKey", "wrong-key-123");
		const wrong = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
		assert.equal(wrong.ok, false);
		assert.ok((sim?.stats.rejected401 ?? 0) > before401, "the simulator saw the wrong key and answered 401");

		await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
	});

	it("Generate Embeddings on a folder embeds every image once and writes the outputs", async function () {
		const f = requireFixture(this);
		await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
		const a = await api();
		const uri = vscode.Uri.file(scans);
		const summary = await generate(uri, [uri]);
		assert.ok(summary, "the command resolved with a summary");
		assert.equal(summary.cancelled, false);
		assert.equal(summary.fatal, undefined);
		assert.equal(summary.embedded, f.images.length);
		assert.equal(summary.skipped, f.skipped.length);
		assert.equal(summary.failed, f.corrupt.length);
		assert.ok(summary.ignored >= f.ignored.length);
		assert.equal(summary.outDir, path.join(workspaceRoot(), ".medimageinsight", selectionName([{ path: scans, isDirectory: true }])));
		assert.match(path.basename(summary.outDir), new RegExp(`^${path.basename(scans)}-[0-9a-f]{8}$`));

		const records = readJsonl<{ path: string; embedding: number[]; sopInstanceUid: string; sha256: string }>(path.join(summary.outDir, "embeddings.jsonl"));
		assert.deepEqual(records.map((r) => r.path).sort(), [...f.images].sort());
		for (const r of records) {
			assert.equal(r.embedding.length, 1024);
			assert.match(r.sha256, /^[0-9a-f]{64}$/);
			assert.ok(r.sopInstanceUid.length > 0);
		}
		const failures = readJsonl<{ path: string; stage: string; error: string }>(path.join(summary.outDir, "failures.jsonl"));
		for (const p of [...f.skipped, ...f.corrupt]) assert.ok(failures.some((x) => x.path === p && x.error.length > 0), `${p} is in failures.jsonl with a reason`);
		assert.ok(fs.existsSync(path.join(summary.outDir, "run.json")));
		assert.ok(fs.existsSync(path.join(summary.outDir, "embeddings.npy")));
		assert.ok(!a.isRunning());
		assert.match(a.statusBarText(), new RegExp(`${f.images.length} embedded`));
		// The final message and the status bar's tooltip tell the same story; Retry says what it retries.
		const notice = a.lastNotice();
		assert.ok(notice);
		assert.ok(a.statusBarTooltip().startsWith(notice.text.split(" (simulated")[0] ?? ""), `${notice.text} | ${a.statusBarTooltip()}`);
		assert.match(notice.text, new RegExp(`^${f.images.length + f.corrupt.length} images: ${f.images.length} embedded now, ${f.corrupt.length} failed`));
		if (f.corrupt.length > 0) {
			assert.equal(notice.severity, "warning");
			assert.ok(notice.actions.includes(`Retry ${f.corrupt.length} failed`), notice.actions.join(" · "));
		}
	});

	it("files that were only skipped offer no Retry; a single file says where its results went", async function () {
		const f = requireFixture(this);
		const image = f.images.find((p) => !p.includes("/"));
		const skippedRel = f.skipped[0];
		if (!image || !skippedRel) this.skip();
		const a = await api();
		const img = vscode.Uri.file(path.join(scans, image as string));
		const skipped = vscode.Uri.file(path.join(scans, skippedRel as string));
		const both = await generate(img, [img, skipped]);
		assert.ok(both);
		assert.equal(both.failed, 0);
		assert.equal(both.skipped, 1);
		const n1 = a.lastNotice();
		assert.ok(n1);
		assert.equal(n1.severity, "info");
		assert.ok(!n1.actions.some((x) => /retry/i.test(x)), n1.actions.join(" · "));
		assert.match(n1.text, /1 file without an image skipped/);

		const single = await generate(img, [img]);
		assert.ok(single);
		const n2 = a.lastNotice();
		assert.ok(n2);
		assert.ok(n2.text.includes(`Results of ${path.basename(image as string)}: ${single.outDir}`), n2.text);
	});

	it("a multi-selection (a folder and a file) is processed whole, into its own output folder", async function () {
		const f = requireFixture(this);
		const folder = vscode.Uri.file(path.join(scans, "no-suffix"));
		const fileRel = f.images.find((p) => !p.includes("/"));
		assert.ok(fileRel, "the fixture has an image at the top level");
		const file = vscode.Uri.file(path.join(scans, fileRel));
		const inFolder = f.images.filter((p) => p.startsWith("no-suffix/")).length;
		const summary = await generate(folder, [folder, file]);
		assert.ok(summary);
		assert.equal(summary.embedded + summary.alreadyDone, inFolder + 1);
		assert.equal(summary.failed, 0);
		assert.match(path.basename(summary.outDir), /^no-suffix\+1-[0-9a-f]{8}$/);
		assert.equal(path.dirname(summary.outDir), path.join(workspaceRoot(), ".medimageinsight"));
		assert.equal(readJsonl(path.join(summary.outDir, "embeddings.jsonl")).length, inFolder + 1);
	});

	it("a second run of the same selection sends nothing", async function () {
		const f = requireFixture(this);
		const requests = sim?.stats.requests ?? 0;
		const uri = vscode.Uri.file(scans);
		const summary = await generate(uri);
		assert.ok(summary);
		assert.equal(summary.embedded, 0);
		assert.equal(summary.alreadyDone, f.images.length);
		assert.equal(sim?.stats.requests, requests, "no request reached the endpoint");
		// One story: the status bar (text and tooltip) and run.json say the same as the summary.
		const a = await api();
		const tooltip = a.statusBarTooltip();
		if (f.corrupt.length === 0) assert.match(tooltip, new RegExp(`Nothing to do: all ${f.images.length} images were already embedded`));
		else assert.match(tooltip, new RegExp(`^${f.images.length + f.corrupt.length} images: ${f.images.length} already embedded, ${f.corrupt.length} failed`));
		assert.match(a.statusBarText(), new RegExp(`\\b${f.images.length} embedded`));
		const info = JSON.parse(fs.readFileSync(path.join(summary.outDir, "run.json"), "utf8")) as { counts: Record<string, number> };
		assert.deepEqual(
			{ embedded: info.counts["embedded"], alreadyDone: info.counts["alreadyDone"], failed: info.counts["failed"], skipped: info.counts["skipped"] },
			{ embedded: 0, alreadyDone: f.images.length, failed: f.corrupt.length, skipped: f.skipped.length },
		);
	});

	it("Retry Failed runs only the failed files again", async function () {
		const f = requireFixture(this);
		if (f.corrupt.length === 0) this.skip();
		const requests = sim?.stats.requests ?? 0;
		const summary = await vscode.commands.executeCommand<RunSummary | undefined>("medImageInsight.retryFailed");
		assert.ok(summary);
		assert.equal(summary.embedded, 0);
		assert.equal(summary.failed, f.corrupt.length);
		assert.equal(sim?.stats.requests, requests, "a corrupt file never reaches the endpoint");
	});

	it("the key is never in settings, outputs or the log", async function () {
		requireFixture(this);
		const a = await api();
		const haystacks: string[] = [];
		for (const file of [...filesUnder(path.join(workspaceRoot(), ".vscode")), ...filesUnder(path.join(workspaceRoot(), ".medimageinsight"))]) {
			if (fs.statSync(file).size < 50_000_000) haystacks.push(file);
		}
		const userSettings = process.env["MII_USER_SETTINGS"];
		if (userSettings && fs.existsSync(userSettings)) haystacks.push(userSettings);
		assert.ok(haystacks.some((h) => h.endsWith("settings.json")), "workspace settings were checked");
		assert.ok(haystacks.some((h) => h.endsWith("run.json")), "run.json was checked");
		for (const file of haystacks) assert.ok(!fs.readFileSync(file).includes(canary), `${file} does not contain the key`);
		const log = a.logLines().join("\n");
		assert.ok(log.length > 0, "the log has lines");
		assert.ok(!log.includes(canary), "the log does not contain the key");
		for (const arg of process.argv) assert.ok(!arg.includes(canary));
	});

	it("a rejected key stops the run at once with an 'unauthorized' summary", async function () {
		requireFixture(this);
		await setSetting("outputFolder", fs.mkdtempSync(path.join(os.tmpdir(), "mii-401-")));
		await vscode.commands.executeCommand("medImageInsight.setApiKey", "not-the-key");
		try {
			const summary = await generate(vscode.Uri.file(scans));
			assert.ok(summary);
			assert.equal(summary.fatal?.code, "unauthorized");
			assert.equal(summary.embedded, 0);
			assert.match((await api()).statusBarText(), /stopped/);
		} finally {
			await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
			await setSetting("outputFolder", undefined);
		}
	});

	it("cancel stops the run and keeps what was done; a second run is refused meanwhile; the next run sends only the rest", async function () {
		const f = requireFixture(this);
		const slow = await startSimulator({ port: 0, key: canary, latencyMs: 400 });
		const out = fs.mkdtempSync(path.join(os.tmpdir(), "mii-cancel-"));
		try {
			await setSetting("endpoint.url", slow.url);
			await vscode.commands.executeCommand("medImageInsight.setApiKey", canary); // its own origin, its own key
			await setSetting("batchSize", 1);
			await setSetting("maxConcurrentRequests", 1);
			await setSetting("outputFolder", out);
			const a = await api();
			const uri = vscode.Uri.file(scans);
			const first = generate(uri);
			await waitFor("two images embedded", () => (a.lastProgress()?.embedded ?? 0) >= 2, 60_000);
			assert.ok(a.isRunning());
			assert.match(a.statusBarText(), /sync~spin/);

			const refused = await generate(uri);
			assert.equal(refused, undefined, "a second run while one runs is refused");

			assert.equal(await vscode.commands.executeCommand("medImageInsight.cancelRun"), true);
			const s1 = await first;
			assert.ok(s1);
			assert.equal(s1.cancelled, true);
			assert.ok(s1.embedded >= 2 && s1.embedded < f.images.length, `embedded ${s1.embedded} of ${f.images.length}`);
			assert.equal(readJsonl(path.join(s1.outDir, "embeddings.jsonl")).length, s1.embedded, "every embedding that came back was kept");
			assert.ok(!a.isRunning());

			const requestsBefore = slow.stats.requests;
			const s2 = await generate(uri);
			assert.ok(s2);
			assert.equal(s2.cancelled, false);
			assert.equal(s2.alreadyDone, s1.embedded);
			assert.equal(s2.embedded, f.images.length - s1.embedded);
			// One image per request: the second run sent exactly the images the first did not keep.
			assert.equal(slow.stats.requests - requestsBefore, f.images.length - s1.embedded);
			// Over both runs the model answered each image once, plus at most the one request in flight
			// when the run was cancelled (its answer arrived after the abort and was dropped).
			assert.ok(slow.stats.rows <= f.images.length + 1, `the model answered ${slow.stats.rows} rows for ${f.images.length} images`);
			assert.equal(readJsonl(path.join(s2.outDir, "embeddings.jsonl")).length, f.images.length);
		} finally {
			await setSetting("endpoint.url", sim?.url);
			for (const k of ["batchSize", "maxConcurrentRequests", "outputFolder"]) await setSetting(k, undefined);
			await slow.close();
		}
	});

	it("an endpoint refusing as a whole (503 + Retry-After) pauses the run, shows it, and loses nothing", async function () {
		const f = requireFixture(this);
		// The endpoint answers 503 + Retry-After: 1 to everything for its first 7 s (as one scaling out does for minutes).
		let refuseUntil = 0;
		const busy = await startSimulator({ port: 0, key: canary, retryAfterSeconds: 1, fault: () => (Date.now() < refuseUntil ? "503" : undefined) });
		const out = fs.mkdtempSync(path.join(os.tmpdir(), "mii-busy-"));
		const seen = new Set<string>();
		let states = new Set<string>();
		try {
			await setSetting("endpoint.url", busy.url);
			await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
			await setSetting("retries", 8);
			// Pause once the whole endpoint has refused for 2 × 2 s (default: 2 × 60 s).
			await setSetting("retryMaxDelaySeconds", 2);
			await setSetting("outputFolder", out);
			const a = await api();
			refuseUntil = Date.now() + 7000;
			const run = generate(vscode.Uri.file(scans));
			let finished = false;
			void run.finally(() => (finished = true));
			while (!finished) {
				seen.add(a.statusBarText());
				const st = a.lastProgress()?.client.state;
				if (st) states = new Set([...states, st]);
				await new Promise((r) => setTimeout(r, 50));
			}
			const summary = await run;
			assert.ok(summary);
			assert.equal(summary.fatal, undefined);
			assert.equal(summary.embedded, f.images.length, "every image embedded after the pause");
			assert.ok(busy.stats.faultsInjected >= 3, `${busy.stats.faultsInjected} refusals`);
			assert.ok(states.has("paused"), `the client reported a pause (states: ${[...states].join(", ")})`);
			assert.ok([...seen].some((t) => /throttled/.test(t)), `the status bar said so (${[...seen].join(" | ")})`);
		} finally {
			await setSetting("endpoint.url", sim?.url);
			await setSetting("retries", 2);
			await setSetting("retryMaxDelaySeconds", undefined);
			await setSetting("outputFolder", undefined);
			await busy.close();
		}
	});

	it("Start Simulated Endpoint writes no setting, keeps its own key, and labels runs only while they go to it", async function () {
		const a = await api();
		const cfg = () => vscode.workspace.getConfiguration("medImageInsight").inspect<string>("endpoint.url");
		const before = cfg();
		const url = await vscode.commands.executeCommand<string | undefined>("medImageInsight.startSimulatedEndpoint");
		try {
			assert.ok(url);
			assert.match(url, /^http:\/\/127\.0\.0\.1:\d+/);
			assert.equal(a.simulationUrl(), url);
			assert.equal(a.simulationInUse(), true);
			// No setting changed, and the simulation's port is in no settings file.
			assert.equal(cfg()?.globalValue, before?.globalValue);
			assert.equal(cfg()?.workspaceValue, before?.workspaceValue);
			const port = new URL(url).port;
			const files = [path.join(workspaceRoot(), ".vscode", "settings.json"), process.env["MII_USER_SETTINGS"] ?? ""].filter((p) => p && fs.existsSync(p));
			for (const file of files) assert.ok(!fs.readFileSync(file, "utf8").includes(`127.0.0.1:${port}`), `${file} does not name the simulation`);
			assert.match(a.simulationStatusText(), /simulation/i);
			const requests = sim?.stats.requests ?? 0;
			const t = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
			assert.equal(t.ok, true, t.error);
			assert.equal(sim?.stats.requests, requests, "the test went to the simulation, not the configured endpoint");
		} finally {
			await vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint");
		}
		assert.equal(a.simulationUrl(), undefined);
		assert.equal(a.simulationInUse(), false);
		assert.equal(a.simulationStatusText(), "");
		// The real endpoint's key was never overwritten by the simulation's.
		const real = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
		assert.equal(real.ok, true, real.error);
	});

	it("endpoint.url and endpoint.authMode are application settings: a workspace cannot set them", async function () {
		const c = vscode.workspace.getConfiguration("medImageInsight");
		await assert.rejects(Promise.resolve(c.update("endpoint.url", "https://elsewhere.example/score", vscode.ConfigurationTarget.Workspace)));
		await assert.rejects(Promise.resolve(c.update("endpoint.authMode", "entra", vscode.ConfigurationTarget.Workspace)));
		assert.equal(vscode.workspace.getConfiguration("medImageInsight").get("endpoint.url"), sim?.url);
	});

	it("a key belongs to its endpoint's origin: another endpoint gets no key until it has its own", async function () {
		const other = await startSimulator({ port: 0, key: canary });
		try {
			await setSetting("endpoint.url", other.url);
			const none = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
			assert.equal(none.ok, false);
			assert.match(none.error ?? "", /key/i);
			assert.equal(other.stats.requests, 0, "nothing was sent to the other endpoint without its key");
			await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
			const ok = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
			assert.equal(ok.ok, true, ok.error);
			await vscode.commands.executeCommand("medImageInsight.clearApiKey");
		} finally {
			await setSetting("endpoint.url", sim?.url);
			await other.close();
		}
		// The first endpoint kept its key.
		const back = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
		assert.equal(back.ok, true, back.error);
	});

	it("plain http:// to a host that is not loopback is refused before anything is sent", async function () {
		requireFixture(this);
		try {
			await setSetting("endpoint.url", "http://medimageinsight.invalid/score");
			const t = await vscode.commands.executeCommand<ConnectionTest>("medImageInsight.testConnection");
			assert.equal(t.ok, false);
			assert.match(t.error ?? "", /http:\/\/ is refused/);
			const summary = await generate(vscode.Uri.file(scans));
			assert.equal(summary, undefined, "no run started");
		} finally {
			await setSetting("endpoint.url", sim?.url);
		}
	});

	it("a dead endpoint (nothing listening) ends the run with the reason, and the status bar tells the same story", async function () {
		requireFixture(this);
		const dead = await startSimulator({ port: 0, key: canary });
		const deadUrl = dead.url;
		await dead.close(); // nothing listens on its port any more
		const out = fs.mkdtempSync(path.join(os.tmpdir(), "mii-dead-"));
		try {
			await setSetting("endpoint.url", deadUrl);
			await vscode.commands.executeCommand("medImageInsight.setApiKey", canary);
			await setSetting("outputFolder", out);
			const a = await api();
			const summary = await generate(vscode.Uri.file(scans));
			assert.ok(summary);
			assert.equal(summary.embedded, 0);
			// Whether the core stops at once (fatal) or records every image as failed, the UI states why.
			assert.ok(summary.fatal !== undefined || summary.failed > 0, JSON.stringify(summary));
			const tooltip = a.statusBarTooltip();
			const notice = a.lastNotice();
			assert.ok(notice);
			if (summary.fatal) {
				assert.match(a.statusBarText(), /stopped/);
				assert.ok(tooltip.includes(summary.fatal.message), tooltip);
				assert.equal(notice.severity, "error");
				assert.deepEqual(notice.actions, ["Configure…", "Test Connection", "Show Log"]);
				assert.ok(notice.text.includes(summary.fatal.message.replace(/\$\(/g, "$ (")), notice.text);
			} else {
				assert.ok(notice.actions.includes(`Retry ${summary.failed} failed`), notice.actions.join(" · "));
				assert.match(a.statusBarText(), new RegExp(`${summary.failed} failed`));
				const top = summary.failureReasons?.[0];
				if (top) assert.ok(tooltip.includes(`failed: ${top.reason}`) || tooltip.includes(`: ${top.reason})`), tooltip);
				assert.ok(tooltip.includes(`${summary.failed} failed`), tooltip);
			}
			assert.ok(!a.logLines().join("\n").includes(canary));
		} finally {
			await setSetting("endpoint.url", sim?.url);
			await setSetting("outputFolder", undefined);
		}
	});

	it("Show Results offers every output folder of the workspace, most recent first", async function () {
		const f = requireFixture(this);
		const a = await api();
		const runs = a.knownRuns();
		// Output folder names carry a hash of the selection's paths: the run on the scans folder and the multi-selection above.
		const main = path.join(workspaceRoot(), ".medimageinsight", selectionName([{ path: scans, isDirectory: true }]));
		const fileRel = f.images.find((p) => !p.includes("/"));
		assert.ok(fileRel, "the fixture has an image at the top level");
		const multi = path.join(workspaceRoot(), ".medimageinsight", selectionName([{ path: path.join(scans, "no-suffix"), isDirectory: true }, { path: path.join(scans, fileRel), isDirectory: false }]));
		assert.ok(runs.includes(main) && runs.includes(multi), runs.join(", "));
		const ended = (d: string): number => Date.parse((JSON.parse(fs.readFileSync(path.join(d, "run.json"), "utf8")) as { endedAt: string }).endedAt);
		for (let i = 1; i < runs.length; i++) assert.ok(ended(runs[i - 1] as string) >= ended(runs[i] as string), "sorted by the end of their last run");
	});

	it("Show Results opens the results of the last run", async function () {
		requireFixture(this);
		const expected = path.join(workspaceRoot(), ".medimageinsight", selectionName([{ path: scans, isDirectory: true }]));
		const outDir = await vscode.commands.executeCommand<string | undefined>("medImageInsight.showResults", expected);
		assert.equal(outDir, expected);
	});
});
