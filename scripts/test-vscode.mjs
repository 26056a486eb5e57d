// The extension in a real VS Code: code-server 4.100.3 (installed once into .test-host/) with
// Debian's chromium driven by playwright-core (see the shared TESTING.md).
//   (c) the .vsix holds only what users need;
//   (a) the in-host mocha suite (test/integration) runs inside the real extension host;
//   (b) a UI test: the .vsix installed into code-server, the Explorer context menu, the progress
//       notification, screenshots in docs/screenshots/.
// Options: --only=vsix,inhost,ui   --grep=<mocha grep>   --keep (leave temp folders)
//          --vsix=<file> (test that package instead of building one).
// The last line is "N passed, N failed".
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromiumArgs, ensureChromium, ensureDebianPackages } from "./lib/chromium.mjs";
import { ensureCodeServer, hostDir, installVsix, startCodeServer } from "./lib/codeServer.mjs";
import { fillFixtureWorkspace } from "./lib/vscodeFixture.mjs";

const root = resolve(import.meta.dirname, "..");
process.chdir(root);
const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const grep = args.find((a) => a.startsWith("--grep="))?.slice(7);
const keep = args.includes("--keep");
const givenVsix = args.find((a) => a.startsWith("--vsix="))?.slice(7);
const wants = (part) => !only || only.includes(part);
const started = Date.now();
const results = [];
const temps = [];

function record(name, ok, detail = "") {
	results.push({ name, ok });
	console.log(`${ok ? "✔" : "✖"} ${name}${detail ? `  — ${detail}` : ""}`);
}

function sh(cmd, cmdArgs, opts = {}) {
	const r = spawnSync(cmd, cmdArgs, { encoding: "utf8", stdio: opts.quiet ? "pipe" : "inherit", ...opts });
	return r;
}

function tempDir(prefix) {
	const d = mkdtempSync(join(tmpdir(), prefix));
	temps.push(d);
	return d;
}

/** Copies test/fixtures/workspace to a temp folder (removed at the end) with the DICOM fixtures. */
function prepareWorkspace(prefix) {
	const ws = tempDir(prefix);
	return { ws, fixture: fillFixtureWorkspace(ws) };
}

// ---------------------------------------------------------------- setup
ensureDebianPackages();
const chromiumPath = ensureChromium();
if (!chromiumPath) {
	console.log("chromium is missing: cannot run the VS Code tests.\n0 passed, 1 failed");
	process.exit(1);
}
let t = Date.now();
ensureCodeServer();
console.log(`[setup] code-server ready (${((Date.now() - t) / 1000).toFixed(0)} s)`);
const { chromium } = await import("playwright-core");

// The .vsix: vscode:prepublish type-checks and makes the production bundles that the in-host
// tests then load too (what users get).
mkdirSync(hostDir, { recursive: true });
const vsix = givenVsix ? resolve(givenVsix) : join(hostDir, "medimageinsight-test.vsix");
if (givenVsix) {
	if (wants("vsix")) checkVsixContents(vsix);
} else if (wants("vsix") || wants("ui")) {
	rmSync(vsix, { force: true });
	t = Date.now();
	const r = sh("npx", ["vsce", "package", "--no-dependencies", "--allow-missing-repository", "--out", vsix], { quiet: true });
	const ok = r.status === 0 && existsSync(vsix);
	record("vsix: vsce package builds the extension", ok, ok ? `${(statSync(vsix).size / 1024).toFixed(0)} KB in ${((Date.now() - t) / 1000).toFixed(0)} s` : (r.stdout + r.stderr).split("\n").slice(-15).join("\n"));
	if (ok && wants("vsix")) checkVsixContents(vsix);
}
if (!existsSync(join(root, "dist", "extension.js")) || !existsSync(vsix)) sh("node", ["esbuild.js"]);
sh("npx", ["tsc", "-p", "tsconfig.test.json"], { quiet: true }); // emits even when someone else's file has a type error
if (!existsSync(join(root, "out", "test", "integration", "index.js"))) {
	record("in-host: test/integration compiled", false, "out/test/integration/index.js is missing");
}

function checkVsixContents(file) {
	const r = sh("unzip", ["-Z1", file], { quiet: true });
	const entries = r.stdout.split("\n").filter(Boolean);
	const allowed = [
		/^\[Content_Types\]\.xml$/,
		/^extension\.vsixmanifest$/,
		/^extension\/dist\/.+\.(js|wasm|css|ttf)$/,
		/^extension\/media\//,
		/^extension\/(package\.json|package\.nls\.json|readme\.md|README\.md|LICENSE(\.txt|\.md)?|CHANGELOG\.md|changelog\.md)$/i,
	];
	const bad = entries.filter((e) => !e.endsWith("/") && !allowed.some((re) => re.test(e)));
	const forbidden = entries.filter((e) => /(^|\/)(src|test|out|node_modules)\/|\.map$|\.ts$|\.test-host|fixtures/.test(e.replace(/^extension\//, "")));
	record("vsix: contains only dist/, media/, package.json, package.nls.json, README, LICENSE, CHANGELOG", bad.length === 0 && forbidden.length === 0, [...bad, ...forbidden].slice(0, 10).join(", "));
	const needed = ["extension/dist/extension.js", "extension/dist/convertWorker.js", "extension/package.json", "extension/package.nls.json", "extension/LICENSE.txt"];
	const missing = needed.filter((n) => !entries.includes(n) && !(n.endsWith("LICENSE.txt") && entries.some((e) => /^extension\/LICENSE/i.test(e))));
	const wasm = entries.filter((e) => e.endsWith(".wasm"));
	record("vsix: ships the bundles, the WASM codecs and the manifest", missing.length === 0 && wasm.length >= 4, missing.length ? `missing ${missing.join(", ")}` : `${wasm.length} wasm files`);
}

// ---------------------------------------------------------------- (a) in-host suite
async function openWorkbench(server, folder, payload, onLog, onExit) {
	const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	await page.exposeFunction("codeAutomationLog", (type, logArgs) => onLog?.(type, logArgs));
	await page.exposeFunction("codeAutomationExit", (code) => onExit?.(code));
	let url = `${server.url}?folder=${encodeURIComponent(folder)}`;
	if (payload) {
		const html = await (await fetch(url)).text();
		const authority = /remoteAuthority&quot;:&quot;([^&]+)&quot;/.exec(html)?.[1] ?? /"remoteAuthority":"([^"]+)"/.exec(html)?.[1] ?? new URL(server.url).host;
		const remote = (p) => `vscode-remote://${authority}${p}`;
		const entries = Object.entries(payload).map(([k, v]) => [k, k.endsWith("Path") ? remote(v) : v]);
		url += `&payload=${encodeURIComponent(JSON.stringify(entries))}`;
	}
	await page.goto(url);
	return { browser, page };
}

async function runInHost() {
	const { ws, fixture } = prepareWorkspace("mii-ws-");
	const resultsFile = join(tempDir("mii-results-"), "results.json");
	process.env.MII_TEST_RESULTS = resultsFile;
	if (grep) process.env.MII_TEST_GREP = grep;
	const server = await startCodeServer({ workspace: ws });
	process.env.MII_USER_SETTINGS = join(server.userDataDir, "User", "settings.json");
	let browser;
	let exitCode;
	try {
		const lines = [];
		const session = await openWorkbench(
			server,
			ws,
			{ extensionDevelopmentPath: root, extensionTestsPath: join(root, "out", "test", "integration", "index.js"), skipWelcome: "true" },
			(type, logArgs) => {
				const text = (Array.isArray(logArgs) ? logArgs : [logArgs]).map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
				lines.push(text);
				if (/^\s+(✔|✖|- SKIPPED)|in-host:|^\s{6}|!!!!!/.test(text)) console.log(text);
			},
			(code) => {
				exitCode = code;
			},
		);
		browser = session.browser;
		const deadline = Date.now() + 6 * 60_000;
		const done = () => {
			if (exitCode !== undefined) return true;
			try {
				return JSON.parse(readFileSync(resultsFile, "utf8")).some((r) => r.state === "done");
			} catch {
				return false;
			}
		};
		while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
		let list = [];
		try {
			list = JSON.parse(readFileSync(resultsFile, "utf8"));
		} catch {
			/* nothing ran */
		}
		const tests = list.filter((r) => r.state !== "done");
		if (!list.some((r) => r.state === "done")) {
			mkdirSync(join(root, "test-results"), { recursive: true });
			await session.page.screenshot({ path: join(root, "test-results", "inhost-timeout.png") }).catch(() => {});
			record("in-host: the suite finished", false, `no result after ${Math.round((Date.now() - started) / 1000)} s (exit ${exitCode}); last log lines:\n${lines.slice(-25).join("\n")}`);
		}
		for (const r of tests) {
			if (r.state === "skipped") console.log(`  (skipped, not counted as passed: ${r.title})`);
			else results.push({ name: `in-host: ${r.title}`, ok: r.state === "passed" });
		}
		if (fixture === undefined) console.log("!!!!! the DICOM-based in-host tests were skipped: ../shared/dicom missing !!!!!");
	} finally {
		await browser?.close().catch(() => {});
		await server.stop();
	}
}

// ---------------------------------------------------------------- (b) UI test
async function runUi() {
	if (!existsSync(vsix)) {
		record("ui: the .vsix exists", false, "vsce package failed");
		return;
	}
	const { ws, fixture } = prepareWorkspace("mii-ui-ws-");
	writeFileSync(
		join(ws, ".vscode", "settings.json"),
		JSON.stringify({ "files.exclude": { "fixture.json": true }, "medImageInsight.batchSize": 1, "medImageInsight.rateLimit.calls": 4, "medImageInsight.rateLimit.periodSeconds": 1 }, null, "\t"),
	);
	if (!fixture) {
		console.log("!!!!! UI test SKIPPED: no DICOM fixtures !!!!!");
		return;
	}
	const extDir = tempDir("mii-ui-ext-");
	try {
		installVsix(vsix, extDir);
		record("ui: code-server installs the .vsix", readdirSync(extDir).some((d) => d.startsWith("medimageinsight.medimageinsight-vscode")));
	} catch (e) {
		record("ui: code-server installs the .vsix", false, String(e.message).slice(0, 500));
		return;
	}
	const shots = join(root, "docs", "screenshots");
	mkdirSync(shots, { recursive: true });
	const server = await startCodeServer({ workspace: ws, extensionsDir: extDir });
	let browser;
	try {
		const session = await openWorkbench(server, ws);
		browser = session.browser;
		const page = session.page;
		await page.waitForSelector(".monaco-workbench .explorer-folders-view", { timeout: 60_000 });
		await page.waitForSelector('.explorer-folders-view .monaco-list-row[aria-label="scans"]', { timeout: 30_000 });
		await page.waitForTimeout(1500);

		// The palette: start the simulated endpoint.
		await runPaletteCommand(page, "MedImageInsight: Start Simulated Endpoint");
		const simToast = page.locator(".notifications-toasts .notification-list-item", { hasText: "simulated endpoint runs on" });
		await simToast.first().waitFor({ timeout: 30_000 });
		const simLabel = await page.locator('.statusbar-item[id="medimageinsight.medimageinsight-vscode.medImageInsight.simulation"], .statusbar-item:has-text("MedImageInsight simulation")').count();
		record("ui: the palette starts the simulated endpoint, labelled in the status bar", simLabel > 0);
		await page.screenshot({ path: join(shots, "simulation-started.png") });
		await page.keyboard.press("Escape");
		await clearNotifications(page);

		// The Explorer: right-click the folder → Generate Embeddings.
		await page.click('.explorer-folders-view .monaco-list-row[aria-label="scans"]', { button: "right" });
		const item = page.locator(".context-view .action-item", { hasText: "Generate Embeddings" });
		await item.first().waitFor({ timeout: 10_000 });
		await item.first().hover();
		await page.waitForTimeout(400);
		await page.screenshot({ path: join(shots, "explorer-context-menu.png") });
		await item.first().click();
		// The workspace limits the rate (4 requests/s, one image each) so the progress can be seen.
		let progress = page.locator(".notifications-toasts .notification-list-item", { hasText: /Embedding \d/ });
		await progress.first().waitFor({ timeout: 30_000 });
		// For the screenshot, prefer a moment when the rate is known (not "0 img/s").
		const withRate = page.locator(".notifications-toasts .notification-list-item", { hasText: /· (?:[1-9][\d.]*|0\.\d*[1-9]\d*) img\/s/ });
		try {
			await withRate.first().waitFor({ timeout: 10_000 });
			progress = withRate;
		} catch {
			/* the run may be over already; the check below says so */
		}
		await page.screenshot({ path: join(shots, "run-progress.png") });
		const progressText = (await progress.first().innerText().catch(() => "")).replace(/\s+/g, " ");
		record("ui: a cancellable progress notification shows counts and rate", /Embedding \d+ \/ \d+\+? · [\d.]+ img\/s/.test(progressText) && /Cancel/i.test(progressText), progressText.slice(0, 160));
		const end = page.locator(".notifications-toasts .notification-list-item", { hasText: /embedded/ });
		await end.first().waitFor({ timeout: 120_000 });
		const endText = (await end.first().innerText()).replace(/\s+/g, " ");
		await page.waitForTimeout(500);
		await page.screenshot({ path: join(shots, "run-finished.png") });
		record(
			"ui: the context menu runs Generate Embeddings and the notification reports the counts",
			endText.includes(`${fixture.images.length} embedded`) && /simulated/.test(endText),
			endText.slice(0, 200),
		);
		const out = join(ws, ".medimageinsight", "scans", "embeddings.jsonl");
		const lines = existsSync(out) ? readFileSync(out, "utf8").split("\n").filter(Boolean).length : 0;
		record("ui: the run wrote one embedding per image into <workspace>/.medimageinsight/scans/", lines === fixture.images.length, `${lines} lines`);
		const bar = await page.locator(".statusbar-item", { hasText: `${fixture.images.length} embedded` }).count();
		record("ui: the status bar shows the summary", bar > 0);

		// Show Results from the notification.
		const show = end.first().locator(".monaco-button", { hasText: "Show Results" });
		await show.first().click({ timeout: 10_000 });
		const view = page.frameLocator("iframe.webview.ready").frameLocator("iframe#active-frame");
		let viewText = "";
		try {
			await view.locator("body", { hasText: /Embedded/i }).waitFor({ timeout: 30_000 });
			await page.waitForTimeout(1500);
			viewText = (await view.locator("body").innerText()).replace(/\s+/g, " ");
		} catch {
			/* recorded below */
		}
		await page.screenshot({ path: join(shots, "results.png") });
		record("ui: Show Results opens the results view on the run's output", /Embedded/i.test(viewText) && viewText.includes(`${fixture.images.length}`), viewText.slice(0, 120));
	} catch (e) {
		mkdirSync(join(root, "test-results"), { recursive: true });
		const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
		if (pages[0]) await pages[0].screenshot({ path: join(root, "test-results", "ui-failure.png") }).catch(() => {});
		record("ui: the UI walk-through completed", false, `${String(e.message).split("\n")[0]} (screenshot: test-results/ui-failure.png)`);
	} finally {
		await browser?.close().catch(() => {});
		await server.stop();
	}
}

/** F1 → type the title → Enter, retrying while the installed extension's commands are still loading. */
async function runPaletteCommand(page, title) {
	const deadline = Date.now() + 60_000;
	for (;;) {
		await page.keyboard.press("F1");
		await page.waitForSelector(".quick-input-widget input", { timeout: 10_000 });
		await page.keyboard.type(title);
		const row = page.locator(`.quick-input-list .monaco-list-row[aria-label*="${title.split(": ").pop()}"]`);
		try {
			await row.first().waitFor({ timeout: 5_000 });
			await page.keyboard.press("Enter");
			return;
		} catch (e) {
			await page.keyboard.press("Escape");
			if (Date.now() > deadline) throw e;
			await page.waitForTimeout(2000);
		}
	}
}

async function clearNotifications(page) {
	await page.keyboard.press("F1");
	await page.keyboard.type("Notifications: Clear All Notifications");
	await page.waitForTimeout(300);
	await page.keyboard.press("Enter");
	await page.waitForTimeout(300);
}

try {
	if (wants("inhost")) await runInHost();
	if (wants("ui")) await runUi();
} catch (e) {
	record("vscode tests ran to the end", false, e.stack ?? String(e));
} finally {
	if (!keep) for (const d of temps) rmSync(d, { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`\n[vscode tests took ${Math.round((Date.now() - started) / 1000)} s]`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
