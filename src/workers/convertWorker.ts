/**
 * Conversion worker entry (bundled to dist/convertWorker.js; tests use out/src/workers/convertWorker.js).
 * A thin adapter: read the file, hash it, convert it with the core converter, post the result with
 * the PNG buffers in the transfer list. The pool owns timeouts, crashes and replacement.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { parentPort } from "node:worker_threads";
import { convertDicomBytes } from "../core/dicom/convert";
import type { ConvertFileRequest, FromWorker } from "../core/protocol/worker";
import type { FileConversion } from "../core/pipeline/types";

/** A buffer that owns all of its ArrayBuffer can be transferred; a view into a shared one is copied first. */
function transferable(bytes: Uint8Array): Uint8Array {
	if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
	return new Uint8Array(bytes);
}

async function handle(req: ConvertFileRequest): Promise<{ msg: FromWorker; transfer: ArrayBuffer[] }> {
	let bytes: Buffer;
	try {
		bytes = await readFile(req.absPath);
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		const result: FileConversion = {
			size: 0,
			outcome: { kind: "failed", stage: "read", error: `Cannot read the file (${code ?? String(e)})` },
		};
		return { msg: { type: "result", id: req.id, result }, transfer: [] };
	}
	const sha256 = createHash("sha256").update(bytes).digest("hex");
	const outcome = await convertDicomBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), req.options, path.basename(req.absPath));
	const transfer: ArrayBuffer[] = [];
	if (outcome.kind === "image") {
		outcome.png = transferable(outcome.png);
		transfer.push(outcome.png.buffer as ArrayBuffer);
		if (outcome.thumbnail) {
			outcome.thumbnail = transferable(outcome.thumbnail);
			if (outcome.thumbnail.buffer !== outcome.png.buffer) transfer.push(outcome.thumbnail.buffer as ArrayBuffer);
		}
	}
	return { msg: { type: "result", id: req.id, result: { sha256, size: bytes.byteLength, outcome } }, transfer };
}

const port = parentPort;
if (!port) throw new Error("convertWorker must run in a worker thread");
port.on("message", (req: ConvertFileRequest) => {
	handle(req).then(
		({ msg, transfer }) => port.postMessage(msg, transfer),
		(e: unknown) => port.postMessage({ type: "error", id: req.id, error: e instanceof Error ? e.message : String(e) } satisfies FromWorker),
	);
});
