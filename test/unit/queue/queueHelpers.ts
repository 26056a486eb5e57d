/**
 * Shared pieces of the queue tests: the built CLI as a child process, a folder of real DICOM files
 * (written by the project's DICOM writer, plus files of ../shared/dicom), JSON-lines reading, the
 * "never more than `calls` in any window" check over the simulator's arrivals, and a scan of every
 * Redis key and value for a secret.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Redis } from "ioredis";
import { writeDicom, newUid } from "../../../src/devtools/dicomWriter";

export const repo = path.join(__dirname, "../../../..");
export const cli = path.join(repo, "dist/cli.js");

export interface Ran {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
}

/** A running CLI process; `done` resolves when it exits (a hang guard kills it after `guardMs`). */
export interface Proc {
	child: ChildProcess;
	done: Promise<Ran>;
	stderr(): string;
}

export function startCli(args: string[], env: Record<string, string> = {}, guardMs = 240_000): Proc {
	const child = spawn(process.execPath, [cli, ...args], {
		cwd: repo,
		env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), ...env },
		stdio: ["ignore", "pipe", "pipe"],
	});
	let stdout = "";
	let stderr = "";
	child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
	child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
	const timer = setTimeout(() => child.kill("SIGKILL"), guardMs);
	const done = new Promise<Ran>((resolve, reject) => {
		child.on("error", reject);
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr });
		});
	});
	return { child, done, stderr: () => stderr };
}

export function runCli(args: string[], env: Record<string, string> = {}, guardMs?: number): Promise<Ran> {
	return startCli(args, env, guardMs).done;
}

/** Stops a worker the way a service manager does (SIGTERM) and waits for it. */
export async function stopWorker(p: Proc): Promise<Ran> {
	if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
	return p.done;
}

export function readJsonl(file: string): Record<string, unknown>[] {
	if (!fs.existsSync(file)) return [];
	return fs
		.readFileSync(file, "utf8")
		.split("\n")
		.filter((l) => l.trim())
		.map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Writes `count` small real DICOM images (64×64, 16-bit, each with its own pixels so each has its
 * own embedding) under `dir` in a few series folders; returns their paths relative to `dir`.
 */
export function writeCorpus(dir: string, count: number, seed = 1): string[] {
	const paths: string[] = [];
	const study = newUid();
	for (let i = 0; i < count; i++) {
		const series = `series-${i % 3}`;
		const pixels = new Uint16Array(64 * 64);
		for (let p = 0; p < pixels.length; p++) pixels[p] = ((p * (i + seed)) % 997) + ((p >> 6) * (i + 3)) % 512;
		const bytes = writeDicom({
			transferSyntax: i % 2 === 0 ? "explicitLE" : "implicitLE",
			rows: 64,
			columns: 64,
			bitsAllocated: 16,
			bitsStored: 12,
			pixels,
			modality: i % 4 === 0 ? "MR" : "CT",
			studyInstanceUid: study,
			seriesInstanceUid: `${study}.${i % 3}`,
			seriesDescription: series,
			instanceNumber: i + 1,
		});
		const rel = `${series}/img-${String(i).padStart(3, "0")}.dcm`;
		fs.mkdirSync(path.join(dir, series), { recursive: true });
		fs.writeFileSync(path.join(dir, rel), bytes);
		paths.push(rel);
	}
	return paths.sort();
}

/** The most arrivals in any window of `periodMs` (sliding; arrivals in ms). */
export function maxInAnyWindow(arrivals: readonly number[], periodMs: number): number {
	const t = [...arrivals].sort((a, b) => a - b);
	let most = 0;
	let j = 0;
	for (let i = 0; i < t.length; i++) {
		while (t[i]! - t[j]! >= periodMs) j++;
		most = Math.max(most, i - j + 1);
	}
	return most;
}

/** Every key of the Redis at `url` whose name or value holds `secret` (strings, hashes, lists, sets, sorted sets, streams). */
export async function redisKeysHolding(url: string, secret: string): Promise<{ scanned: number; holding: string[] }> {
	const redis = new Redis(url, { maxRetriesPerRequest: 1 });
	try {
		const holding: string[] = [];
		let scanned = 0;
		let cursor = "0";
		do {
			const [next, keys] = await redis.scan(cursor, "COUNT", 500);
			cursor = next;
			for (const key of keys) {
				scanned++;
				const type = await redis.type(key);
				let text = key;
				if (type === "string") text += (await redis.getBuffer(key))?.toString("latin1") ?? "";
				else if (type === "hash") text += JSON.stringify(await redis.hgetall(key));
				else if (type === "list") text += JSON.stringify(await redis.lrange(key, 0, -1));
				else if (type === "set") text += JSON.stringify(await redis.smembers(key));
				else if (type === "zset") text += JSON.stringify(await redis.zrange(key, 0, -1, "WITHSCORES"));
				else if (type === "stream") text += JSON.stringify(await redis.xrange(key, "-", "+"));
				else assert.fail(`unexpected Redis type ${type} of ${key}`);
				if (text.includes(secret)) holding.push(key);
			}
		} while (cursor !== "0");
		return { scanned, holding };
	} finally {
		redis.disconnect();
	}
}

/** Waits until `check` is true (polling), failing after the hang guard. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, guardMs = 120_000): Promise<void> {
	const until = Date.now() + guardMs;
	while (!(await check())) {
		if (Date.now() > until) assert.fail(`hang guard: ${what} did not happen within ${guardMs / 1000} s`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

/** Lines of a file (0 when it does not exist). */
export function lineCount(file: string): number {
	try {
		return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).length;
	} catch {
		return 0;
	}
}
