// Builds the four bundles (extension, conversion worker, CLI, webview) and copies the WASM codecs
// beside them. `--production` minifies and drops source maps; `--watch` rebuilds on change.
const esbuild = require("esbuild");
const fs = require("node:fs");
const path = require("node:path");

const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

/** The WASM decoders the conversion loads at run time, copied to dist/ (the bundles look for them there). */
const wasmFiles = [
	"@cornerstonejs/codec-charls/dist/charlswasm_decode.wasm",
	"@cornerstonejs/codec-openjpeg/dist/openjpegwasm_decode.wasm",
	"@cornerstonejs/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm_decode.wasm",
	"@cornerstonejs/codec-openjph/dist/openjphjs.wasm",
];

/**
 * The encoders of the DICOM writer behind the demo's sample data: copied beside its own bundle,
 * dist/devtools/samples.js, which the .vsix leaves out (.vscodeignore re-includes dist/*.js only).
 */
const devtoolsWasmFiles = [
	"@cornerstonejs/codec-charls/dist/charlswasm.wasm",
	"@cornerstonejs/codec-openjpeg/dist/openjpegwasm.wasm",
	"@cornerstonejs/codec-libjpeg-turbo-8bit/dist/libjpegturbowasm.wasm",
];

/** Problem matcher output for `--watch` so errors reach VS Code's Problems view. */
const problemMatcher = {
	name: "problem-matcher",
	setup(build) {
		build.onStart(() => console.log("[watch] build started"));
		build.onEnd((result) => {
			for (const { text, location } of result.errors) {
				console.error(`✘ [ERROR] ${text}`);
				if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
			}
			console.log("[watch] build finished");
		});
	},
};

const node = {
	bundle: true,
	platform: "node",
	target: "node20",
	format: "cjs",
	minify: production,
	sourcemap: !production,
	sourcesContent: false,
	logLevel: "warning",
	external: ["vscode"],
	plugins: watch ? [problemMatcher] : [],
};

const builds = [
	{ ...node, entryPoints: ["src/extension/extension.ts"], outfile: "dist/extension.js" },
	{ ...node, entryPoints: ["src/workers/convertWorker.ts"], outfile: "dist/convertWorker.js" },
	{ ...node, entryPoints: ["src/workers/umapWorker.ts"], outfile: "dist/umapWorker.js" },
	{ ...node, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.js", banner: { js: "#!/usr/bin/env node" } },
	{ ...node, entryPoints: ["src/devtools/samples.ts"], outfile: "dist/devtools/samples.js" },
	{
		bundle: true,
		platform: "browser",
		target: "es2022",
		format: "iife",
		minify: production,
		sourcemap: !production,
		sourcesContent: false,
		logLevel: "warning",
		entryPoints: { main: "src/webview/main.ts" },
		outdir: "dist/webview",
		loader: { ".ttf": "file" },
		plugins: watch ? [problemMatcher] : [],
	},
].filter((b) => {
	const entries = Array.isArray(b.entryPoints) ? b.entryPoints : Object.values(b.entryPoints);
	return entries.every((e) => fs.existsSync(e));
});

function copyAssets() {
	fs.mkdirSync("dist/webview", { recursive: true });
	fs.mkdirSync("dist/devtools", { recursive: true });
	const copy = (files, to) => {
		for (const rel of files) {
			// Not require.resolve: these packages do not export their package.json or .wasm paths.
			const from = path.join(__dirname, "node_modules", ...rel.split("/"));
			fs.copyFileSync(from, path.join(to, path.basename(rel)));
		}
	};
	copy(wasmFiles, "dist");
	copy(devtoolsWasmFiles, "dist/devtools");
	const codicons = path.dirname(require.resolve("@vscode/codicons/package.json"));
	for (const f of ["codicon.css", "codicon.ttf"]) {
		const from = path.join(codicons, "dist", f);
		if (fs.existsSync(from)) fs.copyFileSync(from, path.join("dist/webview", f));
	}
	if (fs.existsSync("src/webview/styles.css")) fs.copyFileSync("src/webview/styles.css", "dist/webview/main.css");
}

async function main() {
	copyAssets();
	const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
	if (watch) {
		await Promise.all(contexts.map((c) => c.watch()));
	} else {
		await Promise.all(contexts.map((c) => c.rebuild()));
		await Promise.all(contexts.map((c) => c.dispose()));
		if (fs.existsSync("dist/cli.js")) fs.chmodSync("dist/cli.js", 0o755);
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
