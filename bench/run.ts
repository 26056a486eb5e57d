/**
 * `npm run bench`: runs every bench/*.bench.ts (compiled to out/bench) and prints its tables.
 * `npm run bench -- convert client` runs only the benches whose file name contains one of the words.
 * Benchmarks measure; they never fail a build. Figures go to docs/benchmarks.md.
 */
import { readdirSync } from "node:fs";
import * as path from "node:path";
import * as os from "node:os";

interface Table {
	title: string;
	columns: string[];
	rows: (string | number)[][];
}

function format(v: string | number): string {
	if (typeof v === "string") return v;
	if (Number.isInteger(v)) return String(v);
	return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function printTable(t: Table): void {
	const cells = [t.columns, ...t.rows.map((r) => r.map(format))];
	const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
	const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ") + " |";
	console.log(`\n### ${t.title}\n`);
	console.log(line(t.columns));
	console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
	for (const r of cells.slice(1)) console.log(line(r));
}

async function main(): Promise<void> {
	const filter = process.argv.slice(2);
	const dir = __dirname;
	const files = readdirSync(dir)
		.filter((f) => f.endsWith(".bench.js"))
		.filter((f) => filter.length === 0 || filter.some((w) => f.includes(w)))
		.sort();
	console.log(`Benchmarks on ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, node ${process.version}`);
	for (const f of files) {
		const mod = (await import(path.join(dir, f))) as { run(): Promise<Table[]> };
		const started = Date.now();
		try {
			for (const t of await mod.run()) printTable(t);
		} catch (e) {
			console.log(`\n${f}: failed: ${e instanceof Error ? e.stack : String(e)}`);
			process.exitCode = 1;
		}
		console.log(`\n(${f}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
	}
}

void main();
