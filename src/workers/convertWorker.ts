/**
 * Conversion worker entry (bundled to dist/convertWorker.js; tests use out/src/workers/convertWorker.js).
 * A thin adapter: convert the file with the core file converter (size limit, streaming hash,
 * first-frame reading, memory budget), post the result with the PNG buffers in the transfer list.
 * The pool owns timeouts, crashes and replacement.
 */
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { convertDicomBytes } from "../core/dicom/convert";
import { convertDicomFile } from "../core/dicom/convertFile";
import { isConvertWorkerData, type FromWorker, type ToWorker } from "../core/protocol/worker";

/** A buffer that owns all of its ArrayBuffer can be transferred; a view into a shared one is copied first. */
function transferable(bytes: Uint8Array): Uint8Array {
	if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
	return new Uint8Array(bytes);
}

const data: unknown = workerData;
const memoryBudgetBytes = isConvertWorkerData(data) && data.memoryBudgetMb > 0 ? data.memoryBudgetMb * 1024 * 1024 : undefined;

async function handle(req: ToWorker): Promise<{ msg: FromWorker; transfer: ArrayBuffer[] }> {
	const budget = memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {};
	const { sha256, size, outcome } =
		req.type === "convertFile"
			? await convertDicomFile(req.absPath, req.options, budget)
			: { sha256: createHash("sha256").update(req.bytes).digest("hex"), size: req.bytes.byteLength, outcome: await convertDicomBytes(req.bytes, req.options, req.name, budget) };
	const transfer: ArrayBuffer[] = [];
	if (outcome.kind === "image") {
		outcome.png = transferable(outcome.png);
		transfer.push(outcome.png.buffer as ArrayBuffer);
		if (outcome.thumbnail) {
			outcome.thumbnail = transferable(outcome.thumbnail);
			if (outcome.thumbnail.buffer !== outcome.png.buffer) transfer.push(outcome.thumbnail.buffer as ArrayBuffer);
		}
	}
	return { msg: { type: "result", id: req.id, result: { ...(sha256 ? { sha256 } : {}), size, outcome } }, transfer };
}

const port = parentPort;
if (!port) throw new Error("convertWorker must run in a worker thread");
port.on("message", (req: ToWorker) => {
	handle(req).then(
		({ msg, transfer }) => port.postMessage(msg, transfer),
		(e: unknown) => port.postMessage({ type: "error", id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies FromWorker),
	);
});
