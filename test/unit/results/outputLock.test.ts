/**
 * One writer per output folder (issue 9, item 6): real child processes race for one folder's lock,
 * with and without a stale lock left by a dead process; exactly one of them may hold it.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { acquireLock, parseLockOwner, releaseLock } from "../../../src/core/results/outputLock";
import { ResultsStore } from "../../../src/core/results/store";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mii-lock-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

const storeModule = require.resolve("../../../src/core/results/store");

/**
 * A child process that, told "go <folder>", opens the store of that folder and says HELD or BUSY, and
 * told "release", closes it (if it holds it) and says DONE. One child serves every trial.
 */
const childScript = `
const { ResultsStore } = require(${JSON.stringify(storeModule)});
const rl = require("node:readline").createInterface({ input: process.stdin });
let store;
rl.on("line", async (cmd) => {
	if (cmd.startsWith("go ")) {
		try {
			store = await ResultsStore.open(cmd.slice(3), { config: "c" });
			process.stdout.write("HELD\\n");
		} catch (e) {
			process.stdout.write("BUSY " + e.message.split("\\n")[0] + "\\n");
		}
	} else if (cmd === "release") {
		if (store) await store.close();
		store = undefined;
		process.stdout.write("DONE\\n");
	}
});
process.stdout.write("READY\\n");
`;

interface Child {
	proc: ChildProcessWithoutNullStreams;
	next: () => Promise<string>;
}

function startChild(): Child {
	const proc = spawn(process.execPath, ["-e", childScript], { stdio: ["pipe", "pipe", "pipe"] });
	const lines: string[] = [];
	const waiting: ((l: string) => void)[] = [];
	let stderr = "";
	proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
	const rl = createInterface({ input: proc.stdout });
	rl.on("line", (l) => {
		const w = waiting.shift();
		if (w) w(l);
		else lines.push(l);
	});
	proc.on("exit", (code) => {
		for (const w of waiting.splice(0)) w(`EXIT ${code} ${stderr}`);
	});
	const next = () => {
		const l = lines.shift();
		return l !== undefined ? Promise.resolve(l) : new Promise<string>((resolve) => waiting.push(resolve));
	};
	return { proc, next };
}

/** The PID of a process that has exited. */
function deadPid(): number {
	const r = spawnSync(process.execPath, ["-e", ""]);
	assert.ok(r.pid > 0);
	return r.pid;
}

void describe("output folder lock", () => {
	void it("of several processes started at once on one folder exactly one holds it, also when a stale lock is there (many trials)", { timeout: 300_000 }, async () => {
		const trials = 60;
		const children = Array.from({ length: 3 }, () => startChild());
		let takeovers = 0;
		const dead = deadPid();
		try {
			for (const c of children) assert.equal(await c.next(), "READY");
			for (let t = 0; t < trials; t++) {
				const dir = path.join(tmpRoot, `race-${t}`);
				fs.mkdirSync(dir);
				const lockFile = path.join(dir, ".run.lock");
				// Two of every three trials start with a lock left by a process that died (both formats).
				if (t % 3 === 1) fs.writeFileSync(lockFile, `${dead}\n`);
				if (t % 3 === 2) fs.writeFileSync(lockFile, JSON.stringify({ pid: dead, host: os.hostname(), startedAt: new Date().toISOString(), nonce: `n${t}` }) + "\n");
				try {
					for (const c of children) c.proc.stdin.write(`go ${dir}\n`);
					const answers = await Promise.all(children.map((c) => c.next()));
					const held = answers.filter((a) => a === "HELD").length;
					assert.equal(held, 1, `trial ${t}: ${answers.join(" | ")}`);
					for (const a of answers) if (a !== "HELD") assert.match(a, /^BUSY Another run is writing to .* \(held by process \d+, since /, `trial ${t}`);
					if (t % 3 !== 0) takeovers++;
					const holder = children[answers.indexOf("HELD")]!;
					const owner = parseLockOwner(fs.readFileSync(lockFile, "utf8"));
					assert.equal(owner?.pid, holder.proc.pid, "the lock names its holder");
					assert.equal(owner?.host, os.hostname());
				} finally {
					for (const c of children) c.proc.stdin.write("release\n");
					for (const c of children) assert.equal(await c.next(), "DONE");
				}
				assert.deepEqual(
					fs.readdirSync(dir).filter((f) => f.startsWith(".run.lock")),
					[],
					`trial ${t}: lock, temporary and claim files are all gone`,
				);
			}
		} finally {
			for (const c of children) c.proc.kill();
		}
		assert.equal(takeovers, 40);
	});

	void it("writes the whole owner (PID, host, start time) before the lock appears, and keeps a live lock of another host", async () => {
		const dir = path.join(tmpRoot, "owner");
		fs.mkdirSync(dir);
		const lockFile = path.join(dir, ".run.lock");
		await acquireLock(lockFile);
		const owner = parseLockOwner(fs.readFileSync(lockFile, "utf8"));
		assert.equal(owner?.pid, process.pid);
		assert.equal(owner?.host, os.hostname());
		assert.ok(owner?.startedAt && !Number.isNaN(Date.parse(owner.startedAt)));
		await assert.rejects(ResultsStore.open(dir, { config: "c" }), /Another run is writing to .*process \d+/);
		await releaseLock(lockFile);
		assert.equal(fs.existsSync(lockFile), false);

		// A dead PID on another host cannot be checked from here: the lock is kept, the message names the host.
		fs.writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), host: "some-other-host.example", startedAt: "2026-01-01T00:00:00.000Z", nonce: "x" }));
		await assert.rejects(ResultsStore.open(dir, { config: "c" }), /process \d+ on some-other-host\.example, since 2026-01-01/);
		assert.ok(fs.existsSync(lockFile));
	});
});
