// `npm test`: everything CI checks, in order. Type-check, lint, build, unit tests (node --test),
// then each extra suite scripts/test-*.mjs (real VS Code, webview in chromium), which install what
// they need when it is missing. Ends with one line "N passed, N failed" over all suites.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";

let passed = 0;
let failed = 0;
const problems = [];

function run(label, cmd, args, { count } = { count: false }) {
	return new Promise((resolve) => {
		console.log(`\n=== ${label}: ${cmd} ${args.join(" ")}`);
		const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
		let tail = "";
		const onData = (stream) => (chunk) => {
			stream.write(chunk);
			tail = (tail + chunk.toString()).slice(-20000);
		};
		child.stdout.on("data", onData(process.stdout));
		child.stderr.on("data", onData(process.stderr));
		child.on("close", (code) => {
			if (count) {
				// node --test (spec: "ℹ pass 3", tap: "# pass 3") or a plain "N passed, N failed" line.
				const p = [...tail.matchAll(/^(?:ℹ|#) pass (\d+)$/gm)].at(-1);
				const f = [...tail.matchAll(/^(?:ℹ|#) fail (\d+)$/gm)].at(-1);
				const plain = [...tail.matchAll(/^(?:\w+: )?(\d+) passed, (\d+) failed/gm)].at(-1);
				if (p && f) {
					passed += Number(p[1]);
					failed += Number(f[1]);
				} else if (plain) {
					passed += Number(plain[1]);
					failed += Number(plain[2]);
				} else if (code !== 0) {
					failed += 1;
				}
			}
			if (code !== 0) problems.push(`${label} exited with ${code}`);
			resolve(code);
		});
	});
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const steps = [
	["type check", npm, ["run", "--silent", "check-types"]],
	["lint", npm, ["run", "--silent", "lint"]],
	["build", "node", ["esbuild.js"]],
	["compile tests", npm, ["run", "--silent", "compile-tests"]],
];
for (const [label, cmd, args] of steps) {
	if ((await run(label, cmd, args)) !== 0) {
		console.log(`\n${label} failed; tests not run.`);
		console.log(`0 passed, 1 failed`);
		process.exit(1);
	}
}
await run("unit tests", "node", ["scripts/runUnitTests.mjs"], { count: true });
for (const extra of readdirSync("scripts").filter((f) => /^test-.*\.mjs$/.test(f)).sort()) {
	await run(extra.replace(/^test-|\.mjs$/g, ""), "node", [`scripts/${extra}`], { count: true });
}
if (problems.length) console.log(`\nProblems:\n  ${problems.join("\n  ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(problems.length || failed ? 1 : 0);
