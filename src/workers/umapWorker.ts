/**
 * UMAP worker entry (bundled to dist/umapWorker.js; tests use out/src/workers/umapWorker.js). A thin
 * adapter: one request (the embeddings as a transferred Float32Array buffer), progress messages, one
 * reply with the n × 2 coordinates in the transfer list. The host terminates it to cancel.
 */
import { parentPort } from "node:worker_threads";
import type { UmapReply, UmapRequest } from "../core/analysis/umapWorkerClient";
import { umapLayout } from "../core/analysis/umap";

parentPort?.once("message", (req: UmapRequest) => {
	void (async () => {
		let reply: UmapReply;
		const transfer: ArrayBuffer[] = [];
		try {
			const coords = await umapLayout(new Float32Array(req.vectors), req.dim, {
				seed: req.seed,
				onProgress: (done, total) => parentPort?.postMessage({ type: "progress", done, total } satisfies UmapReply),
			});
			reply = { type: "done", coords: coords.buffer as ArrayBuffer };
			transfer.push(coords.buffer as ArrayBuffer);
		} catch (e) {
			reply = { type: "error", message: e instanceof Error ? e.message : String(e) };
		}
		parentPort?.postMessage(reply, transfer);
	})();
});
