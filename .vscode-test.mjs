// The in-host suite (test/integration) under @vscode/test-electron, for machines that can download
// VS Code (contributors' desktops, public CI): `npm run test:electron` runs `node .vscode-test.mjs`.
// It runs the same compiled suite (out/test/integration/index.js) that scripts/test-vscode.mjs runs
// in code-server, on the same fixture workspace, against the minimum supported VS Code and stable.
// The default export is the equivalent @vscode/test-cli configuration, for those who use `vscode-test`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fillFixtureWorkspace } from "./scripts/lib/vscodeFixture.mjs";

const root = resolve(import.meta.dirname);
const minimumVersion = "1.100.0";

export default [
	{
		label: "integration",
		files: "out/test/integration/**/*.test.js",
		version: minimumVersion,
		mocha: { ui: "bdd", timeout: 120_000 },
		launchArgs: ["--disable-extensions", "--disable-workspace-trust"],
	},
];

async function main() {
	const { runTests } = await import("@vscode/test-electron");
	const versions = process.env.VSCODE_TEST_VERSION ? [process.env.VSCODE_TEST_VERSION] : [minimumVersion, "stable"];
	let failed = 0;
	for (const version of versions) {
		const ws = mkdtempSync(join(tmpdir(), "mii-electron-ws-"));
		fillFixtureWorkspace(ws);
		try {
			console.log(`\n=== in-host suite on VS Code ${version}`);
			await runTests({
				version,
				extensionDevelopmentPath: root,
				extensionTestsPath: join(root, "out", "test", "integration", "index.js"),
				launchArgs: [ws, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes"],
			});
		} catch (e) {
			failed++;
			console.error(`VS Code ${version}: ${e instanceof Error ? e.message : String(e)}`);
		} finally {
			rmSync(ws, { recursive: true, force: true });
		}
	}
	process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
