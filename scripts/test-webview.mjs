// The results webview, front end alone, in a real headless chromium: builds the bundles, serves
// dist/webview + the harness page (test/webview/harness.mjs, the same HTML and CSP as the extension's
// panel) on 127.0.0.1, and drives it with playwright-core. Screenshots go to docs/screenshots/webview-*.png.
// Ends with "N passed, N failed".
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { ensureChromium, chromiumArgs } from "./lib/chromium.mjs";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
process.chdir(root);
const require = createRequire(import.meta.url);
const esbuild = require("esbuild");
const outDir = join(root, "out", "webview-test");
const shots = join(root, "docs", "screenshots");
mkdirSync(outDir, { recursive: true });
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function report(name, ok, detail = "") {
	if (ok) passed++;
	else failed++;
	console.log(`${ok ? "✔" : "✖"} ${name}${detail ? ` — ${detail}` : ""}`);
}
async function check(name, fn) {
	try {
		const detail = await fn();
		report(name, true, typeof detail === "string" ? detail : "");
	} catch (e) {
		report(name, false, e instanceof Error ? e.message.split("\n")[0] : String(e));
	}
}
function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}
/** CIE76 colour difference of two "rgb(r, g, b)" strings (sRGB → CIELAB, D65). */
function deltaE(a, b) {
	const lab = (css) => {
		const [r, g, bl] = css.match(/\d+(\.\d+)?/g).slice(0, 3).map((v) => {
			const c = Number(v) / 255;
			return c > 0.04045 ? ((c + 0.055) / 1.055) ** 2.4 : c / 12.92;
		});
		const f = (t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
		const x = f((r * 0.4124 + g * 0.3576 + bl * 0.1805) / 0.95047);
		const y = f(r * 0.2126 + g * 0.7152 + bl * 0.0722);
		const z = f((r * 0.0193 + g * 0.1192 + bl * 0.9505) / 1.08883);
		return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
	};
	const p = lab(a);
	const q = lab(b);
	return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}
/** Where the map draws point i (the transform of src/webview/mapView.ts: fit with a 16 px margin, centred, y up). */
function mapPoint(page, i) {
	return page.evaluate((i) => {
		const c = window.__harness.mapCoords;
		const r = document.querySelector(".map-canvas").getBoundingClientRect();
		const w = Math.floor(r.width), h = Math.floor(r.height);
		let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
		for (let j = 0; j < c.length / 2; j++) {
			minX = Math.min(minX, c[2 * j]); maxX = Math.max(maxX, c[2 * j]);
			minY = Math.min(minY, c[2 * j + 1]); maxY = Math.max(maxY, c[2 * j + 1]);
		}
		const scale = Math.min((w - 32) / (maxX - minX || 1), (h - 32) / (maxY - minY || 1));
		const ox = (w - (maxX - minX) * scale) / 2, oy = (h - (maxY - minY) * scale) / 2;
		const x = ox + (c[2 * i] - minX) * scale, y = h - (oy + (c[2 * i + 1] - minY) * scale);
		return { x, y, pageX: r.left + x, pageY: r.top + y };
	}, i);
}

// --- Build ---------------------------------------------------------------------------------------------
const build = spawnSync(process.execPath, ["esbuild.js"], { stdio: "inherit" });
if (build.status !== 0 || !existsSync("dist/webview/main.js")) {
	// The project build failed for another bundle: build the webview bundle alone, as esbuild.js does.
	console.log("node esbuild.js failed; building the webview bundle on its own.");
	await esbuild.build({ bundle: true, platform: "browser", target: "es2022", format: "iife", sourcemap: true, logLevel: "warning", entryPoints: { main: "src/webview/main.ts" }, outdir: "dist/webview" });
	const codicons = dirname(require.resolve("@vscode/codicons/package.json"));
	for (const f of ["codicon.css", "codicon.ttf"]) copyFileSync(join(codicons, "dist", f), join("dist/webview", f));
	copyFileSync("src/webview/styles.css", "dist/webview/main.css");
}
await esbuild.build({ bundle: true, platform: "browser", target: "es2022", format: "iife", logLevel: "warning", entryPoints: ["test/webview/harness.mjs"], outfile: join(outDir, "harness.js") });
await esbuild.build({ bundle: true, platform: "node", format: "esm", logLevel: "warning", entryPoints: ["test/webview/page.ts"], outfile: join(outDir, "page.mjs") });
const { renderHtml, defaultStrings, readResults } = await import(pathToFileURL(join(outDir, "page.mjs")).href);

// --- A real run: the real DICOM files through the CLI against the built-in simulated endpoint ---------
const sharedDicom = resolve(process.env.MII_SHARED_DICOM ?? resolve(process.cwd(), "..", "shared", "dicom"), "files");
/** Runs `medimageinsight embed` on the shared DICOM files; the output folder, or undefined (said loudly). */
async function realRun() {
	if (!existsSync(sharedDicom) || !existsSync("dist/cli.js")) {
		console.log(`\n!!! SKIPPING the real-data webview checks: ${existsSync(sharedDicom) ? "dist/cli.js is missing" : `${sharedDicom} does not exist`} !!!\n`);
		return undefined;
	}
	const env = { ...process.env, MEDIMAGEINSIGHT_API_KEY: `webview-test-${randomBytes(6).toString("hex")}` };
	const sim = spawn(process.execPath, ["dist/cli.js", "simulate", "--port", "0"], { env, stdio: ["ignore", "pipe", "pipe"] });
	try {
		const url = await new Promise((resolveUrl, reject) => {
			let text = "";
			const timer = setTimeout(() => reject(new Error(`the simulated endpoint did not start: ${text}`)), 15000);
			// The CLI prints its banner and address on stderr (results go to disk, messages to stderr).
			const onData = (c) => {
				text += c;
				const m = /listening at (http:\/\/127\.0\.0\.1:\d+\/score)/.exec(text);
				if (m) {
					clearTimeout(timer);
					resolveUrl(m[1]);
				}
			};
			sim.stdout.on("data", onData);
			sim.stderr.on("data", onData);
			sim.on("exit", (code) => reject(new Error(`the simulated endpoint exited (${code}): ${text}`)));
		});
		const out = mkdtempSync(join(tmpdir(), "mii-webview-real-"));
		const r = spawnSync(process.execPath, ["dist/cli.js", "embed", sharedDicom, "--endpoint", url, "--out", out, "--workers", "1"], { env, encoding: "utf8", timeout: 240000 });
		if (r.status !== 0 && r.status !== 1) throw new Error(`medimageinsight embed exited with ${r.status}: ${(r.stderr ?? "").slice(-400)}`);
		return out;
	} finally {
		sim.kill();
	}
}
let real;
try {
	const dir = await realRun();
	if (dir) {
		const model = await readResults(dir);
		const data = { ...model, vectors: Buffer.from(model.vectors.buffer, model.vectors.byteOffset, model.vectors.byteLength).toString("base64") };
		real = { dir, model, script: `window.__realModel = ${JSON.stringify(data).replace(/</g, "\\u003c")};` };
		console.log(`real run: ${model.rows.length} embedded, ${model.failures.length} failed or skipped, in ${dir}`);
	}
} catch (e) {
	console.log(`✖ real run through the CLI — ${e.message}`);
	failed++;
}

// --- Server on 127.0.0.1 -------------------------------------------------------------------------------
const types = { ".js": "text/javascript", ".css": "text/css", ".ttf": "font/ttf", ".map": "application/json", ".html": "text/html" };
let origin = "";
const server = createServer((req, res) => {
	const url = new URL(req.url ?? "/", "http://127.0.0.1");
	let file;
	if (url.pathname === "/favicon.ico") {
		res.writeHead(204).end();
		return;
	}
	if (url.pathname === "/" || url.pathname === "/index.html") {
		const html = renderHtml({ cspSource: origin, nonce: randomBytes(18).toString("base64"), scriptUri: "/harness.js", styleUri: "/webview/main.css", codiconUri: "/webview/codicon.css", strings: defaultStrings });
		res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
		res.end(html);
		return;
	} else if (url.pathname === "/harness.js") file = join(outDir, "harness.js");
	else if (url.pathname === "/real/model.js" && real) {
		res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" });
		res.end(real.script);
		return;
	} else if (url.pathname.startsWith("/real/out/") && real) {
		const rel = normalize(decodeURIComponent(url.pathname.slice("/real/out/".length)));
		file = rel.startsWith("..") ? undefined : join(real.dir, rel);
	}
	else if (url.pathname.startsWith("/webview/")) {
		const rel = normalize(url.pathname.slice("/webview/".length));
		if (rel.startsWith("..")) file = undefined;
		else file = join(root, "dist", "webview", rel);
	}
	if (!file || !existsSync(file)) {
		if (url.pathname !== "/favicon.ico") console.log(`404 ${url.pathname}`);
		res.writeHead(404).end();
		return;
	}
	res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
	res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
origin = `http://127.0.0.1:${server.address().port}`;

const executablePath = ensureChromium();
if (!executablePath) {
	server.close();
	console.log("\n!!! chromium is not available: the webview test could not run.\n0 passed, 1 failed");
	process.exit(1);
}
const { chromium } = require("playwright-core");
const browser = await chromium.launch({ executablePath, args: chromiumArgs, headless: true });

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

try {
	for (const theme of ["dark", "light"]) {
		const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, deviceScaleFactor: 1 });
		const page = await context.newPage();
		const dialogs = [];
		const pageErrors = [];
		page.on("dialog", (d) => {
			dialogs.push(d.message());
			void d.dismiss();
		});
		page.on("pageerror", (e) => pageErrors.push(e.message));
		page.on("console", (m) => {
			if (m.type() === "error") pageErrors.push(m.text());
		});
		const t = (name) => `[${theme}] ${name}`;
		// WEBVIEW_TEST_IMAGES=12000 runs the same checks on a larger synthetic run.
		await page.goto(`${origin}/?theme=${theme}&n=${Number(process.env.WEBVIEW_TEST_IMAGES ?? 3000)}`);

		const rowsSel = ".images .vrow[data-entry]:not([hidden])";
		const visiblePaths = () => page.$$eval(`${rowsSel} .cell.path`, (els) => els.map((e) => ({ y: e.parentElement.getBoundingClientRect().top, text: e.textContent })).sort((a, b) => a.y - b.y).map((x) => x.text));
		const model = await page.evaluate(() => window.__harness.model);
		const n = model.paths.length;
		const total = n + 40;

		await check(t("table renders the synthetic run, virtualised"), async () => {
			await page.waitForFunction((n) => document.querySelector(".count")?.textContent?.includes(`${n} of ${n}`), total, { timeout: 15000 });
			const count = await page.$$eval(".images .vrow[data-entry]", (e) => e.length);
			assert(count > 10 && count < 120, `${count} row elements for ${total} entries`);
			// default order: embedded images first, in the order of embeddings.jsonl
			const paths = await visiblePaths();
			assert(paths[0] === model.paths[0] && paths[1] === model.paths[1], `first rows ${paths.slice(0, 2)}, expected ${model.paths.slice(0, 2)}`);
			return `${count} row elements for ${total} entries`;
		});

		await check(t("summary shows counts, endpoint and the simulation badge"), async () => {
			assert((await page.textContent(".stat.embedded .stat-value")) === String(n), "embedded count");
			assert((await page.textContent(".stat.failed .stat-value")) === "30", "failed count");
			assert((await page.textContent(".stat.skipped .stat-value")) === "10", "skipped count");
			assert(await page.isVisible(".badge.simulation"), "no simulation badge");
			assert((await page.textContent(".endpoint-url")) === "http://127.0.0.1:5123/score", "endpoint url");
		});
		await check(t("summary: the folder's totals, and the last run's duration, rate and counts stated as the last run's"), async () => {
			assert((await page.textContent(".stats-title")) === "In this folder:", "no folder title");
			const last = await page.textContent(".last-run-text");
			const want = `4 min 11 s, ${(n / 251).toFixed(1)} images/s, ${n - 224} embedded now, 224 already embedded, 30 failed, 10 skipped, 5 ignored`;
			assert(last === want, `last run "${last}", expected "${want}"`);
			assert((await page.textContent(".last-run .meta-label")) === "Last run:", "not labelled as the last run");
			return last;
		});

		await check(t("failed and skipped are separate tabs with their own counts and icons"), async () => {
			assert((await page.textContent('button[data-tab="failures"]')).trim() === "Failed (30)", `failed tab "${await page.textContent('button[data-tab="failures"]')}"`);
			assert((await page.textContent('button[data-tab="skipped"]')).trim() === "Skipped (10)", "skipped tab");
			assert(await page.$('button[data-tab="skipped"] .codicon-circle-slash'), "skipped tab without its icon");
			assert(!(await page.$('button[data-tab="skipped"] .codicon-warning')) && !(await page.$('button[data-tab="skipped"] .codicon-error')), "the skipped tab has a warning/error icon");
		});
		if (theme === "dark") await page.screenshot({ path: join(shots, "webview-table-dark.png") });

		await check(t("table scrolls to the last row"), async () => {
			await page.$eval(".vlist.images", (e) => (e.scrollTop = e.scrollHeight));
			await page.waitForFunction((total) => [...document.querySelectorAll(".images .vrow[data-entry]:not([hidden])")].some((r) => r.getAttribute("aria-rowindex") === String(total)), total, { timeout: 5000 });
			await page.$eval(".vlist.images", (e) => (e.scrollTop = 0));
		});

		await check(t("sort by modality, then by path descending"), async () => {
			await page.click('.images-view .header button[data-key="modality"]');
			await page.waitForTimeout(150);
			const firstModality = await page.$eval(`${rowsSel} .cell.modality`, (e) => e.textContent);
			// failures have no modality and sort first ("")
			assert(firstModality === "", `first modality ${JSON.stringify(firstModality)}`);
			await page.click('.images-view .header button[data-key="path"]');
			await page.click('.images-view .header button[data-key="path"]');
			await page.waitForTimeout(150);
			const paths = await visiblePaths();
			const all = [...model.paths, ...Array.from({ length: 40 }, (_, j) => (j % 4 === 0 ? `reports/SR${j}.dcm` : `broken/file${j}.dcm`))].sort(collator.compare).reverse();
			assert(paths[0] === all[0], `first ${paths[0]}, expected ${all[0]}`);
			const sortedDesc = paths.every((p, i) => i === 0 || collator.compare(paths[i - 1], p) >= 0);
			assert(sortedDesc, "visible rows not in descending order");
			await page.click('.images-view .header button[data-key="path"]');
		});

		await check(t("text filter and modality filter"), async () => {
			await page.fill(".input.filter", "knee");
			const expected = model.series.filter((s, i) => `${model.paths[i]}\n${s}`.toLowerCase().includes("knee") || model.clusters[model.cluster[i]][1] === "knee").length;
			await page.waitForFunction((e) => document.querySelector(".count")?.textContent?.startsWith(`${e} of`), expected, { timeout: 5000 });
			await page.fill(".input.filter", "");
			await page.selectOption(".images-view select.select >> nth=0", "MR");
			const mr = model.modality.filter((m) => m === "MR").length;
			await page.waitForFunction((e) => document.querySelector(".images-view .count")?.textContent?.startsWith(`${e} of`), mr, { timeout: 5000 });
			await page.waitForTimeout(100);
			const mods = await page.$$eval(`${rowsSel} .cell.modality`, (els) => els.map((e) => e.textContent));
			assert(mods.length > 0 && mods.every((m) => m === "MR"), `modalities ${[...new Set(mods)]}`);
			await page.selectOption(".images-view select.select >> nth=0", "");
			return `${expected} knee rows, ${mr} MR rows`;
		});

		await check(t("group by series shows group headers"), async () => {
			await page.selectOption(".images-view select.select >> nth=1", "series");
			await page.waitForTimeout(150);
			const groups = await page.$$eval(".images .vrow.group:not([hidden])", (els) => els.map((e) => e.textContent));
			assert(groups.length > 0 && groups.every((g) => g.startsWith("Series: ")), `groups ${groups.slice(0, 2)}`);
			await page.selectOption(".images-view select.select >> nth=1", "none");
			await page.waitForTimeout(100);
		});

		await check(t("plural forms: 1 image, not 1 images"), async () => {
			await page.fill(".input.filter", "IM00007.dcm");
			await page.waitForFunction((total) => document.querySelector(".images-view .count")?.textContent === `1 of ${total} images`, total, { timeout: 5000 });
			await page.selectOption(".images-view select.select >> nth=1", "series");
			await page.waitForTimeout(200);
			const g = await page.textContent(".images .vrow.group:not([hidden])");
			assert(g.endsWith("— 1 image"), `group title "${g}"`);
			await page.selectOption(".images-view select.select >> nth=1", "none");
			await page.fill(".input.filter", "");
			await page.fill(".input.filter", "IM0000");
			await page.waitForFunction((total) => document.querySelector(".images-view .count")?.textContent === `10 of ${total} images`, total, { timeout: 5000 });
			await page.fill(".input.filter", "");
			return g;
		});

		await check(t("placeholders fit their fields"), async () => {
			const r = await page.$eval(".input.filter", (i) => {
				const cs = getComputedStyle(i);
				const ctx = document.createElement("canvas").getContext("2d");
				ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
				return { text: ctx.measureText(i.placeholder).width, room: i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16 };
			});
			assert(r.text <= r.room, `filter placeholder ${r.text.toFixed(0)} px in ${r.room.toFixed(0)} px`);
			return `${r.text.toFixed(0)} px in ${r.room.toFixed(0)} px`;
		});

		await check(t("selecting a row shows its nearest neighbours (checked by brute force)"), async () => {
			await page.fill(".input.filter", "patient001/");
			await page.waitForTimeout(250);
			await page.click(`${rowsSel} >> nth=2`);
			await page.waitForSelector(".neighbours .neighbour", { timeout: 5000 });
			const shownPath = await page.textContent(".detail-path");
			const got = await page.$$eval(".neighbours .neighbour", (els) => els.map((e) => ({ index: Number(e.dataset.index), score: Number(e.querySelector(".nb-score").textContent) })));
			const expected = await page.evaluate((path) => {
				const h = window.__harness;
				const i = h.model.paths.indexOf(path);
				const d = h.model.dim;
				const sims = [];
				for (let j = 0; j < h.model.paths.length; j++) {
					if (j === i) continue;
					let s = 0;
					for (let k = 0; k < d; k++) s += h.vectors[i * d + k] * h.vectors[j * d + k];
					sims.push({ index: j, score: s });
				}
				sims.sort((a, b) => b.score - a.score);
				return sims.slice(0, 8);
			}, shownPath);
			assert(got.length === 8, `${got.length} neighbours`);
			assert(got.every((g, i) => g.index === expected[i].index && Math.abs(g.score - expected[i].score) < 1e-3), `neighbours ${JSON.stringify(got.slice(0, 3))} vs ${JSON.stringify(expected.slice(0, 3))}`);
			return `${shownPath}: best ${got[0].score}`;
		});

		await check(t("keyboard: ArrowDown + Enter selects the next row"), async () => {
			const before = await page.textContent(".detail-path");
			await page.focus(".vlist.images");
			await page.keyboard.press("ArrowDown");
			await page.keyboard.press("Enter");
			await page.waitForFunction((b) => document.querySelector(".detail-path")?.textContent !== b, before, { timeout: 3000 });
			// the row highlight follows on the next animation frame
			await page.waitForFunction(() => document.querySelector(".images .vrow.selected:not([hidden]) .cell.path")?.textContent === document.querySelector(".detail-path")?.textContent, undefined, { timeout: 3000 });
		});

		await check(t("hostile series description renders as literal text"), async () => {
			await page.fill(".input.filter", "onerror");
			await page.waitForTimeout(250);
			const cells = await page.$$eval(`${rowsSel} .cell.series`, (els) => els.map((e) => e.textContent));
			assert(cells.length > 0 && cells.every((c) => c === "<img src=x onerror=alert(1)>"), `cells ${cells.slice(0, 2)}`);
			await page.click(`${rowsSel} >> nth=0`);
			await page.waitForSelector(".detail-meta dd");
			const dd = await page.$$eval(".detail-meta dd", (els) => els.map((e) => e.textContent));
			assert(dd.includes("<img src=x onerror=alert(1)>"), "detail text");
			const bad = await page.$$eval("img", (imgs) => imgs.filter((i) => i.getAttribute("src") === "x" || i.hasAttribute("onerror")).length);
			assert(bad === 0, `${bad} injected img elements`);
			assert(dialogs.length === 0, `dialogs: ${dialogs}`);
			await page.fill(".input.filter", "");
			return `${cells.length} rows`;
		});
		if (theme === "dark") await page.screenshot({ path: join(shots, "webview-neighbours-dark.png") });

		await check(t("map renders points on the canvas"), async () => {
			await page.click('button[data-tab="map"]');
			await page.waitForFunction(() => document.querySelector(".map-view .caption")?.textContent?.includes("%"), undefined, { timeout: 20000 });
			await page.waitForTimeout(200);
			const painted = await page.$eval(".map-canvas", (c) => {
				const ctx = c.getContext("2d");
				const d = ctx.getImageData(0, 0, c.width, c.height).data;
				const bg = [d[0], d[1], d[2]];
				let count = 0;
				for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 40) count++;
				return count;
			});
			assert(painted > 2000, `${painted} painted pixels`);
			const legend = await page.$$eval(".legend-item", (e) => e.length);
			const modalities = new Set(model.modality).size;
			assert(legend === modalities, `${legend} legend entries for ${modalities} modalities`);
			return `${painted} painted pixels`;
		});

		await check(t("map colours: every pair of categories stays apart (ΔE ≥ 27), theme-aware"), async () => {
			const colours = await page.$$eval(".legend-item .swatch", (els) => els.map((e) => getComputedStyle(e).backgroundColor));
			let worst = { d: Infinity };
			for (let i = 0; i < colours.length; i++) for (let j = i + 1; j < colours.length; j++) {
				const d = deltaE(colours[i], colours[j]);
				if (d < worst.d) worst = { d, a: colours[i], b: colours[j] };
			}
			assert(worst.d >= 27, `${worst.a} and ${worst.b} differ by ΔE ${worst.d.toFixed(1)}`);
			const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
			const onBg = Math.min(...colours.map((c) => deltaE(c, bg)));
			assert(onBg >= 40, `a colour is too close to the background (ΔE ${onBg.toFixed(1)})`);
			return `${colours.length} colours, closest pair ΔE ${worst.d.toFixed(1)}, background ΔE ≥ ${onBg.toFixed(1)}`;
		});

		await check(t("map points are large enough to see: a lone point covers at least 25 pixels"), async () => {
			// the point farthest from every other one on the screen
			const lone = await page.evaluate(() => {
				const c = window.__harness.mapCoords;
				const m = c.length / 2;
				let best = -1, bestD = -1;
				for (let i = 0; i < m; i++) {
					let d = Infinity;
					for (let j = 0; j < m; j++) if (j !== i) d = Math.min(d, (c[2 * i] - c[2 * j]) ** 2 + (c[2 * i + 1] - c[2 * j + 1]) ** 2);
					if (d > bestD) { bestD = d; best = i; }
				}
				return best;
			});
			const p = await mapPoint(page, lone);
			const painted = await page.$eval(".map-canvas", (c, p) => {
				const d = c.getContext("2d").getImageData(Math.round(p.x) - 5, Math.round(p.y) - 5, 11, 11).data;
				const bg = c.getContext("2d").getImageData(1, 1, 1, 1).data;
				let k = 0;
				for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 40) k++;
				return k;
			}, p);
			assert(painted >= 25, `${painted} painted pixels around point ${lone}`);
			return `${painted} pixels`;
		});

		await check(t("three images on one spot: the hover says so"), async () => {
			// A whole-pixel mouse position whose nearest point is one of the three (the cluster around them is dense).
			const p = await mapPoint(page, 0);
			let target;
			for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [-1, -1], [1, -1], [-1, 1]]) {
				const x = Math.round(p.x) + dx;
				const y = Math.round(p.y) + dy;
				const nearest = await page.evaluate(({ x, y }) => {
					const c = window.__harness.mapCoords;
					const r = document.querySelector(".map-canvas").getBoundingClientRect();
					const w = Math.floor(r.width), h = Math.floor(r.height);
					let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
					for (let j = 0; j < c.length / 2; j++) {
						minX = Math.min(minX, c[2 * j]); maxX = Math.max(maxX, c[2 * j]);
						minY = Math.min(minY, c[2 * j + 1]); maxY = Math.max(maxY, c[2 * j + 1]);
					}
					const scale = Math.min((w - 32) / (maxX - minX || 1), (h - 32) / (maxY - minY || 1));
					const ox = (w - (maxX - minX) * scale) / 2, oy = (h - (maxY - minY) * scale) / 2;
					let best = -1, bestD = Infinity;
					for (let j = 0; j < c.length / 2; j++) {
						const sx = ox + (c[2 * j] - minX) * scale, sy = h - (oy + (c[2 * j + 1] - minY) * scale);
						const d = (sx - x) ** 2 + (sy - y) ** 2;
						if (d < bestD) { bestD = d; best = j; }
					}
					return best;
				}, { x, y });
				if ([0, 4, 8].includes(nearest)) {
					target = { x: p.pageX - p.x + x, y: p.pageY - p.y + y };
					break;
				}
			}
			assert(target, "no whole-pixel position picks one of the three images");
			await page.mouse.move(target.x, target.y);
			await page.waitForSelector(".tooltip:not([hidden]) .tooltip-path", { timeout: 3000 });
			const path = await page.textContent(".tooltip .tooltip-path");
			assert([0, 4, 8].map((i) => model.paths[i]).includes(path), `hovered ${path}`);
			const stack = await page.textContent(".tooltip .tooltip-stack").catch(() => "");
			assert(stack === "3 images at this point", `stack "${stack}"`);
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-map-stack-dark.png") });
			await page.mouse.move(0, 0);
			return stack;
		});

		await check(t("hovering a point shows its thumbnail and path; a click selects it"), async () => {
			const target = await page.$eval(".map-canvas", (c) => {
				const ctx = c.getContext("2d");
				const { width, height } = c;
				const d = ctx.getImageData(0, 0, width, height).data;
				const bg = [d[0], d[1], d[2]];
				// a painted pixel far from the selection ring: scan from the bottom-left
				for (let y = height - 1; y >= 0; y--) {
					for (let x = 0; x < width; x++) {
						const i = (y * width + x) * 4;
						if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 60) return { x, y };
					}
				}
				return undefined;
			});
			assert(target, "no painted pixel");
			const box = await page.$eval(".map-canvas", (c) => {
				const r = c.getBoundingClientRect();
				return { x: r.left, y: r.top };
			});
			await page.mouse.move(box.x + target.x + 1, box.y + target.y + 1);
			await page.waitForSelector(".tooltip:not([hidden]) .tooltip-path", { timeout: 3000 });
			const tip = await page.textContent(".tooltip .tooltip-path");
			assert(await page.$(".tooltip img.tooltip-thumb"), "no thumbnail in the tooltip");
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-map-dark.png") });
			else await page.screenshot({ path: join(shots, "webview-map-light.png") });
			await page.mouse.click(box.x + target.x + 1, box.y + target.y + 1);
			await page.waitForFunction((p) => document.querySelector(".detail-path")?.textContent === p, tip, { timeout: 3000 });
			return tip;
		});

		await check(t("map keyboard: arrows move between points, Enter selects"), async () => {
			const before = await page.textContent(".detail-path");
			await page.focus(".map-canvas");
			await page.keyboard.press("ArrowRight");
			await page.keyboard.press("ArrowUp");
			await page.waitForSelector(".tooltip:not([hidden]) .tooltip-path", { timeout: 3000 });
			const tip = await page.textContent(".tooltip .tooltip-path");
			await page.keyboard.press("Enter");
			await page.waitForFunction((p) => document.querySelector(".detail-path")?.textContent === p, tip, { timeout: 3000 });
			assert(tip !== before, "selection did not move");
		});

		await check(t("outliers: k is named and explained"), async () => {
			await page.click('button[data-tab="outliers"]');
			assert((await page.textContent(".outliers-view label")) === "Neighbours (k)", "k is not named");
			const help = await page.textContent(".outliers-view .k-help");
			assert(help.includes("k most similar images") && (await page.getAttribute("#outliers-k", "aria-describedby")) === "outliers-k-help", `help "${help}"`);
		});

		await check(t("outliers: the five planted outliers rank first"), async () => {
			await page.click('button[data-tab="outliers"]');
			await page.click(".action-outliers");
			await page.waitForSelector(".ranked.outliers .ranked-item", { timeout: 20000 });
			const top = await page.$$eval(".ranked.outliers .ranked-item", (els) => els.slice(0, 5).map((e) => Number(e.dataset.index)));
			const planted = [n - 5, n - 4, n - 3, n - 2, n - 1];
			assert(top.slice().sort((a, b) => a - b).join() === planted.join(), `top ${top}`);
			// the Images table gains a sortable "Outlier score" column: descending puts the planted ones first
			await page.click('button[data-tab="images"]');
			await page.click('.images-view .header button[data-key="outlier"]');
			await page.waitForTimeout(200);
			const paths = await visiblePaths();
			const plantedPaths = new Set(planted.map((i) => model.paths[i]));
			assert(paths.slice(0, 5).every((p) => plantedPaths.has(p)), `first rows ${paths.slice(0, 5)}`);
			await page.click('.images-view .header button[data-key="status"]');
			await page.click('.images-view .header button[data-key="status"]');
		});

		// The Images | Series toggle (PRODUCT.md §10): table, neighbours, outliers, map and export at series level.
		const seriesCount = new Set(model.paths.map((p) => /series(\d+)/.exec(p)?.[1])).size;
		/** Brute force in the page: each series' embedding as the normalised mean of its images', by SeriesInstanceUID. */
		const bruteSeries = () =>
			page.evaluate(() => {
				const h = window.__harness;
				const d = h.model.dim;
				const sums = new Map();
				h.model.paths.forEach((p, i) => {
					const uid = `1.2.826.0.1.3680043.8.498.1.${/series(\d+)/.exec(p)[1]}`;
					let v = sums.get(uid);
					if (!v) sums.set(uid, (v = new Float64Array(d)));
					for (let k = 0; k < d; k++) v[k] += h.vectors[i * d + k];
				});
				const out = {};
				for (const [uid, v] of sums) {
					const norm = Math.hypot(...v);
					out[uid] = Array.from(v, (x) => x / norm);
				}
				return out;
			});
		const dot = (a, b) => a.reduce((s, x, k) => s + x * b[k], 0);

		await check(t("level toggle: a keyboard-operable radio group; Series shows one table row per series"), async () => {
			await page.click('button[data-tab="images"]');
			assert((await page.getAttribute('.level-toggle [data-level="images"]', "aria-checked")) === "true", "Images is not the level shown");
			await page.focus('.level-toggle [data-level="images"]');
			await page.keyboard.press("ArrowRight");
			await page.waitForSelector(".series-table tbody tr", { timeout: 20000 });
			assert((await page.getAttribute('.level-toggle [data-level="series"]', "aria-checked")) === "true", "ArrowRight did not check Series");
			assert(await page.evaluate(() => document.activeElement?.dataset.level === "series"), "focus did not follow");
			assert(await page.$eval(".images-view", (e) => e.hidden), "the image table is still shown");
			const rows = await page.$$eval(".series-table tbody tr", (els) => els.length);
			assert(rows === seriesCount, `${rows} rows for ${seriesCount} series`);
			const caption = await page.textContent(".series-view .series-caption");
			assert(caption.startsWith(`${seriesCount} series from ${n} images`), `caption "${caption}"`);
			assert((await page.textContent('button[data-tab="images"] span:not(.codicon)')) === "Series", "the table tab is not named after the level");
			return `${rows} rows`;
		});

		await check(t("series level: selecting a series lists the most similar series (checked by brute force)"), async () => {
			await page.click('.series-table tbody tr[data-series="3"]');
			await page.waitForSelector(".series-side .series-neighbours .ranked-item", { timeout: 10000 });
			const uid = await page.getAttribute('.series-table tbody tr[data-series="3"] td:nth-child(2)', "title");
			const got = await page.$$eval(".series-neighbours .ranked-item", (els) => els.map((e) => ({ uid: e.title, score: Number(e.querySelector(".nb-score").textContent) })));
			const means = await bruteSeries();
			const expected = Object.keys(means)
				.filter((u) => u !== uid)
				.map((u) => ({ uid: u, score: dot(means[uid], means[u]) }))
				.sort((a, b) => b.score - a.score)
				.slice(0, 8);
			assert(got.length === 8, `${got.length} neighbours`);
			assert(got.every((g, i) => Math.abs(g.score - expected[i].score) < 2e-3), `neighbours ${JSON.stringify(got.slice(0, 3))} vs ${JSON.stringify(expected.slice(0, 3))}`);
			assert(got[0].uid === expected[0].uid || Math.abs(expected[0].score - expected[1].score) < 2e-3, `best ${got[0].uid} vs ${expected[0].uid}`);
			const sides = await page.$$eval("aside.detail", (els) => els.map((e) => (e.hidden ? "hidden" : e.querySelector(".series-side") ? "series" : "image")));
			assert(sides.join() === "hidden,series", `side panels ${sides}`);
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-series-dark.png") });
			else await page.screenshot({ path: join(shots, "webview-series-light.png") });
			return `${uid}: best ${got[0].score}`;
		});

		await check(t("series level: the Outliers tab ranks series (scores checked by brute force) and fills the table column"), async () => {
			await page.click('button[data-tab="outliers"]');
			const help = await page.textContent(".outliers-view .k-help");
			assert(help.includes("k most similar series"), `help "${help}"`);
			const k = Number(await page.inputValue("#outliers-k"));
			await page.click(".action-outliers");
			await page.waitForSelector(".ranked.series-outliers .ranked-item", { timeout: 20000 });
			const got = await page.$$eval(".ranked.series-outliers .ranked-item", (els) => els.slice(0, 5).map((e) => ({ uid: e.title, score: Number(e.querySelector(".nb-score").textContent) })));
			const means = await bruteSeries();
			const uids = Object.keys(means);
			const expected = uids
				.map((u) => {
					const sims = uids.filter((v) => v !== u).map((v) => dot(means[u], means[v])).sort((a, b) => b - a);
					return { uid: u, score: 1 - sims.slice(0, k).reduce((a, b) => a + b, 0) / k };
				})
				.sort((a, b) => b.score - a.score)
				.slice(0, 5);
			assert(got.every((g, i) => Math.abs(g.score - expected[i].score) < 2e-3), `outliers ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
			// The series holding the five planted outlier images is the most unusual series.
			const planted = `1.2.826.0.1.3680043.8.498.1.${/series(\d+)/.exec(model.paths[n - 1])[1]}`;
			assert(got[0].uid === planted, `first ${got[0].uid}, planted ${planted}`);
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-series-outliers-dark.png") });
			// A click selects the series: the side panel shows it.
			await page.click(".ranked.series-outliers .ranked-item >> nth=0");
			await page.waitForFunction((u) => document.querySelector(".series-side .caption.uid")?.textContent?.endsWith(u), planted, { timeout: 5000 });
			await page.click('button[data-tab="images"]');
			const column = await page.$$eval(".series-table tbody tr td.num:last-child", (els) => els.filter((td) => td.textContent !== "").length);
			assert(column === seriesCount, `${column} outlier scores in the table`);
			return `${got[0].uid}: ${got[0].score}`;
		});

		await check(t("series level: the map has one point per series, coloured by modality; hover shows the series, a click selects it"), async () => {
			await page.click('button[data-tab="map"]');
			await page.waitForFunction(() => document.querySelector(".map-view .caption")?.textContent?.includes("series embeddings"), undefined, { timeout: 20000 });
			const points = await page.evaluate(() => window.__harness.seriesMapCoords?.length / 2);
			assert(points === seriesCount, `${points} map points for ${seriesCount} series`);
			const legend = await page.$$eval(".legend-item", (els) => els.map((e) => Number(/\((\d+)\)$/.exec(e.textContent)?.[1] ?? 0)));
			assert(legend.reduce((a, b) => a + b, 0) === seriesCount, `legend counts ${legend}`);
			assert(await page.$eval(".map-view select", (e) => e.disabled && e.value === "modality"), "colour-by is not modality");
			await page.waitForTimeout(200);
			// The series map's points, where the map draws them; hover the first one not under another.
			const target = await page.evaluate(() => {
				const c = window.__harness.seriesMapCoords;
				const r = document.querySelector(".map-canvas").getBoundingClientRect();
				const w = Math.floor(r.width), h = Math.floor(r.height);
				let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
				for (let j = 0; j < c.length / 2; j++) {
					minX = Math.min(minX, c[2 * j]); maxX = Math.max(maxX, c[2 * j]);
					minY = Math.min(minY, c[2 * j + 1]); maxY = Math.max(maxY, c[2 * j + 1]);
				}
				const scale = Math.min((w - 32) / (maxX - minX || 1), (h - 32) / (maxY - minY || 1));
				const ox = (w - (maxX - minX) * scale) / 2, oy = (h - (maxY - minY) * scale) / 2;
				const at = (i) => [ox + (c[2 * i] - minX) * scale, h - (oy + (c[2 * i + 1] - minY) * scale)];
				for (let i = 0; i < c.length / 2; i++) {
					const [x, y] = at(i);
					let alone = true;
					for (let j = 0; j < c.length / 2 && alone; j++) if (j !== i && Math.hypot(at(j)[0] - x, at(j)[1] - y) < 10) alone = false;
					if (alone) return { i, pageX: r.left + x, pageY: r.top + y };
				}
				return undefined;
			});
			assert(target, "no lone series point");
			await page.mouse.move(target.pageX, target.pageY);
			await page.waitForSelector(".tooltip:not([hidden]) .tooltip-path", { timeout: 3000 });
			const expected = await page.$eval(`.series-table tbody tr[data-series="${target.i}"]`, (tr) => ({ description: tr.children[1].textContent, images: tr.children[4].textContent }));
			const tip = await page.textContent(".tooltip .tooltip-path");
			const meta = await page.textContent(".tooltip .tooltip-meta");
			assert(tip === expected.description && meta.endsWith(`${expected.images} images`), `tooltip "${tip}" / "${meta}", expected ${JSON.stringify(expected)}`);
			assert(await page.$(".tooltip img.tooltip-thumb"), "no thumbnail in the tooltip");
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-series-map-dark.png") });
			else await page.screenshot({ path: join(shots, "webview-series-map-light.png") });
			await page.mouse.click(target.pageX, target.pageY);
			await page.waitForFunction((i) => document.querySelector(`.series-table tbody tr[data-series="${i}"]`)?.classList.contains("selected"), target.i, { timeout: 3000 });
			await page.waitForSelector(".series-side .series-neighbours .ranked-item", { timeout: 10000 });
			await page.mouse.move(0, 0);
			return `${points} points; hovered "${tip}"`;
		});

		await check(t("series level: Export CSV exports the series; the level survives a reload"), async () => {
			const before = await page.evaluate(() => window.__harness.actions.length);
			await page.click(".action-export");
			await page.waitForFunction((b) => window.__harness.actions.length > b, before, { timeout: 3000 });
			const action = await page.evaluate(() => window.__harness.actions.at(-1).type);
			assert(action === "exportSeries", `export sent ${action}`);
			// What the panel writes for that action: one line per series after the header.
			const lines = await page.evaluate(() => window.__harness.session.seriesCsv().trim().split(/\r?\n/).length);
			assert(lines === seriesCount + 1, `${lines} CSV lines for ${seriesCount} series`);
			const selected = await page.getAttribute(".series-table tbody tr.selected", "data-series");
			await page.waitForTimeout(300);
			await page.reload();
			// The Map tab was shown: it still is, at series level.
			await page.waitForFunction(() => document.querySelector(".map-view .caption")?.textContent?.includes("series embeddings"), undefined, { timeout: 20000 });
			assert((await page.getAttribute('.level-toggle [data-level="series"]', "aria-checked")) === "true", "level lost");
			await page.click('button[data-tab="images"]');
			await page.waitForSelector(".series-table tbody tr.selected", { timeout: 20000 });
			assert((await page.getAttribute(".series-table tbody tr.selected", "data-series")) === selected, "series selection lost");
			// Back to images: the image table, and Export exports images again.
			await page.click('.level-toggle [data-level="images"]');
			await page.click('button[data-tab="images"]');
			await page.waitForSelector(`${rowsSel}`, { timeout: 5000 });
			assert(await page.$eval(".series-view", (e) => e.hidden), "the series table is still shown");
			// The Outliers tab is back at image level (the reload started a new host session: compute them again for the checks below).
			await page.click('button[data-tab="outliers"]');
			assert((await page.textContent(".outliers-view .k-help")).includes("k most similar images"), "the Outliers tab is not at image level");
			await page.click(".action-outliers");
			await page.waitForSelector(".ranked.outliers .ranked-item", { timeout: 20000 });
			await page.click('button[data-tab="images"]');
			// Forget the export recorded here: a later check compares the whole sequence of actions.
			await page.evaluate((b) => window.__harness.actions.splice(b), before);
			return `${lines - 1} series exported`;
		});

		await check(t("zero-shot labels are applied and shown in the table"), async () => {
			await page.click('button[data-tab="labels"]');
			await page.fill(".labels-input", "CT chest\nMR brain\nMR knee\nUS abdomen\nx-ray hand");
			await page.click(".action-apply-labels");
			await page.waitForSelector(".label-counts li", { timeout: 10000 });
			const counts = await page.$$eval(".label-counts li", (els) => els.map((e) => [e.querySelector(".count-label").textContent, Number(e.querySelector(".count-value").textContent)]));
			assert(counts.length === 5, `${counts.length} labels`);
			assert(counts.reduce((a, [, c]) => a + c, 0) === n, "counts do not add up to the images");
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-labels-dark.png") });
			await page.click('button[data-tab="images"]');
			await page.waitForSelector('.images-view .header button[data-key="label"]');
			// MR brain images (cluster 2) must carry the label "MR brain"
			await page.fill(".input.filter", "MR BRAIN T2");
			await page.waitForTimeout(250);
			const labels = await page.$$eval(`${rowsSel} .cell.label`, (els) => els.map((e) => e.textContent));
			assert(labels.length > 0 && labels.every((l) => l === "MR brain"), `labels ${[...new Set(labels)]}`);
			const probs = await page.$$eval(`${rowsSel} .cell.probability`, (els) => els.map((e) => parseFloat(e.textContent)));
			assert(probs.every((p) => p > 20 && p <= 100), `probabilities ${probs.slice(0, 3)}`);
			await page.fill(".input.filter", "");
			return counts.map(([l, c]) => `${l}: ${c}`).join(", ");
		});

		await check(t("the filter matches labels too"), async () => {
			await page.click('button[data-tab="images"]');
			const counts = await page.$$eval(".label-counts li", (els) => Object.fromEntries(els.map((e) => [e.querySelector(".count-label").textContent, Number(e.querySelector(".count-value").textContent)])));
			await page.fill(".input.filter", "x-ray hand");
			await page.waitForFunction((e) => document.querySelector(".images-view .count")?.textContent?.startsWith(`${e} of`), counts["x-ray hand"], { timeout: 5000 });
			const labels = await page.$$eval(`${rowsSel} .cell.label`, (els) => els.map((e) => e.textContent));
			assert(labels.length > 0 && labels.every((l) => l === "x-ray hand"), `labels ${[...new Set(labels)]}`);
			await page.fill(".input.filter", "");
			return `${counts["x-ray hand"]} rows labelled "x-ray hand"`;
		});

		await check(t("the header scrolls with its columns"), async () => {
			await page.setViewportSize({ width: 900, height: 860 });
			await page.waitForTimeout(200);
			const wide = await page.$eval(".vlist.images", (e) => e.scrollWidth - e.clientWidth);
			assert(wide > 50, `the columns fit (${wide} px to scroll): nothing to test`);
			await page.$eval(".vlist.images", (e) => (e.scrollLeft = e.scrollWidth));
			await page.waitForTimeout(200);
			const lefts = await page.evaluate(() => {
				const head = document.querySelector('.images-view .header [data-key="label"]').getBoundingClientRect();
				const cell = document.querySelector(".images .vrow[data-entry]:not([hidden]) .cell.label").getBoundingClientRect();
				const list = document.querySelector(".vlist.images").getBoundingClientRect();
				const lastHead = document.querySelector('.images-view .header [data-key="outlier"]').getBoundingClientRect();
				const headPath = document.querySelector('.images-view .header [data-key="path"]').getBoundingClientRect();
				const cellPath = document.querySelector(".images .vrow[data-entry]:not([hidden]) .cell.path").getBoundingClientRect();
				return { head: head.left, cell: cell.left, headPath: headPath.left, cellPath: cellPath.left, lastRight: lastHead.right, listRight: list.right };
			});
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-header-scrolled-dark.png") });
			await page.$eval(".vlist.images", (e) => (e.scrollLeft = 0));
			await page.setViewportSize({ width: 1400, height: 860 });
			assert(Math.abs(lefts.head - lefts.cell) < 1.5 && Math.abs(lefts.headPath - lefts.cellPath) < 1.5, `header at ${lefts.head}/${lefts.headPath}, cells at ${lefts.cell}/${lefts.cellPath}`);
			assert(lefts.lastRight <= lefts.listRight + 1, `the last column ends at ${lefts.lastRight}, beyond the list (${lefts.listRight}): it cannot be scrolled into view`);
			return `scrolled ${wide} px`;
		});

		await check(t("free-text query ranks matching images first"), async () => {
			await page.click('button[data-tab="labels"]');
			const fit = await page.$eval(".query-input", (i) => {
				const cs = getComputedStyle(i);
				const ctx = document.createElement("canvas").getContext("2d");
				ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
				return { text: ctx.measureText(i.placeholder).width, room: i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16 };
			});
			assert(fit.text <= fit.room, `search placeholder ${fit.text.toFixed(0)} px in ${fit.room.toFixed(0)} px`);
			await page.fill(".query-input", "knee");
			await page.click(".action-search");
			await page.waitForSelector(".ranked.matches .ranked-item", { timeout: 10000 });
			const top = await page.$$eval(".ranked.matches .ranked-item", (els) => els.slice(0, 10).map((e) => Number(e.dataset.index)));
			const knee = model.clusters.findIndex((c) => c[1] === "knee");
			assert(top.every((i) => model.cluster[i] === knee), `top clusters ${top.map((i) => model.cluster[i])}`);
		});

		await check(t("Failed tab: only failures, sortable by reason; Skipped tab: only skips, nothing to retry"), async () => {
			await page.click('button[data-tab="failures"]');
			await page.waitForSelector(".vlist.failed .vrow[data-entry] .error-text");
			assert((await page.getAttribute(".vlist.failed", "aria-rowcount")) === "30", "failed rows");
			assert((await page.textContent(".action-retry")).trim() === "Retry 30 failed images", `retry "${await page.textContent(".action-retry")}"`);
			const stages = await page.$$eval(".vlist.failed .vrow[data-entry]:not([hidden]) .cell.status", (els) => els.map((e) => e.textContent));
			assert(stages.length > 0 && !stages.includes("skipped"), `stages ${[...new Set(stages)]}`);
			await page.click('.failed-view .header [data-key="error"]');
			await page.waitForTimeout(100);
			const byReason = await page.$$eval(".vlist.failed .vrow[data-entry]:not([hidden])", (els) => els.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((e) => e.querySelector(".error-text").textContent));
			assert(byReason[0].startsWith("HTTP 400") && byReason.every((r, i) => i === 0 || byReason[i - 1].localeCompare(r) <= 0), `order ${[...new Set(byReason)]}`);
			await page.click('.failed-view .header [data-key="path"]');
			await page.click('button[data-tab="skipped"]');
			assert((await page.getAttribute(".vlist.skipped", "aria-rowcount")) === "10", "skipped rows");
			const skippedReasons = await page.$$eval(".vlist.skipped .vrow[data-entry]:not([hidden]) .error-text", (els) => els.map((e) => e.textContent));
			assert(skippedReasons.length > 0 && skippedReasons.every((r) => r.startsWith("no image")), "skipped reasons");
			assert((await page.$$(".skipped-view .action-retry")).length === 0, "the Skipped tab offers a retry");
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-skipped-dark.png") });
		});

		await check(t("Copy Path confirms"), async () => {
			await page.click(".action-copy-jsonl");
			await page.waitForSelector(".notice-bar:not([hidden])", { timeout: 3000 });
			const text = await page.textContent(".notice-bar");
			assert(text === "Copied /home/user/scans/.medimageinsight/run-2026-11-25/embeddings.jsonl", `notice "${text}"`);
			if (theme === "light") await page.screenshot({ path: join(shots, "webview-copied-light.png") });
			return text;
		});

		await check(t("failures tab lists reasons; Retry Failed, Export and Reveal reach the host"), async () => {
			await page.click('button[data-tab="failures"]');
			await page.waitForSelector(".failures .vrow[data-entry] .error-text");
			const reasons = await page.$$eval(".failures .vrow[data-entry]:not([hidden]) .error-text", (els) => els.map((e) => e.textContent));
			assert(reasons.some((r) => r.includes("JPEG 2000")), "no decode reason shown");
			if (theme === "dark") await page.screenshot({ path: join(shots, "webview-failures-dark.png") });
			await page.click(".action-retry");
			await page.click(".action-export");
			await page.click(".action-reveal");
			await page.click(".action-copy-npy");
			await page.waitForTimeout(100);
			const actions = await page.evaluate(() => window.__harness.actions.map((a) => a.type + (a.which ? `:${a.which}` : "")));
			assert(actions.join() === "copyPath:jsonl,retryFailed,export,reveal,copyPath:npy", `actions ${actions}`);
		});

		await check(t("view state survives a reload (tab, filter, selection, scroll)"), async () => {
			await page.click('button[data-tab="images"]');
			await page.fill(".input.filter", "study7/");
			await page.waitForTimeout(200);
			await page.click(`${rowsSel} >> nth=1`);
			const selected = await page.textContent(".detail-path");
			await page.waitForTimeout(300);
			await page.reload();
			await page.waitForSelector(".neighbours .neighbour", { timeout: 15000 });
			assert((await page.inputValue(".input.filter")) === "study7/", "filter lost");
			assert((await page.textContent(".detail-path")) === selected, "selection lost");
			assert((await page.getAttribute('button[data-tab="images"]', "aria-selected")) === "true", "tab lost");
			await page.fill(".input.filter", "");
			await page.waitForTimeout(200);
			await page.$eval(".vlist.images", (e) => (e.scrollTop = 3000));
			await page.waitForFunction(() => window.__harness.state?.scrollTop === 3000, undefined, { timeout: 5000 });
			await page.reload();
			await page.waitForSelector(".neighbours .neighbour", { timeout: 15000 });
			await page.waitForFunction(() => Math.abs(document.querySelector(".vlist.images").scrollTop - 3000) < 2, undefined, { timeout: 5000 });
			await page.$eval(".vlist.images", (e) => (e.scrollTop = 0));
		});
		if (theme === "light") await page.screenshot({ path: join(shots, "webview-table-light.png") });

		await check(t("theme colours come from the --vscode-* variables"), async () => {
			const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
			assert(bg === (theme === "dark" ? "rgb(30, 30, 30)" : "rgb(255, 255, 255)"), `body background ${bg}`);
		});

		await check(t("no CSP violations, no dialogs, no page errors"), async () => {
			const v = await page.evaluate(() => window.__harness.cspViolations);
			const errs = await page.evaluate(() => window.__harness.errors);
			assert(v.length === 0, `CSP violations: ${v.join("; ")}`);
			assert(dialogs.length === 0, `dialogs: ${dialogs.join("; ")}`);
			assert(pageErrors.length === 0 && errs.length === 0, `errors: ${[...pageErrors, ...errs].join("; ")}`);
		});
		await context.close();
	}
	{
		// A run where nothing was embedded (only failures): the view must still work.
		const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
		const page = await context.newPage();
		const pageErrors = [];
		page.on("pageerror", (e) => pageErrors.push(e.message));
		await page.goto(`${origin}/?theme=dark&n=0`);
		await check("[empty run] only failures: table, map and outliers work without errors", async () => {
			await page.waitForFunction(() => document.querySelector(".images-view .count")?.textContent === "40 of 40 images", undefined, { timeout: 10000 });
			assert((await page.textContent(".stat.embedded .stat-value")) === "0", "embedded count");
			await page.click('button[data-tab="map"]');
			await page.waitForFunction(() => document.querySelector(".map-view .caption")?.textContent?.includes("%"), undefined, { timeout: 10000 });
			await page.click('button[data-tab="outliers"]');
			await page.click(".action-outliers");
			await page.waitForTimeout(300);
			const errs = await page.evaluate(() => [...window.__harness.errors, ...window.__harness.cspViolations]);
			assert(pageErrors.length === 0 && errs.length === 0, `errors: ${[...pageErrors, ...errs].join("; ")}`);
		});
		await context.close();
	}
	{
		// A run where nothing failed; a few files had no image and were skipped.
		const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
		const page = await context.newPage();
		await page.goto(`${origin}/?theme=dark&n=200&nofail=1`);
		await check("[only skipped] no Failures count or warning for files that were only skipped; no Retry", async () => {
			await page.waitForFunction(() => document.querySelector(".images-view .count")?.textContent === "210 of 210 images", undefined, { timeout: 10000 });
			assert((await page.textContent('button[data-tab="failures"]')).trim() === "Failed", `failed tab "${await page.textContent('button[data-tab="failures"]')}"`);
			assert((await page.$$("button.tab.has-failures, button.tab .codicon-warning")).length === 0, "a tab warns");
			assert((await page.textContent('button[data-tab="skipped"]')).trim() === "Skipped (10)", "skipped tab");
			assert((await page.textContent(".stat.failed .stat-value")) === "0", "failed count");
			await page.click('button[data-tab="failures"]');
			assert(!(await page.isVisible(".action-retry")), "Retry is offered although nothing failed");
			assert((await page.textContent(".failed-view .empty")) === "Nothing failed.", "no empty message");
			await page.screenshot({ path: join(shots, "webview-nofailures-dark.png") });
		});
		await context.close();
	}
	if (real) {
		const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, deviceScaleFactor: 1 });
		const page = await context.newPage();
		const pageErrors = [];
		page.on("pageerror", (e) => pageErrors.push(e.message));
		page.on("console", (m) => {
			if (m.type() === "error") pageErrors.push(m.text());
		});
		const t = (name) => `[real data] ${name}`;
		const n = real.model.rows.length;
		const f = real.model.failures.length;
		await page.goto(`${origin}/?theme=dark&real=1`);
		await check(t("every image and failure of the real run is in the table"), async () => {
			await page.waitForFunction((total) => document.querySelector(".images-view .count")?.textContent === `${total} of ${total} images`, n + f, { timeout: 15000 });
			return `${n} embedded + ${f} failed/skipped`;
		});
		await check(t("thumbnails load from the output folder (placeholders where the run kept none)"), async () => {
			const expected = real.model.rows.filter((r) => r.thumbnail).length;
			if (expected === 0) {
				// The CLI keeps no thumbnails (the extension does): every image row shows the placeholder.
				const rows = await page.$$eval(".images .vrow[data-entry]:not([hidden]):has(.status.ok)", (els) => els.map((r) => [r.querySelector("img.thumb") !== null, r.querySelector(".thumb-missing") !== null]));
				assert(rows.length > 0 && rows.every(([img, missing]) => !img && missing), "rows without thumbnails must show the placeholder");
				return `no thumbnails in this run: ${rows.length} placeholders`;
			}
			await page.waitForFunction(() => [...document.querySelectorAll(".images img.thumb")].some((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10000 });
			const loaded = await page.$$eval(".images img.thumb", (imgs) => imgs.filter((i) => i.complete && i.naturalWidth > 0).length);
			return `${loaded} visible thumbnails loaded (${expected} in the run)`;
		});
		await check(t("selecting a real image lists its neighbours; failures show their reasons"), async () => {
			await page.click(`.images .vrow[data-entry]:not([hidden]):has(.status.ok) >> nth=0`);
			await page.waitForSelector(".neighbours .neighbour", { timeout: 5000 });
			const k = await page.$$eval(".neighbours .neighbour", (e) => e.length);
			assert(k === Math.min(8, n - 1), `${k} neighbours`);
			await page.screenshot({ path: join(shots, "webview-real-dark.png") });
			if (f > 0) {
				// Failures and skips are on two tabs (Failed, Skipped); together they list every file of failures.jsonl with its reason.
				await page.click('button[data-tab="failures"]');
				const failedReasons = await page.$$eval(".failures.failed .vrow[data-entry]:not([hidden]) .error-text", (els) => els.map((e) => e.textContent));
				await page.click('button[data-tab="skipped"]');
				const skippedReasons = await page.$$eval(".failures.skipped .vrow[data-entry]:not([hidden]) .error-text", (els) => els.map((e) => e.textContent));
				const reasons = [...failedReasons, ...skippedReasons];
				assert(reasons.length === f && reasons.every((r) => r.length > 0), `${failedReasons.length} failed + ${skippedReasons.length} skipped rows with reasons, expected ${f}`);
				const expected = new Set(real.model.failures.map((x) => x.error));
				assert(reasons.every((r) => expected.has(r)), "a reason differs from failures.jsonl");
			}
		});
		await check(t("map of the real run renders; no CSP violations or errors"), async () => {
			await page.click('button[data-tab="map"]');
			await page.waitForFunction(() => document.querySelector(".map-view .caption")?.textContent?.includes("%"), undefined, { timeout: 20000 });
			await page.waitForTimeout(200);
			const painted = await page.$eval(".map-canvas", (c) => {
				const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
				let count = 0;
				for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 40) count++;
				return count;
			});
			assert(painted > 4 * Math.min(n, 50), `${painted} painted pixels`);
			await page.screenshot({ path: join(shots, "webview-real-map-dark.png") });
			const v = await page.evaluate(() => window.__harness.cspViolations);
			assert(v.length === 0, `CSP violations: ${v.join("; ")}`);
			assert(pageErrors.length === 0, `errors: ${pageErrors.join("; ")}`);
		});
		await check(t("a re-run against a wrong endpoint stops with the reason; the open view refreshes, tells the same story as run.json, keeps the earlier embeddings and the view state"), async () => {
			await page.click('button[data-tab="images"]');
			await page.fill(".input.filter", "pydicom");
			await page.waitForTimeout(250);
			await page.click(`.images .vrow[data-entry]:not([hidden]):has(.status.ok) >> nth=1`);
			const selected = await page.textContent(".detail-path");
			const failedBefore = await page.textContent(".stat.failed .stat-value");
			const skippedBefore = await page.textContent(".stat.skipped .stat-value");
			// The same folder, again, against a loopback port where nothing listens (the resume key holds the endpoint, so every
			// image would be sent again): the client sees "connection refused" and the run stops with that reason instead of
			// recording a failure per image.
			const dead = await new Promise((r) => {
				const s = createServer();
				s.listen(0, "127.0.0.1", () => {
					const p = s.address().port;
					s.close(() => r(p));
				});
			});
			const deadUrl = `http://127.0.0.1:${dead}/score`;
			const env = { ...process.env, MEDIMAGEINSIGHT_API_KEY: `webview-test-${randomBytes(6).toString("hex")}` };
			const rerun = spawnSync(process.execPath, ["dist/cli.js", "embed", sharedDicom, "--endpoint", deadUrl, "--out", real.dir, "--workers", "1", "--retries", "1", "--rate", "1000/1"], { env, encoding: "utf8", timeout: 240000 });
			assert(rerun.status === 2, `the re-run exited with ${rerun.status}: ${(rerun.stderr ?? "").slice(-300)}`);
			const runJson = JSON.parse(readFileSync(join(real.dir, "run.json"), "utf8"));
			assert(runJson.fatal?.code === "unreachable" && runJson.fatal.message.includes(deadUrl) && runJson.fatal.message.includes("connection refused"), `run.json fatal ${JSON.stringify(runJson.fatal)}`);
			assert(runJson.counts.embedded === 0 && runJson.counts.failed === 0, `run.json counts ${JSON.stringify(runJson.counts)}`);
			const embeddedPaths = new Set(readFileSync(join(real.dir, "embeddings.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l.slice(0, l.indexOf(',"embedding"')) + "}").path));
			assert(embeddedPaths.size === n, `the folder holds ${embeddedPaths.size} embeddings, expected the earlier ${n}`);
			const model2 = await readResults(real.dir);
			const data = { ...model2, vectors: Buffer.from(model2.vectors.buffer, model2.vectors.byteOffset, model2.vectors.byteLength).toString("base64") };
			real.script = `window.__realModel = ${JSON.stringify(data).replace(/</g, "\\u003c")};`;
			await page.evaluate(() => window.__harness.refreshFrom("/real/model.js?v=2"));
			await page.waitForFunction((m) => document.querySelector(".last-run-text")?.textContent.includes(m), runJson.fatal.message, { timeout: 15000 });
			const last = await page.textContent(".last-run-text");
			assert(last.includes("0 embedded now") && last.includes(`stopped: ${runJson.fatal.message}`) && !last.includes("failed"), `last run "${last}"`);
			assert((await page.textContent(".stat.embedded .stat-value")) === String(n), "embedded total of the folder");
			assert((await page.textContent(".stat.failed .stat-value")) === failedBefore, "the stopped run changed the failed total");
			assert((await page.textContent(".stat.skipped .stat-value")) === skippedBefore, "the stopped run changed the skipped total");
			assert((await page.$(".stats-note")) === null, "a note on earlier embeddings although nothing failed");
			// the view state survived the refresh
			const shown = await page.textContent(".images-view .count");
			assert(shown.endsWith(`of ${n + f} images`), `the table counts "${shown}", expected one row per file (${n + f})`);
			assert((await page.inputValue(".input.filter")) === "pydicom", "filter lost");
			assert((await page.getAttribute('button[data-tab="images"]', "aria-selected")) === "true", "tab lost");
			await page.waitForFunction((p) => document.querySelector(".detail-path")?.textContent === p, selected, { timeout: 5000 });
			await page.screenshot({ path: join(shots, "webview-real-rerun-dark.png") });
			assert(pageErrors.length === 0, `errors: ${pageErrors.join("; ")}`);
			return `${embeddedPaths.size} embedded in the folder; last run: ${last}`;
		});
		await context.close();
		rmSync(real.dir, { recursive: true, force: true });
	}
} finally {
	await browser.close();
	server.close();
}
console.log(`\nScreenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
