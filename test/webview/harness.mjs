// Browser-side harness for the results webview test (bundled by scripts/test-webview.mjs with esbuild).
// It stands in for the VS Code webview host: a stub acquireVsCodeApi() that records every posted message
// and hands it to the real ResultsSession (the same code the extension host runs), fed with a synthetic
// run of ~3,000 images whose vectors, map, neighbours, outliers and labels are computed by the analysis code.
// Then it loads the real bundle (dist/webview/main.js) with the page's nonce.
/* global window, document, sessionStorage, location, setTimeout, URLSearchParams, atob */
import { ResultsSession } from "../../src/core/analysis/resultsSession";
import { normalize } from "../../src/core/analysis/similarity";
import { defaultStrings } from "../../src/core/protocol/webview";

const h = (window.__harness = { posted: [], actions: [], cspViolations: [], received: [], errors: [] });
document.addEventListener("securitypolicyviolation", (e) => h.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.addEventListener("error", (e) => h.errors.push(String(e.message)));

// Theme variables as VS Code sets them (through the CSSOM: inline style attributes would break the CSP).
const params = new URLSearchParams(location.search);
const theme = params.get("theme") === "light" ? "light" : "dark";
const themes = {
	dark: {
		"--vscode-font-family": "DejaVu Sans, sans-serif",
		"--vscode-font-size": "13px",
		"--vscode-font-weight": "normal",
		"--vscode-editor-font-family": "DejaVu Sans Mono, monospace",
		"--vscode-foreground": "#cccccc",
		"--vscode-descriptionForeground": "#9d9d9d",
		"--vscode-disabledForeground": "#6b6b6b",
		"--vscode-errorForeground": "#f48771",
		"--vscode-editor-background": "#1e1e1e",
		"--vscode-editor-foreground": "#d4d4d4",
		"--vscode-sideBar-background": "#252526",
		"--vscode-panel-border": "#3c3c3c",
		"--vscode-widget-border": "#454545",
		"--vscode-focusBorder": "#007fd4",
		"--vscode-button-background": "#0e639c",
		"--vscode-button-foreground": "#ffffff",
		"--vscode-button-hoverBackground": "#1177bb",
		"--vscode-button-secondaryBackground": "#3a3d41",
		"--vscode-button-secondaryForeground": "#ffffff",
		"--vscode-button-secondaryHoverBackground": "#45494e",
		"--vscode-input-background": "#3c3c3c",
		"--vscode-input-foreground": "#cccccc",
		"--vscode-input-placeholderForeground": "#a6a6a6",
		"--vscode-dropdown-background": "#3c3c3c",
		"--vscode-dropdown-foreground": "#f0f0f0",
		"--vscode-list-hoverBackground": "#2a2d2e",
		"--vscode-list-activeSelectionBackground": "#04395e",
		"--vscode-list-activeSelectionForeground": "#ffffff",
		"--vscode-badge-background": "#4d4d4d",
		"--vscode-badge-foreground": "#ffffff",
		"--vscode-statusBarItem-warningBackground": "#7a6400",
		"--vscode-statusBarItem-warningForeground": "#ffffff",
		"--vscode-textLink-foreground": "#3794ff",
		"--vscode-editorHoverWidget-background": "#252526",
		"--vscode-editorHoverWidget-border": "#454545",
		"--vscode-widget-shadow": "rgba(0,0,0,0.36)",
		"--vscode-inputValidation-errorBackground": "#5a1d1d",
		"--vscode-inputValidation-errorBorder": "#be1100",
		"--vscode-charts-blue": "#3794ff",
		"--vscode-charts-orange": "#d18616",
		"--vscode-charts-green": "#89d185",
		"--vscode-charts-red": "#f14c4c",
		"--vscode-charts-purple": "#b180d7",
		"--vscode-charts-yellow": "#cca700",
		"--vscode-terminal-ansiCyan": "#11a8cd",
		"--vscode-terminal-ansiMagenta": "#bc3fbc",
		"--vscode-terminal-ansiBrightBlue": "#3b8eea",
		"--vscode-terminal-ansiBrightGreen": "#23d18b",
		"--vscode-terminal-ansiBrightRed": "#f14c4c",
		"--vscode-terminal-ansiBrightYellow": "#f5f543",
		"--vscode-testing-iconPassed": "#73c991",
		"--vscode-progressBar-background": "#0e70c0",
	},
	light: {
		"--vscode-font-family": "DejaVu Sans, sans-serif",
		"--vscode-font-size": "13px",
		"--vscode-font-weight": "normal",
		"--vscode-editor-font-family": "DejaVu Sans Mono, monospace",
		"--vscode-foreground": "#616161",
		"--vscode-descriptionForeground": "#717171",
		"--vscode-disabledForeground": "#a0a0a0",
		"--vscode-errorForeground": "#a1260d",
		"--vscode-editor-background": "#ffffff",
		"--vscode-editor-foreground": "#000000",
		"--vscode-sideBar-background": "#f3f3f3",
		"--vscode-panel-border": "#e5e5e5",
		"--vscode-widget-border": "#d4d4d4",
		"--vscode-focusBorder": "#0090f1",
		"--vscode-button-background": "#007acc",
		"--vscode-button-foreground": "#ffffff",
		"--vscode-button-hoverBackground": "#0062a3",
		"--vscode-button-secondaryBackground": "#5f6a79",
		"--vscode-button-secondaryForeground": "#ffffff",
		"--vscode-button-secondaryHoverBackground": "#4c5561",
		"--vscode-input-background": "#ffffff",
		"--vscode-input-foreground": "#616161",
		"--vscode-input-border": "#cecece",
		"--vscode-input-placeholderForeground": "#767676",
		"--vscode-dropdown-background": "#ffffff",
		"--vscode-dropdown-foreground": "#616161",
		"--vscode-dropdown-border": "#cecece",
		"--vscode-list-hoverBackground": "#e8e8e8",
		"--vscode-list-activeSelectionBackground": "#0060c0",
		"--vscode-list-activeSelectionForeground": "#ffffff",
		"--vscode-badge-background": "#c4c4c4",
		"--vscode-badge-foreground": "#333333",
		"--vscode-statusBarItem-warningBackground": "#c69b00",
		"--vscode-statusBarItem-warningForeground": "#000000",
		"--vscode-textLink-foreground": "#006ab1",
		"--vscode-editorHoverWidget-background": "#f3f3f3",
		"--vscode-editorHoverWidget-border": "#c8c8c8",
		"--vscode-widget-shadow": "rgba(0,0,0,0.16)",
		"--vscode-inputValidation-errorBackground": "#f2dede",
		"--vscode-inputValidation-errorBorder": "#be1100",
		"--vscode-charts-blue": "#1a85ff",
		"--vscode-charts-orange": "#d18616",
		"--vscode-charts-green": "#388a34",
		"--vscode-charts-red": "#e51400",
		"--vscode-charts-purple": "#652d90",
		"--vscode-charts-yellow": "#bf8803",
		"--vscode-terminal-ansiCyan": "#0598bc",
		"--vscode-terminal-ansiMagenta": "#bc05bc",
		"--vscode-terminal-ansiBrightBlue": "#0451a5",
		"--vscode-terminal-ansiBrightGreen": "#14ce14",
		"--vscode-terminal-ansiBrightRed": "#cd3131",
		"--vscode-terminal-ansiBrightYellow": "#b5ba00",
		"--vscode-testing-iconPassed": "#388a34",
		"--vscode-progressBar-background": "#0e70c0",
	},
};
for (const [k, v] of Object.entries(themes[theme])) document.documentElement.style.setProperty(k, v);
document.body.classList.add(theme === "light" ? "vscode-light" : "vscode-dark");

// --- A synthetic run: clusters of (modality, anatomy) with real vectors -------------------------------
const dim = 256;
let seed = 12345;
const rand = () => {
	seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
	return seed / 4294967296 - 0.5;
};
const clusters = [
	["CT", "chest", "CT CHEST W/O CONTRAST"],
	["CT", "abdomen", "CT ABDOMEN PELVIS WITH CONTRAST"],
	["MR", "brain", "MR BRAIN T2 FLAIR"],
	["MR", "knee", "MR KNEE PD FS"],
	["CR", "chest", "XR CHEST PA"],
	["DX", "hand", "XR HAND 3 VIEWS"],
	["US", "abdomen", "US ABDOMEN COMPLETE"],
	["MG", "breast", "MAMMO SCREENING BILATERAL"],
	["PT", "wholebody", "PET CT WHOLE BODY FDG"],
	["NM", "bone", "NM BONE SCAN"],
];
const centres = clusters.map(() => Array.from({ length: dim }, rand));
const keyword = clusters.map(([m, a]) => [m.toLowerCase(), a]);

/** Draws a small thumbnail per cluster (PNG data: URL, allowed by img-src data:). */
function makeThumb(c) {
	const canvas = document.createElement("canvas");
	canvas.width = canvas.height = 48;
	const ctx = canvas.getContext("2d");
	ctx.fillStyle = "#000";
	ctx.fillRect(0, 0, 48, 48);
	const g = ctx.createRadialGradient(24, 24, 2, 24, 24, 22);
	g.addColorStop(0, `hsl(0,0%,${85 - c * 4}%)`);
	g.addColorStop(1, "#111");
	ctx.fillStyle = g;
	if (c % 3 === 0) ctx.fillRect(6, 6, 36, 36);
	else {
		ctx.beginPath();
		ctx.ellipse(24, 24, 20 - (c % 4) * 3, 14 + (c % 5) * 2, (c * Math.PI) / 7, 0, Math.PI * 2);
		ctx.fill();
	}
	ctx.fillStyle = "#fff";
	ctx.font = "9px sans-serif";
	ctx.fillText(clusters[c][0], 3, 45);
	return canvas.toDataURL("image/png");
}
const thumbs = clusters.map((_, c) => makeThumb(c));

const n = Number(params.get("n") ?? 3000);
const rows = [];
const vectors = new Float32Array(n * dim);
const cluster = new Int32Array(n);
const hostile = "<img src=x onerror=alert(1)>";
for (let i = 0; i < n; i++) {
	// A series is ten consecutive images of one kind (one modality and body part), as in real studies.
	const c = Math.floor(i / 10) % clusters.length;
	cluster[i] = c;
	const patient = Math.floor(i / 60);
	const study = Math.floor(i / 30);
	const series = Math.floor(i / 10);
	const planted = i >= n - 5; // five outliers in random directions
	const row = vectors.subarray(i * dim, (i + 1) * dim);
	for (let d = 0; d < dim; d++) row[d] = planted ? rand() : centres[c][d] + 0.35 * rand();
	normalize(row);
	// Images 4 and 8 (same series) are the very same picture as image 0 (one spot on the map, three images).
	if (i === 4 || i === 8) row.set(vectors.subarray(0, dim));
	rows.push({
		path: `patient${String(patient).padStart(3, "0")}/study${study}/series${series}/IM${String(i).padStart(5, "0")}.dcm`,
		sha256: `sha${i}`,
		key: `key${i}`,
		sopInstanceUid: `1.2.826.0.1.3680043.8.498.${i}`,
		seriesInstanceUid: `1.2.826.0.1.3680043.8.498.1.${series}`,
		studyInstanceUid: `1.2.826.0.1.3680043.8.498.2.${study}`,
		modality: clusters[c][0],
		seriesDescription: i % 997 === 5 ? hostile : clusters[c][2],
		studyDescription: `${clusters[c][1].toUpperCase()} STUDY ${study}`,
		thumbnail: `thumbnails/${c}.png`,
		time: "2026-11-25T10:00:00Z",
	});
}
const failures = [];
// ?nofail=1: a run where nothing failed, only files without an image were skipped.
for (let j = 0; j < 40; j++) {
	if (params.get("nofail") && j % 4 !== 0) continue;
	failures.push(
		j % 4 === 0
			? { path: `reports/SR${j}.dcm`, stage: "skipped", error: "no image: Basic Text SR (1.2.840.10008.5.1.4.1.1.88.11)", time: "" }
			: { path: `broken/file${j}.dcm`, stage: j % 4 === 1 ? "decode" : "embed", error: j % 4 === 1 ? "JPEG 2000 codestream truncated at byte 18231" : "HTTP 400 from the endpoint: image too small", time: "" },
	);
}
const model = {
	outDir: "/home/user/scans/.medimageinsight/run-2026-11-25",
	rows,
	dim,
	vectors,
	failures,
	problems: [],
	scalingFactor: 4.6,
	run: {
		simulated: true,
		endpointUrl: "http://127.0.0.1:5123/score",
		settings: [
			["endpoint.batchSize", "10"],
			["endpoint.maxConcurrentRequests", "3"],
			["endpoint.rateLimit.calls", "60"],
			["convert.thumbnailSize", "64"],
		],
		counts: params.get("nofail") ? { found: n + 15, ignored: 5, embedded: n, alreadyDone: 0, failed: 0, skipped: 10 } : { found: n + 45, ignored: 5, embedded: n - 224, alreadyDone: 224, failed: 30, skipped: 10 },
		elapsedMs: 251000,
		imagesPerSecond: n / 251,
		cancelled: false,
	},
};
h.model = { paths: rows.map((r) => r.path), modality: rows.map((r) => r.modality), series: rows.map((r) => r.seriesDescription), cluster: Array.from(cluster), clusters, dim };
h.vectors = vectors;

/** A text "encoder" for the test: a label that names a cluster's modality and anatomy points at its centre. */
function embedText(text, width = dim) {
	const t = text.toLowerCase();
	const v = new Float32Array(width);
	if (width !== dim) {
		for (let d = 0; d < width; d++) v[d] = rand();
		return normalize(v);
	}
	let hit = false;
	keyword.forEach(([m, a], c) => {
		const score = (t.includes(a) ? 1 : 0) + (t.includes(m) || (m === "cr" && t.includes("x-ray")) ? 0.5 : 0);
		if (score > 0) {
			hit = true;
			for (let d = 0; d < dim; d++) v[d] += score * centres[c][d];
		}
	});
	if (!hit) for (let d = 0; d < dim; d++) v[d] = rand();
	return normalize(v);
}

/** The host side for `model`: the real ResultsSession, as the panel (src/extension/webview/resultsPanel.ts) makes it. */
function makeSession(model, thumbnailUri) {
	return new ResultsSession(model, {
		post: (m) => {
			h.received.push(m.type);
			if (m.type === "map") h.mapCoords = Array.from(new Float32Array(m.coords));
			if (m.type === "seriesMap") h.seriesMapCoords = Array.from(new Float32Array(m.coords));
			window.postMessage(m, "*");
		},
		strings: defaultStrings,
		logger: { trace() {}, debug() {}, info() {}, warn: (m) => h.errors.push(`warn: ${m}`), error: (m) => h.errors.push(`error: ${m}`) },
		thumbnailUri,
		embedTexts: async (texts, signal) => {
			await new Promise((r) => setTimeout(r, 30));
			signal.throwIfAborted();
			return { embeddings: texts.map((t) => embedText(t, model.dim)), scalingFactor: 4.6 };
		},
		onAction: async (a) => {
			h.actions.push(a);
			// The panel copies to the clipboard and answers with a confirmation.
			if (a.type === "copyPath") return `Copied ${model.outDir}/${a.which === "npy" ? "embeddings.npy" : a.which === "jsonl" ? "embeddings.jsonl" : ""}`;
		},
		hasNpy: true,
	});
}

/** Starts the host side (the real ResultsSession) for `model`, then the real front end. */
function boot(model, thumbnailUri) {
	const session = makeSession(model, thumbnailUri);
	session.start();
	h.session = session;
	/** What ResultsPanel.refreshIfOpen does once it has re-read the folder: a new session, the old one's requests carried over, the page (already loaded) gets the data at once. */
	h.refresh = (next) => {
		const fresh = makeSession(next, thumbnailUri);
		fresh.carryOver(h.session.requests());
		h.session.dispose();
		h.session = fresh;
		fresh.start();
		fresh.receive({ type: "ready" });
	};

	const stateKey = `webview-state-${theme}-${params.get("real") ? "real" : "synthetic"}`;
	window.acquireVsCodeApi = () => ({
		postMessage: (m) => {
			h.posted.push(m);
			h.session.receive(JSON.parse(JSON.stringify(m)));
		},
		getState: () => JSON.parse(sessionStorage.getItem(stateKey) ?? "null") ?? undefined,
		setState: (s) => {
			sessionStorage.setItem(stateKey, JSON.stringify(s));
			h.state = s;
		},
	});

	// Now the real front end, with this page's nonce.
	const script = document.createElement("script");
	script.nonce = nonce;
	script.src = "/webview/main.js";
	document.body.appendChild(script);
}

/** Loads a model the test script read with the real reader (served as a script). */
function loadModel(src) {
	return new Promise((resolve, reject) => {
		const data = document.createElement("script");
		data.nonce = nonce;
		data.src = src;
		data.onload = () => {
			const m = window.__realModel;
			const bytes = Uint8Array.from(atob(m.vectors), (c) => c.charCodeAt(0));
			resolve({ ...m, vectors: new Float32Array(bytes.buffer) });
		};
		data.onerror = () => reject(new Error(`could not load ${src}`));
		document.body.appendChild(data);
	});
}
/** Re-reads: the test script serves the folder's new state as /real/model.js?v=N. */
h.refreshFrom = async (src) => h.refresh(await loadModel(src));

const nonce = document.currentScript?.nonce ?? "";
if (params.get("real")) {
	// A real run's output folder, read by the real reader in the test script and served as /real/model.js.
	void loadModel("/real/model.js").then((real) => {
		h.model = { paths: real.rows.map((r) => r.path), modality: real.rows.map((r) => r.modality), dim: real.dim, failures: real.failures.length };
		h.vectors = real.vectors;
		boot(real, (rel) => `/real/out/${rel.split("/").map(encodeURIComponent).join("/")}`);
	});
} else {
	boot(model, (rel) => thumbs[Number(/thumbnails\/(\d+)\.png/.exec(rel)?.[1] ?? -1)]);
}
