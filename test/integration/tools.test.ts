/**
 * The language model tools in the real extension host, called the way Copilot calls them
 * (vscode.lm.invokeTool), on a demo run made by the CLI (`dist/cli.js demo`: synthetic DICOM studies
 * embedded by the simulated endpoint on 127.0.0.1). Expected answers are computed here from
 * embeddings.jsonl and failures.jsonl by brute force.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import { keyTokenProvider } from "../../src/core/endpoint/auth";
import { EndpointClient } from "../../src/core/endpoint/client";
import { defaultEndpointSettings } from "../../src/core/endpoint/types";
import { startSimulator } from "../../src/core/simulator/server";
import { nullLogger } from "../../src/core/util/logger";
import { api, extensionId, readJsonl, setSetting, workspaceRoot } from "./helpers";

const tools = ["medImageInsight_findSimilarImages", "medImageInsight_labelImages", "medImageInsight_summarizeRun"];

interface Embedded {
	path: string;
	sopInstanceUid: string;
	seriesInstanceUid: string;
	modality: string;
	embedding: number[];
}

/** Header text of the demo files that no tool answer may carry (patient names and ids, descriptions). */
const headerText = ["Demo^Phantom", "DEMO-000", "synthetic phantom", "Chest CT axial", "MR T2 axial"];

async function invoke(name: string, input: object): Promise<Record<string, unknown>> {
	const r = await vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined });
	const text = r.content.map((p) => (p instanceof vscode.LanguageModelTextPart ? p.value : "")).join("");
	for (const h of headerText) assert.ok(!text.includes(h), `${name} answered with header text "${h}"`);
	return JSON.parse(text) as Record<string, unknown>;
}

function unit(v: number[]): number[] {
	const n = Math.hypot(...v);
	return v.map((x) => x / n);
}

function dot(a: number[], b: number[]): number {
	return a.reduce((s, x, i) => s + x * b[i]!, 0);
}

describe("language model tools", function () {
	let results = "";
	let images: Embedded[] = [];

	before(async function () {
		this.timeout(300_000);
		await api();
		const ext = vscode.extensions.getExtension(extensionId)!;
		const demo = path.join(workspaceRoot(), "lm-demo");
		const r = spawnSync(process.execPath, [path.join(ext.extensionPath, "dist", "cli.js"), "demo", "--out", demo, "--count", "24", "--workers", "1"], { encoding: "utf8", timeout: 240_000 });
		assert.equal(r.status, 0, `demo failed: ${r.stderr}`);
		results = path.join(demo, "results");
		images = readJsonl<Embedded>(path.join(results, "embeddings.jsonl"));
		assert.ok(images.length >= 20, `${images.length} images embedded`);
		// Label texts come from the configured endpoint: the extension's own simulation.
		await setSetting("rateLimit.calls", 1000);
		await setSetting("rateLimit.periodSeconds", 1);
		const url = await vscode.commands.executeCommand<string>("medImageInsight.startSimulatedEndpoint");
		assert.match(url, /^http:\/\/127\.0\.0\.1:/);
	});

	after(async function () {
		await vscode.commands.executeCommand("medImageInsight.stopSimulatedEndpoint");
		for (const k of ["endpoint.url", "endpoint.authMode", "rateLimit.calls", "rateLimit.periodSeconds"]) await setSetting(k, undefined);
	});

	it("contributes the three tools with descriptions and input schemas", function () {
		for (const name of tools) {
			const t = vscode.lm.tools.find((x) => x.name === name);
			assert.ok(t, `${name} is registered`);
			assert.ok(t.description.length > 100, `${name} has a description for the model`);
			assert.equal((t.inputSchema as { type?: string }).type, "object");
		}
	});

	it("summarizeRun counts the embedded, failed and skipped files and groups the failures by reason", async function () {
		const s = await invoke("medImageInsight_summarizeRun", { resultsFolder: results });
		const failures = readJsonl<{ path: string; stage: string; error: string }>(path.join(results, "failures.jsonl"));
		const embeddedPaths = new Set(images.map((i) => i.path));
		const open = failures.filter((f) => !embeddedPaths.has(f.path));
		assert.equal(s["embedded"], embeddedPaths.size);
		assert.equal(s["failed"], open.filter((f) => f.stage !== "skipped").length);
		assert.equal(s["skipped"], open.filter((f) => f.stage === "skipped").length);
		assert.ok((s["failed"] as number) >= 1, "the demo plants a corrupt file");
		const byReason = s["failuresByReason"] as { stage: string; reason: string; count: number; examples: string[] }[];
		assert.equal(byReason.reduce((n, r) => n + r.count, 0), open.length);
		for (const f of open) assert.ok(byReason.some((r) => r.stage === f.stage && r.reason === f.error), `${f.path}'s reason is listed`);
		assert.equal(s["series"], new Set(images.map((i) => i.seriesInstanceUid)).size);
		assert.equal(s["simulatedEndpoint"], true);
		assert.ok((s["imagesPerSecond"] as number) > 0);
	});

	it("findSimilarImages returns the k nearest images by cosine, as a brute-force search finds them", async function () {
		const query = images[3]!;
		const r = await invoke("medImageInsight_findSimilarImages", { image: query.path, resultsFolder: results, k: 5 });
		const q = unit(query.embedding);
		const expected = images
			.filter((i) => i.path !== query.path)
			.map((i) => ({ path: i.path, score: dot(q, unit(i.embedding)) }))
			.sort((a, b) => b.score - a.score)
			.slice(0, 5);
		const similar = r["similar"] as { path: string; score: number; sopInstanceUid: string }[];
		assert.equal((r["query"] as { path: string }).path, query.path);
		assert.deepEqual(similar.map((s) => s.path), expected.map((e) => e.path));
		similar.forEach((s, i) => assert.ok(Math.abs(s.score - expected[i]!.score) < 1e-3, `${s.path}: ${s.score} vs ${expected[i]!.score}`));
		// By SOP Instance UID and by absolute path too.
		const bySop = await invoke("medImageInsight_findSimilarImages", { image: query.sopInstanceUid, resultsFolder: results, k: 1 });
		assert.equal((bySop["similar"] as { path: string }[])[0]!.path, expected[0]!.path);
		const byAbs = await invoke("medImageInsight_findSimilarImages", { image: path.join(path.dirname(results), "data", query.path), resultsFolder: results, k: 1 });
		assert.equal((byAbs["query"] as { path: string }).path, query.path);
	});

	it("findSimilarImages at series level ranks the other series", async function () {
		const r = await invoke("medImageInsight_findSimilarImages", { image: images[0]!.path, resultsFolder: results, k: 50, level: "series" });
		const series = new Set(images.map((i) => i.seriesInstanceUid));
		assert.equal((r["query"] as { seriesInstanceUid: string }).seriesInstanceUid, images[0]!.seriesInstanceUid);
		const similar = r["similar"] as { seriesInstanceUid: string; score: number; images: number }[];
		assert.equal(similar.length, series.size - 1);
		for (let i = 1; i < similar.length; i++) assert.ok(similar[i - 1]!.score >= similar[i]!.score);
		for (const s of similar) assert.equal(s.images, images.filter((i) => i.seriesInstanceUid === s.seriesInstanceUid).length);
	});

	it("findSimilarImages answers with a reason for an unknown image or folder", async function () {
		const r = await invoke("medImageInsight_findSimilarImages", { image: "no/such/file.dcm", resultsFolder: results });
		assert.match(String(r["error"]), /No embedded image .* matches "no\/such\/file.dcm"/);
		const f = await invoke("medImageInsight_summarizeRun", { resultsFolder: path.join(workspaceRoot(), "lm-demo", "data") });
		assert.match(String(f["error"]), /is not a MedImageInsight results folder/);
	});

	it("labelImages gives each image the label a brute-force zero-shot gives it, with text embeddings from the endpoint", async function () {
		const labels = ["chest CT", "brain MRI", "chest x-ray", "ultrasound"];
		const r = await invoke("medImageInsight_labelImages", { labels, resultsFolder: results, limit: 500 });
		assert.deepEqual(r["labels"], labels);
		const counts = r["counts"] as Record<string, number>;
		assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), images.length);
		// The same simulated model, asked directly: same text embeddings, so the same labels.
		const sim = await startSimulator({ port: 0, key: "k" });
		let texts: Float32Array[];
		let scaling: number;
		try {
			const client = new EndpointClient({ ...defaultEndpointSettings, url: sim.url, rateLimit: { calls: 1000, periodSeconds: 1 } }, keyTokenProvider(async () => "k"), nullLogger);
			const t = await client.embedTexts(labels, new AbortController().signal);
			client.dispose();
			texts = t.embeddings;
			scaling = t.scalingFactor ?? Math.log(100);
		} finally {
			await sim.close();
		}
		const listed = r["images"] as { path: string; label: string; probability: number }[];
		assert.equal(listed.length, images.length);
		for (const item of listed) {
			const img = unit(images.find((i) => i.path === item.path)!.embedding);
			const logits = texts.map((t) => Math.exp(scaling) * dot(img, unit([...t])));
			const max = Math.max(...logits);
			const e = logits.map((l) => Math.exp(l - max));
			const best = logits.indexOf(max);
			assert.equal(item.label, labels[best], item.path);
			assert.ok(Math.abs(item.probability - e[best]! / e.reduce((a, b) => a + b, 0)) < 1e-3, item.path);
		}
		const few = await invoke("medImageInsight_labelImages", { labels, resultsFolder: results, images: [images[0]!.path, images[1]!.sopInstanceUid], limit: 1 });
		assert.equal(few["labelled"], 2);
		assert.equal((few["images"] as unknown[]).length, 1);
		assert.equal(few["truncated"], true);
	});
});
