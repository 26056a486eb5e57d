/**
 * A real Redis (Debian's `redis-server`) on a free loopback port, started by the test and stopped by
 * it (TESTING.md). Installs the package when it is missing and we are root; otherwise says what to
 * install and returns undefined (the caller skips loudly). Never the system service: a private
 * folder, no persistence, its own port. `restart()` stops it and starts a new one on the same port
 * (for the "Redis restarted mid-run" tests: with `persist` the data survives, through an append-only
 * file fsynced on every write); `kill()` stops it without starting again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createConnection } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { ensureDebianPackages, freePort, waitUntilServing } from "./debianPackage";

const redisBin = "/usr/bin/redis-server";

export interface RedisServer {
	/** redis://127.0.0.1:<port> */
	url: string;
	port: number;
	/** Stops the server (SIGTERM, then SIGKILL) without starting it again. */
	kill(): Promise<void>;
	/** Stops the server and starts it again on the same port (empty unless started with `persist`); resolves when it answers. */
	restart(): Promise<void>;
	/** Stops the server and removes its folder. */
	stop(): Promise<void>;
}

function installed(): boolean {
	return fs.existsSync(redisBin);
}

/** Installs redis-server when missing (root only); false with a message when it cannot. */
export function ensureRedis(): boolean {
	return ensureDebianPackages(installed, ["redis-server"], "redis-server");
}

/** One PING over a raw socket: true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = createConnection({ host: "127.0.0.1", port });
		let data = "";
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(1000, () => done(false));
		socket.once("error", () => done(false));
		socket.on("data", (b) => {
			data += b.toString("latin1");
			if (data.includes("\r\n")) done(data.startsWith("+PONG"));
		});
		socket.once("connect", () => socket.write("PING\r\n"));
	});
}

/** Starts a private redis-server; undefined (with a loud message) when it cannot be installed. */
export async function startRedis(options: { persist?: boolean } = {}): Promise<RedisServer | undefined> {
	if (!ensureRedis()) {
		console.warn("\n!!!!!! SKIPPING the tests that need Redis: redis-server is not installed !!!!!!\n");
		return undefined;
	}
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-redis-"));
	const port = await freePort();
	let child: ChildProcess | undefined;
	let exited = true;

	const launch = async () => {
		const logPath = path.join(dir, "redis.log");
		const log = fs.openSync(logPath, "a");
		const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...(options.persist ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]), "--dir", dir, "--protected-mode", "yes"];
		const c = spawn(redisBin, args, { stdio: ["ignore", log, log] });
		fs.closeSync(log);
		child = c;
		exited = false;
		c.once("exit", () => {
			if (child === c) exited = true;
		});
		await waitUntilServing(
			"redis-server",
			() => ping(port),
			() => (exited ? fs.readFileSync(logPath, "utf8").slice(-2000) : undefined),
		);
	};
	const kill = async () => {
		const c = child;
		if (!c || exited) return;
		const done = new Promise((r) => c.once("exit", r));
		c.kill("SIGTERM");
		const t = setTimeout(() => c.kill("SIGKILL"), 5000);
		await done;
		clearTimeout(t);
		exited = true;
	};
	try {
		await launch();
	} catch (e) {
		await kill();
		fs.rmSync(dir, { recursive: true, force: true });
		throw e;
	}
	return {
		url: `redis://127.0.0.1:${port}`,
		port,
		kill,
		async restart() {
			await kill();
			await launch();
		},
		async stop() {
			await kill();
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}
