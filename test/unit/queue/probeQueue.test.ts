/**
 * probeQueue: one quick look at the queue's Redis before a run (the VS Code shell refuses a queue run
 * with this reason). Against real redis-servers started here on loopback: one open, one asking for a
 * password, and a port nobody listens on.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createServer } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { probeQueue } from "../../../src/core/queue/probeQueue";
import { freePort } from "../helpers/debianPackage";
import { ensureRedis, startRedis, type RedisServer } from "../helpers/redis";

const password = "probe-pw-3c9e1a";

void describe("probeQueue (real redis-server)", { skip: !fs.existsSync("/usr/bin/redis-server") && process.getuid?.() !== 0 }, () => {
	let open: RedisServer | undefined;
	let locked: ChildProcess | undefined;
	let lockedPort = 0;
	let dir = "";

	before(async () => {
		open = await startRedis();
		assert.ok(ensureRedis(), "redis-server installed");
		dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-probe-"));
		lockedPort = await freePort();
		locked = spawn("/usr/bin/redis-server", ["--port", String(lockedPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", password], { stdio: "ignore" });
		// Wait until it answers (with the password); hang guard 30 s.
		const client = new Redis({ host: "127.0.0.1", port: lockedPort, password, maxRetriesPerRequest: null, retryStrategy: () => 100 });
		client.on("error", () => undefined);
		const until = Date.now() + 30_000;
		for (;;) {
			try {
				if ((await client.ping()) === "PONG") break;
			} catch {
				/* not yet */
			}
			if (Date.now() > until) assert.fail("hang guard: the password-protected redis-server did not start");
			await new Promise((r) => setTimeout(r, 100));
		}
		client.disconnect();
	});

	after(async () => {
		await open?.stop();
		if (locked && locked.exitCode === null) {
			const gone = new Promise((r) => locked!.once("exit", r));
			locked.kill("SIGTERM");
			await gone;
		}
		if (dir) fs.rmSync(dir, { recursive: true, force: true });
	});

	void it("a Redis that answers: ok (with a database number too)", async () => {
		assert.deepEqual(await probeQueue(open!.url), { ok: true });
		assert.deepEqual(await probeQueue(`${open!.url}/3`), { ok: true });
	});

	void it("nobody listening: 'connection refused', not a wait", async () => {
		const port = await freePort();
		assert.deepEqual(await probeQueue(`redis://127.0.0.1:${port}`), { ok: false, kind: "unreachable", reason: "connection refused" });
	});

	void it("a Redis that wants a password: asked for, a wrong one refused, the right one ok", async () => {
		const url = `redis://127.0.0.1:${lockedPort}`;
		assert.deepEqual(await probeQueue(url), { ok: false, kind: "auth", reason: "Redis asks for a password" });
		assert.deepEqual(await probeQueue(`redis://:wrong@127.0.0.1:${lockedPort}`), { ok: false, kind: "auth", reason: "Redis refused the password" });
		assert.deepEqual(await probeQueue(`redis://:${password}@127.0.0.1:${lockedPort}`), { ok: true });
	});

	void it("a URL that is not a queue URL: said, nothing connected", async () => {
		const r = await probeQueue("http://127.0.0.1:6379");
		assert.equal(r.ok, false);
		assert.equal(!r.ok && r.kind, "url");
		assert.match(!r.ok ? r.reason : "", /must start with redis:\/\//);
	});

	void it("a server that is not Redis (an HTTP server): said, not a hang", async () => {
		const sockets = new Set<import("node:net").Socket>();
		const http = createServer((socket) => {
			sockets.add(socket);
			socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
		});
		await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
		try {
			const port = (http.address() as { port: number }).port;
			const r = await probeQueue(`redis://127.0.0.1:${port}`, 2000);
			assert.equal(r.ok, false);
			assert.equal(!r.ok && r.kind, "unreachable");
		} finally {
			for (const s of sockets) s.destroy();
			await new Promise((r) => http.close(r));
		}
	});
});
