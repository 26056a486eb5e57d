import { test } from "node:test";
import assert from "node:assert/strict";
import { csvCell, type ShellAction } from "../../../src/core/analysis/resultsSession";
import type { ToWebview } from "../../../src/core/protocol/webview";
import type { ResultsModel } from "../../../src/core/results/reader";
import { testSession } from "../helpers/resultsSession";

/** Three images in 2-D: 0°, 20°, 90° (dim 2), plus one failure. */
function model(): ResultsModel {
	const deg = [0, 20, 90];
	const vectors = new Float32Array(deg.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
	return {
		outDir: "/out",
		rows: deg.map((a) => ({ path: `img${a}.dcm`, sha256: "s", key: "k", sopInstanceUid: `1.${a}`, seriesInstanceUid: "2", studyInstanceUid: "3", modality: "CT", time: "", seriesDescription: a === 90 ? '=HYPERLINK("x"), "quoted"' : "" })),
		dim: 2,
		vectors,
		failures: [{ path: "bad.dcm", stage: "decode", error: "JPEG 2000: truncated", time: "" }],
		problems: [],
		scalingFactor: Math.log(2),
	};
}

function harness(texts: Record<string, number[]> = {}) {
	const sent: ToWebview[] = [];
	const actions: ShellAction[] = [];
	const s = testSession(model(), sent, {
		thumbnailUri: (r) => `https://file+.vscode-resource/out/${r}`,
		embedTexts: async (t) => ({ embeddings: t.map((x) => Float32Array.from(texts[x] ?? [0, 0])) }),
		onAction: async (a) => {
			actions.push(a);
		},
	});
	const settle = () => new Promise((r) => setTimeout(r, 50));
	return { s, sent, actions, settle };
}

void test("nothing is posted before ready; ready sends init, rows, failures and the map", async () => {
	const { s, sent, settle } = harness();
	s.start();
	s.receive({ type: "select", index: 0, k: 1 });
	await settle();
	assert.equal(sent.length, 0);
	s.receive({ type: "ready" });
	await settle();
	const types = sent.map((m) => m.type);
	assert.equal(types[0], "init");
	assert.ok(types.includes("rows") && types.includes("failures") && types.includes("map"), types.join());
	const init = sent[0] as Extract<ToWebview, { type: "init" }>;
	assert.equal(init.total, 3);
	assert.equal(init.summary.failed, 1);
	const map = sent.find((m) => m.type === "map") as Extract<ToWebview, { type: "map" }>;
	assert.equal(new Float32Array(map.coords).length, 6);
	s.dispose();
});

void test("select answers with the neighbours by cosine; malformed messages are ignored", async () => {
	const { s, sent, settle } = harness();
	s.receive({ type: "ready" });
	await settle();
	sent.length = 0;
	s.receive({ type: "select", index: 0, k: 2 });
	s.receive({ type: "select", index: -1, k: 2 });
	s.receive({ type: "select", index: 0, k: 1e9 });
	s.receive({ type: "nope" });
	s.receive("ready");
	await settle();
	const n = sent.filter((m) => m.type === "neighbors") as Extract<ToWebview, { type: "neighbors" }>[];
	assert.equal(n.length, 1);
	assert.deepEqual(n[0]?.items.map((x) => x.index), [1, 2]);
	assert.ok(Math.abs((n[0]?.items[0]?.score ?? 0) - Math.cos(Math.PI / 9)) < 1e-6);
	s.dispose();
});

void test("outliers: the top list and every image's score (1 − mean similarity of the k nearest)", async () => {
	const { s, sent, settle } = harness();
	s.receive({ type: "ready" });
	s.receive({ type: "outliers", k: 1 });
	await settle();
	const o = sent.find((m) => m.type === "outliers") as Extract<ToWebview, { type: "outliers" }>;
	const scores = Array.from(new Float32Array(o.scores));
	// 0°, 20°, 90°: nearest of 0° and 20° is each other (cos 20°); of 90° it is 20° (cos 70°)
	const c20 = Math.cos(Math.PI / 9), c70 = Math.cos((7 * Math.PI) / 18);
	[1 - c20, 1 - c20, 1 - c70].forEach((e, i) => assert.ok(Math.abs((scores[i] as number) - e) < 1e-6, `score ${i}`));
	assert.equal(o.items[0]?.index, 2);
	assert.equal(o.exact, true);
	// the CSV carries it in the outlierScore column (rounded to 6 decimals)
	assert.ok((s.csv().split("\r\n")[3] ?? "").endsWith(`,${Math.round((1 - c70) * 1e6) / 1e6},,`));
	s.dispose();
});

void test("labels use the text embeddings and the model's scaling factor", async () => {
	const { s, sent, settle } = harness({ horizontal: [1, 0], vertical: [0, 3] });
	s.receive({ type: "ready" });
	await settle();
	s.receive({ type: "labels", labels: ["horizontal", "vertical"] });
	await settle();
	const l = sent.find((m) => m.type === "labels") as Extract<ToWebview, { type: "labels" }>;
	assert.deepEqual(Array.from(new Int32Array(l.best)), [0, 0, 1]);
	// image 0°: logits 2·(1, 0) → p = e²/(e²+1)
	assert.ok(Math.abs((new Float32Array(l.probability)[0] as number) - Math.exp(2) / (Math.exp(2) + 1)) < 1e-6);
	const csv = s.csv().split("\r\n");
	assert.equal(csv[0], "path,status,modality,studyInstanceUid,seriesInstanceUid,sopInstanceUid,studyDescription,seriesDescription,sha256,label,probability,queryScore,outlierScore,stage,error");
	assert.match(csv[1] ?? "", /^img0\.dcm,embedded,CT,.*,horizontal,0\.88079\d*,,,,$/);
	// a formula-like description is neutralised and quoted
	assert.ok((csv[3] ?? "").includes(`"'=HYPERLINK(""x""), ""quoted"""`), csv[3]);
	assert.equal(csv[4], "bad.dcm,failed,,,,,,,,,,,,decode,JPEG 2000: truncated");
	s.dispose();
});

void test("an embedder error reaches the webview as an error and clears busy", async () => {
	const sent: ToWebview[] = [];
	const s = testSession(model(), sent, {
		embedTexts: async () => {
			throw new Error("401: set the API key");
		},
	});
	s.receive({ type: "ready" });
	s.receive({ type: "query", text: "chest" });
	await new Promise((r) => setTimeout(r, 50));
	assert.ok(sent.some((m) => m.type === "error" && m.task === "query" && m.message.includes("401")));
	const busy = sent.filter((m): m is Extract<ToWebview, { type: "busy" }> => m.type === "busy" && m.task === "query");
	assert.deepEqual(busy.map((b) => b.busy), [true, false]);
	s.dispose();
});

void test("shell actions are passed to the shell", async () => {
	const { s, actions, settle } = harness();
	s.receive({ type: "ready" });
	s.receive({ type: "copyPath", which: "npy" });
	s.receive({ type: "copyPath", which: "/etc/passwd" });
	s.receive({ type: "retryFailed" });
	await settle();
	assert.deepEqual(actions, [{ type: "copyPath", which: "npy" }, { type: "retryFailed" }]);
	s.dispose();
});

void test("csvCell quotes commas, quotes and newlines", () => {
	assert.equal(csvCell("a,b"), '"a,b"');
	assert.equal(csvCell('say "hi"'), '"say ""hi"""');
	assert.equal(csvCell("-1"), "'-1");
	assert.equal(csvCell(-1), "-1");
	assert.equal(csvCell(Number.NaN), "");
	assert.equal(csvCell(undefined), "");
});
