import { sharedDicomDir } from "../helpers/sharedDicom";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { startSimulator, describeSimulator, type SimulatorHandle } from "../../../src/core/simulator/server";
import { distinctPngs, makePng } from "../endpoint/helpers";

const key = "sim-test-key";
const b64 = (p: Uint8Array) => Buffer.from(p).toString("base64");
const body = (rows: [string, string][], params: Record<string, unknown> = {}) => JSON.stringify({ input_data: { columns: ["image", "text"], index: rows.map((_, i) => i), data: rows }, params });

async function post(sim: SimulatorHandle, rows: [string, string][], opts: { key?: string; params?: Record<string, unknown> } = {}): Promise<Response> {
	return fetch(sim.url, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${opts.key ?? key}` }, body: body(rows, opts.params) });
}

type Row = { image_features?: number[][]; text_features?: number[][]; scaling_factor?: number };

function cosine(a: number[], b: number[]): number {
	let s = 0;
	for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
	return s;
}

function norm(a: number[]): number {
	return Math.sqrt(cosine(a, a));
}

void describe("simulated endpoint: contract and honesty", () => {
	void it("listens on 127.0.0.1, and GET / says it is a simulation, not MedImageInsight", async () => {
		const sim = await startSimulator({ key });
		try {
			assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+\/score$/);
			assert.ok(sim.port > 0);
			const res = await fetch(`http://127.0.0.1:${sim.port}/`);
			assert.equal(res.status, 200);
			assert.equal(res.headers.get("x-medimageinsight-simulation"), "true");
			const info = (await res.json()) as { simulation: boolean; description: string };
			assert.equal(info.simulation, true);
			assert.match(info.description, /simulation, not MedImageInsight/);
			assert.match(describeSimulator({ rate: { calls: 20, periodSeconds: 2 } }), /NOT MedImageInsight.*20 calls \/ 2 s/);
		} finally {
			await sim.close();
		}
	});

	void it("answers 401 to a missing or wrong key, with the simulation header", async () => {
		const sim = await startSimulator({ key });
		try {
			const wrong = await post(sim, [["", "chest"]], { key: "nope" });
			assert.equal(wrong.status, 401);
			assert.equal(wrong.headers.get("x-medimageinsight-simulation"), "true");
			const none = await fetch(sim.url, { method: "POST", body: body([["", "chest"]]) });
			assert.equal(none.status, 401);
			assert.equal(sim.stats.rejected401, 2);
		} finally {
			await sim.close();
		}
	});

	void it("answers one row per input row: [[1024]] unit vectors with scaling_factor 4.5, deterministic, texts in text_features", async () => {
		const sim = await startSimulator({ key });
		try {
			const [a, b] = distinctPngs(2);
			const rows: [string, string][] = [[b64(a!), ""], [b64(b!), ""], ["", "x-ray chest anteroposterior Atelectasis"]];
			const res = await post(sim, rows);
			assert.equal(res.status, 200);
			assert.equal(res.headers.get("x-medimageinsight-simulation"), "true");
			const out = (await res.json()) as Row[];
			assert.equal(out.length, 3);
			for (const r of out.slice(0, 2)) {
				assert.equal(r.image_features?.length, 1);
				const v = r.image_features[0]!;
				assert.equal(v.length, 1024);
				assert.ok(Math.abs(norm(v) - 1) < 1e-5);
				assert.equal(r.scaling_factor, 4.5);
			}
			const t = out[2]!.text_features?.[0];
			assert.ok(t && t.length === 1024 && Math.abs(norm(t) - 1) < 1e-5);
			const again = (await (await post(sim, rows)).json()) as Row[];
			assert.deepEqual(again, out);
			assert.notDeepEqual(out[0]!.image_features, out[1]!.image_features);
			const noScale = (await (await post(sim, rows.slice(0, 1), { params: { get_scaling_factor: false } })).json()) as Row[];
			assert.equal(noScale[0]!.scaling_factor, undefined);
			assert.equal(sim.stats.perImageSha256Counts.get(createHash("sha256").update(b64(a!)).digest("hex")), 3);
		} finally {
			await sim.close();
		}
	});

	void it("an image that is not a PNG gets 424 with model status 400", async () => {
		const sim = await startSimulator({ key });
		try {
			const res = await post(sim, [[Buffer.from("not a png").toString("base64"), ""]]);
			assert.equal(res.status, 424);
			assert.equal(res.headers.get("ms-azureml-model-error-statuscode"), "400");
			assert.match(await res.text(), /row 0/);
		} finally {
			await sim.close();
		}
	});
});

void describe("simulated endpoint: limits and faults", () => {
	void it("enforces calls per period with 429 + Retry-After in whole seconds and the exact retry-after-ms", async () => {
		const sim = await startSimulator({ key, rate: { calls: 3, periodSeconds: 1 } });
		try {
			const statuses: number[] = [];
			let retryAfter: string | null = null;
			for (let i = 0; i < 5; i++) {
				const res = await post(sim, [["", "t"]]);
				statuses.push(res.status);
				if (res.status === 429) {
					retryAfter = res.headers.get("retry-after");
					const ms = Number(res.headers.get("retry-after-ms"));
					assert.ok(ms > 0 && ms <= 1000, `retry-after-ms ${ms}`);
				}
				await res.arrayBuffer();
			}
			assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
			assert.equal(retryAfter, "1");
			assert.equal(sim.stats.rejected429, 2);
		} finally {
			await sim.close();
		}
	});

	void it("answers 429 'Too many pending requests' above its capacity", async () => {
		const sim = await startSimulator({ key, capacity: 1, latencyMs: 300 });
		try {
			const [r1, r2] = await Promise.all([post(sim, [["", "a"]]), new Promise((r) => setTimeout(r, 50)).then(() => post(sim, [["", "b"]]))]);
			assert.equal(r1.status, 200);
			assert.equal(r2.status, 429);
			assert.match(await r2.text(), /Too many pending requests/);
			assert.equal(sim.stats.rejectedPending, 1);
			assert.equal(sim.stats.inFlightMax, 1);
		} finally {
			await sim.close();
		}
	});

	void it("answers 413 above maxBodyBytes", async () => {
		const sim = await startSimulator({ key, maxBodyBytes: 1000 });
		try {
			const res = await post(sim, [["A".repeat(2000), ""]]);
			assert.equal(res.status, 413);
			assert.equal(sim.stats.rejected413, 1);
		} finally {
			await sim.close();
		}
	});

	void it("injects the scheduled faults, request by request", async () => {
		const sim = await startSimulator({ key, schedule: ["500", null, "424-503", "503", "malformed", "nan", "wrong-rows"], retryAfterSeconds: 3 });
		try {
			const png = b64(distinctPngs(1)[0]!);
			const seen: { status: number; text: string; headers: Headers }[] = [];
			for (let i = 0; i < 7; i++) {
				const res = await post(sim, [[png, ""], [png, ""]]);
				seen.push({ status: res.status, text: await res.text(), headers: res.headers });
			}
			assert.deepEqual(
				seen.map((s) => s.status),
				[500, 200, 424, 503, 200, 200, 200],
			);
			assert.equal(seen[2]!.headers.get("ms-azureml-model-error-statuscode"), "503");
			assert.equal(seen[3]!.headers.get("retry-after"), "3");
			assert.throws(() => JSON.parse(seen[4]!.text));
			assert.match(seen[5]!.text, /NaN/);
			assert.equal((JSON.parse(seen[6]!.text) as unknown[]).length, 1);
			assert.equal(sim.stats.faultsInjected, 6);
			assert.equal(sim.stats.rows, 2);
		} finally {
			await sim.close();
		}
	});

	void it("drops the connection on a 'drop' fault, and injects random faults at failRate", async () => {
		const sim = await startSimulator({ key, schedule: ["drop"], failRate: 1, faultKinds: ["503"] });
		try {
			await assert.rejects(post(sim, [["", "a"]]), TypeError);
			const res = await post(sim, [["", "a"]]);
			assert.equal(res.status, 503);
			assert.equal(sim.stats.faultsInjected, 2);
		} finally {
			await sim.close();
		}
	});
});

void describe("simulated endpoint: embeddings follow image content", () => {
	void it("a slightly noisy copy of an image lands closer to it than different images do", async () => {
		const sim = await startSimulator({ key });
		try {
			const base = (x: number, y: number) => 128 + 100 * Math.sin(x / 6) * Math.cos(y / 9);
			const a = makePng(64, 64, base);
			const noisy = makePng(64, 64, (x, y) => base(x, y) + ((x * 7 + y * 13) % 9) - 4);
			const others = [makePng(64, 64, (x, y) => (x + y) * 2), makePng(64, 64, (x, y) => (Math.hypot(x - 32, y - 32) < 15 ? 230 : 20)), makePng(64, 64, (_x, y) => y * 4)];
			const out = (await (await post(sim, [a, noisy, ...others].map((p) => [b64(p), ""] as [string, string]))).json()) as Row[];
			const v = out.map((r) => r.image_features![0]!);
			const near = cosine(v[0]!, v[1]!);
			assert.ok(near > 0.95, `noisy copy cosine ${near}`);
			for (let i = 2; i < v.length; i++) assert.ok(cosine(v[0]!, v[i]!) < near, `image ${i} cosine ${cosine(v[0]!, v[i]!)} ≥ ${near}`);
		} finally {
			await sim.close();
		}
	});

	void it("on real DICOM-derived PNGs: the same CT slice, JPEG-lossy vs lossless, is nearest to itself", async (t) => {
		const root = path.join(sharedDicomDir() ?? path.resolve(__dirname, "../../../../../shared/dicom"), "reference");
		const manifestPath = path.join(root, "manifest.json");
		if (!existsSync(manifestPath)) {
			console.error(`\n!!! SKIPPED: ${manifestPath} not found; the real-data simulator test did not run !!!\n`);
			t.skip("no ../shared/dicom");
			return;
		}
		const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { files: { reference: { ok?: boolean; output_png?: string; png_sha256?: string } }[] };
		const pngs = new Map<string, string>();
		for (const f of manifest.files) {
			const r = f.reference;
			if (r.ok && r.output_png && r.png_sha256 && !pngs.has(r.png_sha256)) pngs.set(r.png_sha256, path.join(root, "..", r.output_png));
		}
		const lossy = [...pngs.values()].find((p) => p.includes("CT0012.fragmented_no_bot_jpeg_baseline"));
		const lossless = [...pngs.values()].find((p) => p.includes("CT0012.fragmented_no_bot_jpeg_lossless"));
		assert.ok(lossy && lossless, "the CT0012 pair is in the manifest");
		const others = [...pngs.values()].filter((p) => p !== lossy && p !== lossless);
		assert.ok(others.length >= 20);
		const sim = await startSimulator({ key });
		try {
			const files = [lossy, lossless, ...others];
			const out = (await (await post(sim, files.map((p) => [readFileSync(p).toString("base64"), ""] as [string, string]))).json()) as Row[];
			const v = out.map((r) => r.image_features![0]!);
			const pair = cosine(v[0]!, v[1]!);
			assert.ok(pair > 0.95, `lossy/lossless cosine ${pair}`);
			for (let i = 2; i < v.length; i++) assert.ok(cosine(v[0]!, v[i]!) < pair, `${files[i]} is closer (${cosine(v[0]!, v[i]!)}) than the same slice (${pair})`);
		} finally {
			await sim.close();
		}
	});
});

void describe("simulated endpoint: the key comes before the body", () => {
	/** Sends the headers and a first piece of a large body, and resolves with the answer's status while the body is still unfinished. */
	function statusBeforeBodyEnds(sim: SimulatorHandle, auth: string): Promise<{ status: number; bodyEnded: boolean; req: http.ClientRequest }> {
		return new Promise((resolve, reject) => {
			const u = new URL(sim.url);
			let bodyEnded = false;
			const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { "Content-Type": "application/json", Authorization: auth, "Content-Length": String(40 * 1024 * 1024) } }, (res) => {
				res.resume();
				resolve({ status: res.statusCode ?? 0, bodyEnded, req });
			});
			req.on("error", reject);
			// 64 KB of a 40 MB body, and never the rest: only an answer given before the body is read can arrive.
			req.write(Buffer.alloc(64 * 1024, 0x20));
			req.on("finish", () => (bodyEnded = true));
		});
	}

	void it("answers 401 to a wrong key as soon as the headers arrive, without waiting for (or buffering) the body", { timeout: 60_000 }, async () => {
		const sim = await startSimulator({ key });
		try {
			const r = await statusBeforeBodyEnds(sim, "Bearer not-the-key");
			assert.equal(r.status, 401);
			assert.equal(r.bodyEnded, false);
			r.req.destroy();
			assert.equal(sim.stats.rejected401, 1);
			assert.equal(sim.stats.perImageSha256Counts.size, 0);
		} finally {
			await sim.close();
		}
	});

	void it("a right key still gets the whole body read and answered (a small real request)", async () => {
		const sim = await startSimulator({ key });
		try {
			const res = await post(sim, [[b64(distinctPngs(1)[0]!), ""]]);
			assert.equal(res.status, 200);
			const wrong = await post(sim, [[b64(distinctPngs(1)[0]!), ""]], { key: "wrong" });
			assert.equal(wrong.status, 401);
			assert.equal(sim.stats.rejected401, 1);
			assert.equal(sim.stats.rows, 1);
		} finally {
			await sim.close();
		}
	});
});
