/**
 * Distributed runs end to end (PRODUCT.md §8, issue 10): a real redis-server on loopback, the
 * simulated endpoint on 127.0.0.1 with a rate limit, and the built CLI (`node dist/cli.js submit /
 * worker / status`) as separate processes, on real DICOM files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startOrthanc, type OrthancServer } from "../helpers/orthanc";
import { startRedis, type RedisServer } from "../helpers/redis";
import { sharedDicomDir } from "../helpers/sharedDicom";
import { startThreadSimulator, type ThreadSimulator } from "./simulatorThread";
import { lineCount, maxInAnyWindow, readJsonl, redisKeysHolding, repo, runCli, startCli, stopWorker, waitFor, writeCorpus, type Proc } from "./queueHelpers";

const canary = "CANARY-KEY-queue-3b9d-do-not-store";
const env = { MEDIMAGEINSIGHT_API_KEY: canary };
const shared = sharedDicomDir();

let tmp = "";
let redis: RedisServer | undefined;

before(async () => {
	const r = spawnSync(process.execPath, ["esbuild.js"], { cwd: repo, encoding: "utf8" });
	assert.equal(r.status, 0, `node esbuild.js failed:\n${r.stderr}`);
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mii-queue-"));
	redis = await startRedis();
});
after(async () => {
	await redis?.stop();
	fs.rmSync(tmp, { recursive: true, force: true });
});

/** The simulated endpoint with a rate limit, in a worker thread (its arrival clock is not held up by the test's own work). */
async function simulator(options: { calls: number; periodSeconds: number; latencyMs: number }): Promise<ThreadSimulator> {
	return startThreadSimulator({ port: 0, key: canary, latencyMs: options.latencyMs, rate: { calls: options.calls, periodSeconds: options.periodSeconds } });
}

/** An input folder: generated images, plus (when ../shared/dicom is here) two real files, a structured report (no image) and a text file. */
function makeInput(name: string, count: number, seed: number): { dir: string; images: string[]; skipped: string[] } {
	const dir = path.join(tmp, name);
	const images = writeCorpus(dir, count, seed);
	const skipped: string[] = [];
	if (shared) {
		const files = path.join(shared, "files", "pydicom");
		fs.mkdirSync(path.join(dir, "real"), { recursive: true });
		fs.copyFileSync(path.join(files, "MR_small.dcm"), path.join(dir, "real", "MR_small.dcm"));
		fs.copyFileSync(path.join(files, "CT_small.dcm"), path.join(dir, "real", "CT_small.dcm"));
		fs.copyFileSync(path.join(files, "test-SR.dcm"), path.join(dir, "real", "report.dcm"));
		images.push("real/MR_small.dcm", "real/CT_small.dcm");
		skipped.push("real/report.dcm");
	}
	fs.writeFileSync(path.join(dir, "notes.txt"), "not DICOM");
	return { dir, images: images.sort(), skipped };
}

function workerArgs(url: string, id: string, stallSeconds = 3): string[] {
	return ["worker", "--queue", url, "--id", id, "--jobs", "2", "--workers", "1", "--stall-seconds", String(stallSeconds)];
}

function submitArgs(url: string, input: string, out: string, sim: { url: string }, rate: string, extra: string[] = []): string[] {
	return ["submit", input, "--queue", url, "--endpoint", sim.url, "--out", out, "--rate", rate, "--batch-size", "2", "--concurrency", "4", "--job-size", "4", "--wait", ...extra];
}

/** The merged output: one record per path, exactly the expected ones. */
function assertMerged(out: string, images: string[], skipped: string[]): Record<string, unknown>[] {
	const rows = readJsonl(path.join(out, "embeddings.jsonl"));
	const paths = rows.map((r) => r["path"] as string);
	assert.equal(new Set(paths).size, paths.length, "one embedding record per image");
	assert.deepEqual([...paths].sort(), images);
	const failures = readJsonl(path.join(out, "failures.jsonl"));
	assert.deepEqual(failures.map((f) => [f["path"], f["stage"]]).sort(), skipped.map((s) => [s, "skipped"]));
	// embeddings.npy: N × 1024 float32 after its header.
	const npy = fs.readFileSync(path.join(out, "embeddings.npy"));
	assert.match(npy.toString("latin1", 10, 10 + npy.readUInt16LE(8)), new RegExp(`'shape': \\(${images.length}, 1024\\)`));
	const index = fs.readFileSync(path.join(out, "index.csv"), "utf8").trim().split("\n");
	assert.equal(index.length, images.length + 1);
	const run = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { counts: Record<string, number>; queue?: { parts: { id: string; embedded: number }[] } };
	assert.equal(run.counts["embedded"], images.length);
	assert.equal(run.counts["skipped"], skipped.length);
	assert.equal(run.queue?.parts.reduce((n, p) => n + p.embedded, 0), images.length);
	return rows;
}

void describe("distributed runs: submit, workers, merge (real Redis, simulated endpoint)", { skip: !fs.existsSync("/usr/bin/redis-server") && process.getuid?.() !== 0 }, () => {
	void it("three workers: every image exactly once in the merged output, the same as a local run's, the shared rate never exceeded, and the key nowhere in Redis", async () => {
		assert.ok(redis, "redis-server started");
		const sim = await simulator({ calls: 6, periodSeconds: 2, latencyMs: 50 });
		try {
			const input = makeInput("three-in", 40, 1);
			const out = path.join(tmp, "three-out");
			const workers = ["w1", "w2", "w3"].map((id) => startCli(workerArgs(redis!.url, id), env));
			let submitted;
			try {
				submitted = await runCli(submitArgs(redis.url, input.dir, out, sim, "6/2"));
			} finally {
				for (const w of workers) await stopWorker(w);
			}
			assert.equal(submitted.code, 0, submitted.stderr);
			assert.match(submitted.stderr, new RegExp(`Embedded ${input.images.length}\\b`));
			const rows = assertMerged(out, input.images, input.skipped);
			// What the endpoint saw of the distributed run (checked last, below).
			const stats = await sim.stats();
			// Each of the three workers did part of it.
			assert.deepEqual(fs.readdirSync(path.join(out, "parts")).sort(), ["w1", "w2", "w3"]);
			const byPart = ["w1", "w2", "w3"].map((w) => lineCount(path.join(out, "parts", w, "embeddings.jsonl")));
			assert.ok(byPart.every((n) => n > 0), `every worker embedded some: ${byPart.join(", ")}`);

			// A local run of the same folder against the same endpoint gives the same keys and vectors.
			const local = path.join(tmp, "three-local");
			const embedded = await runCli(["embed", input.dir, "--endpoint", sim.url, "--out", local, "--rate", "100/1", "--workers", "1"], env);
			assert.equal(embedded.code, 0, embedded.stderr);
			const localRows = readJsonl(path.join(local, "embeddings.jsonl"));
			const key = (r: Record<string, unknown>) => `${String(r["path"])} ${String(r["key"])} ${JSON.stringify(r["embedding"])}`;
			assert.deepEqual(rows.map(key).sort(), localRows.map(key).sort());

			// The key is in no Redis key or value, and in no file of the output folder.
			const scan = await redisKeysHolding(redis.url, canary);
			assert.ok(scan.scanned > 5, `scanned ${scan.scanned} keys`);
			assert.deepEqual(scan.holding, []);
			const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)]));
			for (const f of files(out)) assert.ok(!fs.readFileSync(f).includes(canary), `${f} holds the key`);

			// status lists the finished run.
			const status = await runCli(["status", "--queue", redis.url, "--out", out]);
			assert.equal(status.code, 0, status.stderr);
			assert.match(status.stderr, /finished; final files written/);
			assert.match(status.stderr, new RegExp(`embedded ${input.images.length}\\b`));

			// Submitting the same run again queues nothing and changes nothing.
			const before = fs.readFileSync(path.join(out, "embeddings.jsonl"));
			const again = await runCli(submitArgs(redis.url, input.dir, out, sim, "6/2"), {}, 60_000);
			assert.equal(again.code, 0, again.stderr);
			assert.match(again.stderr, /0 queued in 0 new job\(s\)/);
			assert.deepEqual(fs.readFileSync(path.join(out, "embeddings.jsonl")), before);
			// Last: the endpoint never saw more than 6 requests in any 2 s during the distributed run, and refused none for the rate.
			const arrivals = stats.log.map((l) => l.t);
			assert.ok(arrivals.length >= input.images.length / 2, `${arrivals.length} requests`);
			assert.ok(maxInAnyWindow(arrivals, 2000) <= 6, `at most 6 per 2 s, saw ${maxInAnyWindow(arrivals, 2000)}`);
			assert.equal(stats.rejected429, 0);
		} finally {
			await sim.close();
		}
	});

	void it("a worker SIGKILLed mid-run: its jobs are taken over, nothing is lost or duplicated", async () => {
		assert.ok(redis, "redis-server started");
		const sim = await simulator({ calls: 10, periodSeconds: 1, latencyMs: 150 });
		const started: Proc[] = [];
		try {
			const input = makeInput("kill-in", 36, 2);
			const out = path.join(tmp, "kill-out");
			// The first worker alone takes jobs until it has embedded some (so it holds jobs when killed).
			const victim = startCli(workerArgs(redis.url, "victim"), env);
			started.push(victim);
			const submit = startCli(submitArgs(redis.url, input.dir, out, sim, "10/1"));
			await waitFor("the first worker embedding images", () => lineCount(path.join(out, "parts", "victim", "embeddings.jsonl")) >= 2);
			started.push(startCli(workerArgs(redis.url, "k2"), env), startCli(workerArgs(redis.url, "k3"), env));
			victim.child.kill("SIGKILL");
			const killed = await victim.done;
			assert.equal(killed.signal, "SIGKILL");
			const done = await submit.done;
			for (const w of started.slice(1)) await stopWorker(w);
			assert.equal(done.code, 0, done.stderr);
			assertMerged(out, input.images, input.skipped);
			// Some job of the killed worker was taken over by another worker after its lock expired.
			const survivors = started.slice(1).map((w) => w.stderr()).join("\n");
			assert.match(survivors, /stalled/, survivors);
			const victimRows = lineCount(path.join(out, "parts", "victim", "embeddings.jsonl"));
			assert.ok(victimRows < input.images.length, "the killed worker did not do everything");
		} finally {
			for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
			await sim.close();
		}
	});

	void it("Redis restarted mid-run: workers reconnect and finish, every image exactly once", async () => {
		const persistent = await startRedis({ persist: true });
		assert.ok(persistent, "redis-server started");
		const sim = await simulator({ calls: 10, periodSeconds: 1, latencyMs: 100 });
		const workers: Proc[] = [];
		try {
			const input = makeInput("restart-in", 32, 3);
			const out = path.join(tmp, "restart-out");
			workers.push(startCli(workerArgs(persistent.url, "r1"), env), startCli(workerArgs(persistent.url, "r2"), env));
			const submit = startCli(submitArgs(persistent.url, input.dir, out, sim, "10/1"));
			await waitFor("some images embedded", () => ["r1", "r2"].reduce((n, w) => n + lineCount(path.join(out, "parts", w, "embeddings.jsonl")), 0) >= 6);
			await persistent.restart();
			const done = await submit.done;
			for (const w of workers) {
				const r = await stopWorker(w);
				assert.equal(r.code, 0, r.stderr);
			}
			assert.equal(done.code, 0, done.stderr);
			assertMerged(out, input.images, input.skipped);
		} finally {
			for (const p of workers) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
			await sim.close();
			await persistent.stop();
		}
	});

	void it("submit --wait exits 1 when an image fails, and 2 when the only worker's key is refused (its jobs stay queued)", async () => {
		assert.ok(redis, "redis-server started");
		const sim = await simulator({ calls: 100, periodSeconds: 1, latencyMs: 0 });
		try {
			const input = makeInput("fail-in", 6, 4);
			fs.writeFileSync(path.join(input.dir, "corrupt.dcm"), Buffer.concat([Buffer.alloc(128), Buffer.from("DICM"), Buffer.from("corrupt beyond recognition")]));
			const out = path.join(tmp, "fail-out");
			const worker = startCli(workerArgs(redis.url, "f1"), env);
			const r = await runCli(submitArgs(redis.url, input.dir, out, sim, "100/1"));
			await stopWorker(worker);
			assert.equal(r.code, 1, r.stderr);
			const failures = readJsonl(path.join(out, "failures.jsonl"));
			assert.ok(failures.some((f) => f["path"] === "corrupt.dcm" && f["stage"] !== "skipped"), JSON.stringify(failures));
			assert.match(r.stderr, /failed 1\b/);

			const out2 = path.join(tmp, "badkey-out");
			const bad = startCli(workerArgs(redis.url, "badkey"), { MEDIMAGEINSIGHT_API_KEY: "wrong-key" });
			const r2 = await runCli(submitArgs(redis.url, input.dir, out2, sim, "100/1"));
			const w = await bad.done;
			assert.equal(w.code, 2, w.stderr);
			assert.equal(r2.code, 2, r2.stderr);
			assert.match(r2.stderr, /badkey/);
			assert.match(r2.stderr, /jobs stay queued/);
			// A worker with the right key finishes the run.
			const good = startCli(workerArgs(redis.url, "goodkey"), env);
			const r3 = await runCli(submitArgs(redis.url, input.dir, out2, sim, "100/1"));
			await stopWorker(good);
			assert.equal(r3.code, 1, r3.stderr);
			assert.equal(lineCount(path.join(out2, "embeddings.jsonl")), input.images.length);
		} finally {
			await sim.close();
		}
	});

	void it("cancel: the waiting jobs of a run are removed and no worker takes them; submitting again finishes the rest", async () => {
		assert.ok(redis, "redis-server started");
		const sim = await simulator({ calls: 100, periodSeconds: 1, latencyMs: 0 });
		try {
			const input = makeInput("cancel-in", 12, 6);
			const out = path.join(tmp, "cancel-out");
			// Submitted while no worker runs: every job waits.
			const queued = await runCli(submitArgs(redis.url, input.dir, out, sim, "100/1").filter((a) => a !== "--wait"));
			assert.equal(queued.code, 0, queued.stderr);
			const waiting = Number(/jobs: (\d+) waiting/.exec((await runCli(["status", "--queue", redis.url, "--out", out])).stderr)?.[1]);
			assert.ok(waiting >= 3, `${waiting} jobs waiting`);

			const cancelled = await runCli(["cancel", "--queue", redis.url, "--out", out]);
			assert.equal(cancelled.code, 0, cancelled.stderr);
			assert.match(cancelled.stderr, new RegExp(`Cancelled run \\w+ → .*cancel-out: ${waiting} waiting job\\(s\\) removed`));
			const status = await runCli(["status", "--queue", redis.url, "--out", out]);
			assert.match(status.stderr, /: cancelled; the jobs being processed finish/);
			// The merge job waiting for a worker is not one of the run's jobs.
			assert.match(status.stderr, /jobs: 0 waiting, 0 active, 0 delayed, 0 failed/);
			const again = await runCli(["cancel", "--queue", redis.url, "--out", out]);
			assert.equal(again.code, 0, again.stderr);
			assert.match(again.stderr, /already been cancelled; nothing to cancel/);

			// A worker started now takes nothing of the cancelled submission; it only writes the final files (empty).
			const worker = startCli(workerArgs(redis.url, "c1"), env);
			try {
				await waitFor("the cancelled run's final files", () => fs.existsSync(path.join(out, "run.json")));
				assert.equal(lineCount(path.join(out, "embeddings.jsonl")), 0, "nothing embedded after the cancel");
				// Submitting the run again queues every image and finishes it.
				const resumed = await runCli(submitArgs(redis.url, input.dir, out, sim, "100/1"));
				assert.equal(resumed.code, 0, resumed.stderr);
				assertMerged(out, input.images, input.skipped);
			} finally {
				await stopWorker(worker);
			}
			// No run writes to another folder: exit 2 with the reason.
			const none = await runCli(["cancel", "--queue", redis.url, "--out", path.join(tmp, "no-such-run")]);
			assert.equal(none.code, 2, none.stderr);
			assert.match(none.stderr, /no run on redis:\/\/127\.0\.0\.1:\d+ writes to .*no-such-run/);
		} finally {
			await sim.close();
		}
	});

	void it("refuses a key on the command line, an endpoint URL with a credential, a bad queue URL and an unreachable Redis (exit 2, nothing echoed)", async () => {
		const input = path.join(tmp, "usage-in");
		fs.mkdirSync(input, { recursive: true });
		const base = ["submit", input, "--out", path.join(tmp, "usage-out")];
		const withKey = await runCli([...base, "--queue", "redis://127.0.0.1:1", "--endpoint", "http://127.0.0.1:1/score", `--api-key=${canary}`]);
		assert.equal(withKey.code, 2);
		assert.ok(!withKey.stderr.includes(canary));
		const credUrl = await runCli([...base, "--queue", redis?.url ?? "redis://127.0.0.1:1", "--endpoint", `http://127.0.0.1:1/score?code=${canary}`]);
		assert.equal(credUrl.code, 2, credUrl.stderr);
		assert.match(credUrl.stderr, /carries a credential/);
		assert.ok(!credUrl.stderr.includes(canary));
		const badQueue = await runCli([...base, "--queue", "http://127.0.0.1:6379", "--endpoint", "http://127.0.0.1:1/score"]);
		assert.equal(badQueue.code, 2);
		assert.match(badQueue.stderr, /redis:\/\//);
		const worker = await runCli(["worker", "--queue", "redis://127.0.0.1:1", "--id", "../escape"]);
		assert.equal(worker.code, 2);
		// Redis not there: said at once (exit 2), not waited for.
		for (const args of [
			[...base, "--queue", "redis://127.0.0.1:1", "--endpoint", "http://127.0.0.1:1/score"],
			["status", "--queue", "redis://127.0.0.1:1"],
			["worker", "--queue", "redis://127.0.0.1:1"],
		]) {
			const r = await runCli(args, env, 60_000);
			assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
			assert.match(r.stderr, /Cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
		}
		const help = await runCli(["--help"]);
		assert.match(help.stderr, /submit <paths…> --queue/);
		assert.match(help.stderr, /worker --queue/);
	});
});

void describe("distributed runs from DICOMweb: jobs carry instance references (real Orthanc)", { skip: !fs.existsSync("/usr/bin/redis-server") && process.getuid?.() !== 0 }, () => {
	let orthanc: OrthancServer | undefined;
	after(async () => orthanc?.stop());

	void it("workers retrieve the instances themselves (basic auth from their own environment): every instance once, the same vector as the file from disk", async () => {
		assert.ok(redis, "redis-server started");
		const password = "orthanc-pw-3e1c";
		orthanc = await startOrthanc({ users: { alice: password } });
		if (!orthanc) return; // skipped loudly by the helper
		const input = path.join(tmp, "dicomweb-files");
		const files = writeCorpus(input, 6, 9);
		for (const f of files) await orthanc.upload(fs.readFileSync(path.join(input, f)));
		const sim = await simulator({ calls: 100, periodSeconds: 1, latencyMs: 0 });
		const dwEnv = { ...env, MEDIMAGEINSIGHT_DICOMWEB_USER: "alice", MEDIMAGEINSIGHT_DICOMWEB_PASSWORD: password };
		try {
			const out = path.join(tmp, "dicomweb-out");
			// The jobs hold instance references only; the workers retrieve each instance from Orthanc themselves.
			const workers = ["d1", "d2"].map((id) => startCli(workerArgs(redis!.url, id), dwEnv));
			let r;
			try {
				r = await runCli(["submit", `${orthanc.dicomweb}/studies`, "--queue", redis.url, "--endpoint", sim.url, "--out", out, "--rate", "100/1", "--batch-size", "2", "--job-size", "2", "--wait"], dwEnv);
			} finally {
				for (const w of workers) await stopWorker(w);
			}
			assert.equal(r.code, 0, r.stderr);
			const rows = readJsonl(path.join(out, "embeddings.jsonl"));
			assert.equal(rows.length, files.length);
			assert.equal(new Set(rows.map((x) => x["sopInstanceUid"])).size, files.length);
			for (const row of rows) {
				assert.match(String(row["path"]), /^[\d.]+\/[\d.]+\/[\d.]+$/);
				assert.equal(row["sourceUrl"], orthanc.dicomweb);
			}
			// The same images embedded from disk: the same bytes (sha256) and the same vectors.
			const local = path.join(tmp, "dicomweb-local");
			const l = await runCli(["embed", input, "--endpoint", sim.url, "--out", local, "--rate", "100/1", "--workers", "1"], env);
			assert.equal(l.code, 0, l.stderr);
			const fromDisk = new Map(readJsonl(path.join(local, "embeddings.jsonl")).map((x) => [x["sha256"], JSON.stringify(x["embedding"])]));
			for (const row of rows) assert.equal(JSON.stringify(row["embedding"]), fromDisk.get(row["sha256"]), `vector of ${String(row["path"])}`);
			// The password went nowhere near Redis.
			assert.deepEqual((await redisKeysHolding(redis.url, password)).holding, []);
		} finally {
			await sim.close();
		}
	});
});
