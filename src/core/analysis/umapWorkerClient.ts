/**
 * Runs umapLayout (./umap.ts) in a worker thread, so that neither the extension host nor the webview
 * waits for it. One worker per layout; aborting the signal terminates it at once (the results panel
 * aborts when it closes or reloads).
 */
import { Worker } from "node:worker_threads";

export interface UmapRequest {
	vectors: ArrayBuffer;
	dim: number;
	seed: number;
}

export type UmapReply = { type: "progress"; done: number; total: number } | { type: "done"; coords: ArrayBuffer } | { type: "error"; message: string };

/** n × 2 UMAP coordinates of `vectors` (copied to the worker), computed by `workerScript`. */
export function runUmapInWorker(workerScript: string, vectors: Float32Array, dim: number, signal: AbortSignal, options: { seed?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<Float32Array> {
	return new Promise((resolve, reject) => {
		if (signal.aborted) {
			reject(signal.reason as Error);
			return;
		}
		const worker = new Worker(workerScript);
		let settled = false;
		const finish = (fn: () => void): void => {
			if (settled) return;
			settled = true;
			signal.removeEventListener("abort", onAbort);
			void worker.terminate();
			fn();
		};
		const onAbort = (): void => finish(() => reject(signal.reason as Error));
		signal.addEventListener("abort", onAbort, { once: true });
		worker.on("message", (m: UmapReply) => {
			if (m.type === "progress") options.onProgress?.(m.done, m.total);
			else if (m.type === "done") finish(() => resolve(new Float32Array(m.coords)));
			else finish(() => reject(new Error(`UMAP failed: ${m.message}`)));
		});
		worker.on("error", (e) => finish(() => reject(e)));
		worker.on("exit", (code) => finish(() => reject(new Error(`The UMAP worker stopped (exit code ${code}) before it answered.`))));
		const copy = vectors.slice();
		worker.postMessage({ vectors: copy.buffer as ArrayBuffer, dim, seed: options.seed ?? 42 } satisfies UmapRequest, [copy.buffer as ArrayBuffer]);
	});
}
