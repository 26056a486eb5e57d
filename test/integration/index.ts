/**
 * Entry point of the in-host suite (VS Code's extensionTestsPath): runs every
 * out/test/integration/*.test.js with mocha inside the real extension host. Results go to the
 * console (code-server forwards it to the page's codeAutomationLog) and, when
 * MII_TEST_RESULTS names a file, as JSON to that file; the last console line is "N passed, N failed".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Mocha from "mocha";

export async function run(): Promise<void> {
	const mocha = new Mocha({ ui: "bdd", timeout: 120_000, color: false, reporter: Mocha.reporters.Base });
	const grep = process.env["MII_TEST_GREP"];
	if (grep) mocha.grep(grep);
	for (const f of fs.readdirSync(__dirname).filter((n) => n.endsWith(".test.js")).sort()) mocha.addFile(path.join(__dirname, f));
	const results: { title: string; state: string; error?: string; ms?: number }[] = [];
	const out = process.env["MII_TEST_RESULTS"];
	const save = (): void => {
		if (out) fs.writeFileSync(out, JSON.stringify(results, null, "\t"));
	};
	await new Promise<void>((resolve, reject) => {
		const runner = mocha.run((failures) => {
			const passed = results.filter((r) => r.state === "passed").length;
			const skipped = results.filter((r) => r.state === "skipped").length;
			console.log(`in-host: ${passed} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ""}`);
			results.push({ title: "(done)", state: "done" });
			save();
			if (failures > 0) reject(new Error(`${failures} in-host tests failed`));
			else resolve();
		});
		runner.on("pass", (t) => {
			console.log(`  ✔ ${t.fullTitle()} (${t.duration ?? 0} ms)`);
			results.push({ title: t.fullTitle(), state: "passed", ms: t.duration ?? 0 });
			save();
		});
		runner.on("fail", (t, err: Error) => {
			console.log(`  ✖ ${t.fullTitle()}\n      ${(err.stack ?? err.message).split("\n").slice(0, 6).join("\n      ")}`);
			results.push({ title: t.fullTitle(), state: "failed", error: err.message });
			save();
		});
		runner.on("pending", (t) => {
			console.log(`  - SKIPPED ${t.fullTitle()}`);
			results.push({ title: t.fullTitle(), state: "skipped" });
			save();
		});
	});
}
