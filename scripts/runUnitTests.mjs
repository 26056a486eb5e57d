// Runs every compiled unit test (out/test/unit/**/*.test.js) with Node's built-in test runner.
// Extra arguments are passed to `node --test` (e.g. --test-name-pattern).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

function walk(dir, out) {
	for (const name of readdirSync(dir)) {
		const p = join(dir, name);
		if (statSync(p).isDirectory()) walk(p, out);
		else if (name.endsWith(".test.js")) out.push(p);
	}
	return out;
}

const root = "out/test/unit";
if (!existsSync(root)) {
	console.error(`${root} does not exist: run "npm run compile-tests" first.`);
	process.exit(2);
}
const filter = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
let files = walk(root, []).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...flags, ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
