/**
 * One writer per output folder: a lock file (`.run.lock`) naming the process that holds it (PID,
 * host, start time and a random nonce, as JSON).
 *
 * - Creation is atomic: the content is written to a temporary file first, which is then hard-linked
 *   to the lock's name. link() fails with EEXIST when the name exists (rename would replace it), so
 *   of any number of processes exactly one gets the lock, and a reader never sees a half-written one.
 * - A stale lock (a dead PID on this host, or this process's PID without this process holding it) is
 *   taken over only by the process that wins an exclusive claim on that very lock instance
 *   (`.run.lock.takeover-<hash of its content>`, itself taken the same way); the winner re-reads the
 *   lock and removes it only if it is still the same stale instance, then competes for the lock again
 *   like everyone else. So two processes that both saw the stale lock never both end up holding one.
 * - A lock from another host is never taken over (its PID cannot be checked from here).
 */
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";

export interface LockOwner {
	pid: number;
	/** Absent in locks written by earlier versions (which wrote the PID only). */
	host?: string;
	startedAt?: string;
	nonce?: string;
}

/** The lock content each lock file held by this process was written with. */
const heldHere = new Map<string, string>();

/** A lock held by another live process (or one on another host). */
export class LockBusyError extends Error {
	constructor(
		message: string,
		readonly owner: LockOwner | undefined,
	) {
		super(message);
		this.name = "LockBusyError";
	}
}

/** The owner named by a lock file's content, or undefined when it names none (empty or garbled). */
export function parseLockOwner(text: string): LockOwner | undefined {
	try {
		const v = JSON.parse(text) as unknown;
		if (typeof v === "object" && v !== null && Number.isInteger((v as LockOwner).pid)) {
			const o = v as Record<string, unknown>;
			return {
				pid: o["pid"] as number,
				...(typeof o["host"] === "string" ? { host: o["host"] } : {}),
				...(typeof o["startedAt"] === "string" ? { startedAt: o["startedAt"] } : {}),
				...(typeof o["nonce"] === "string" ? { nonce: o["nonce"] } : {}),
			};
		}
	} catch {
		// not JSON: an earlier version's "<pid>\n"
	}
	const pid = /^\s*(\d+)\s*$/.exec(text);
	return pid ? { pid: Number(pid[1]) } : undefined;
}

function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Lock files without a readable owner older than this are left-overs of a crash during creation (non-link fallback only). */
const garbledGraceMs = 10_000;

async function isStale(file: string, text: string): Promise<boolean> {
	const owner = parseLockOwner(text);
	if (!owner) {
		const st = await fs.promises.stat(file).catch(() => undefined);
		return st !== undefined && Date.now() - st.mtimeMs > garbledGraceMs;
	}
	if (owner.pid <= 0) return true;
	if (owner.host !== undefined && owner.host !== os.hostname()) return false;
	if (owner.pid === process.pid) return heldHere.get(file) !== text;
	return !processAlive(owner.pid);
}

function describeOwner(owner: LockOwner | undefined): string {
	if (!owner) return "a process that is starting";
	const host = owner.host && owner.host !== os.hostname() ? ` on ${owner.host}` : "";
	const since = owner.startedAt ? `, since ${owner.startedAt}` : "";
	return `process ${owner.pid}${host}${since}`;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readText(file: string): Promise<string | undefined> {
	try {
		return await fs.promises.readFile(file, "utf8");
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
		throw e;
	}
}

/** Puts `content` at `file` only if nothing is there: link() of a complete temporary file (or an exclusive create where hard links are not supported). */
async function createExclusive(file: string, content: string, tmp: string): Promise<boolean> {
	try {
		await fs.promises.link(tmp, file);
		return true;
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		if (code === "EEXIST") return false;
		if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw e;
	}
	// A file system without hard links (FAT, some network shares): exclusive create, then write.
	let handle: fs.promises.FileHandle;
	try {
		handle = await fs.promises.open(file, "wx");
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
		throw e;
	}
	try {
		await handle.writeFile(content);
	} finally {
		await handle.close();
	}
	return true;
}

/**
 * Takes the lock file `file` for this process. Throws LockBusyError when another live process holds
 * it, or another error when the folder cannot be written.
 */
export async function acquireLock(file: string, depth = 0): Promise<void> {
	const content = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), nonce: randomUUID() }) + "\n";
	const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
	await fs.promises.writeFile(tmp, content, { flag: "wx" });
	try {
		for (let attempt = 0; attempt < 100; attempt++) {
			if (await createExclusive(file, content, tmp)) {
				heldHere.set(file, content);
				return;
			}
			const seen = await readText(file);
			if (seen === undefined) continue; // released meanwhile: try again
			if (!(await isStale(file, seen))) throw new LockBusyError(`held by ${describeOwner(parseLockOwner(seen))}`, parseLockOwner(seen));
			if (depth >= 3) throw new Error(`cannot take over the stale lock ${file}`);
			// Stale: only the winner of the claim on this instance may remove it, after checking again.
			const claim = `${file}.takeover-${createHash("sha256").update(seen).digest("hex").slice(0, 16)}`;
			try {
				await acquireLock(claim, depth + 1);
			} catch (e) {
				if (!(e instanceof LockBusyError)) throw e;
				await sleep(10 + Math.random() * 20); // another process is taking it over right now
				continue;
			}
			try {
				if ((await readText(file)) === seen) await fs.promises.rm(file, { force: true });
			} finally {
				await releaseLock(claim);
			}
		}
		throw new Error(`cannot take the lock ${file} (too much contention)`);
	} finally {
		await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
	}
}

/** Releases a lock this process holds (a lock file holding anything else is left alone). */
export async function releaseLock(file: string): Promise<void> {
	const content = heldHere.get(file);
	if (content === undefined) return;
	heldHere.delete(file);
	if ((await readText(file).catch(() => undefined)) === content) await fs.promises.rm(file, { force: true }).catch(() => undefined);
}

/** True when this process holds the lock file. */
export function holdsLock(file: string): boolean {
	return heldHere.has(file);
}
