import * as fs from "node:fs";
import * as path from "node:path";

/** What the cornerstone WASM decoders report about a decoded frame. */
export interface CodecFrameInfo {
	width: number;
	height: number;
	bitsPerSample: number;
	componentCount: number;
	isSigned?: boolean;
}

/** The common shape of the cornerstone WASM decoders (JPEG-LS, JPEG 2000, HTJ2K, libjpeg-turbo). */
export interface WasmDecoder {
	getEncodedBuffer(length: number): Uint8Array;
	decode(): void;
	getFrameInfo(): CodecFrameInfo;
	getDecodedBuffer(): Uint8Array;
	getInterleaveMode?(): number;
	delete(): void;
}

interface CodecModule {
	JpegLSDecoder?: new () => WasmDecoder;
	J2KDecoder?: new () => WasmDecoder;
	HTJ2KDecoder?: new () => WasmDecoder;
	JPEGDecoder?: new () => WasmDecoder;
}

type Factory = (options: Record<string, unknown>) => Promise<CodecModule>;

export type CodecName = "charls" | "openjpeg" | "openjph" | "libjpegturbo";

/** The .wasm file each factory asks for (also the name esbuild.js copies into dist/). */
const wasmNames: Record<CodecName, { pkg: string; file: string }> = {
	charls: { pkg: "@cornerstonejs/codec-charls", file: "charlswasm_decode.wasm" },
	openjpeg: { pkg: "@cornerstonejs/codec-openjpeg", file: "openjpegwasm_decode.wasm" },
	openjph: { pkg: "@cornerstonejs/codec-openjph", file: "openjphjs.wasm" },
	libjpegturbo: { pkg: "@cornerstonejs/codec-libjpeg-turbo-8bit", file: "libjpegturbowasm_decode.wasm" },
};

/**
 * Requires the factory with a literal module name so esbuild bundles it. When bundled, the
 * factory's own script directory is dist/ (where the build copies the .wasm files); unbundled
 * (tests from out/) it is the package's dist/ in node_modules.
 */
function loadFactory(name: CodecName): Factory {
	/* eslint-disable @typescript-eslint/no-require-imports */
	let mod: unknown;
	switch (name) {
		case "charls":
			mod = require("@cornerstonejs/codec-charls/decodewasmjs");
			break;
		case "openjpeg":
			mod = require("@cornerstonejs/codec-openjpeg/decodewasmjs");
			break;
		case "openjph":
			mod = require("@cornerstonejs/codec-openjph/wasmjs");
			break;
		case "libjpegturbo":
			mod = require("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs");
			break;
	}
	/* eslint-enable @typescript-eslint/no-require-imports */
	const factory = typeof mod === "function" ? mod : (mod as { default?: unknown }).default;
	if (typeof factory !== "function") throw new Error(`codec ${name} has no factory export`);
	return factory as Factory;
}

/** Finds the .wasm file: beside the running script (bundle), in the package (node_modules), or in dist/. */
export function locateWasm(name: CodecName, requested: string, scriptDirectory: string): string {
	const { pkg, file } = wasmNames[name];
	const want = path.basename(requested) || file;
	const candidates = [path.join(scriptDirectory || "", want), path.join(__dirname, want), path.join(__dirname, "..", "..", "..", "..", "dist", want)];
	try {
		candidates.push(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), "dist", want));
	} catch (_) {
		// Not resolvable from a bundle: the copies beside it are the ones to use.
	}
	return candidates.find((c) => fs.existsSync(c)) ?? candidates[0] ?? want;
}

const modules = new Map<CodecName, Promise<CodecModule>>();

/** Loads a codec module once per thread (lazily); its stdout/stderr chatter is dropped. */
export function loadCodec(name: CodecName): Promise<CodecModule> {
	let p = modules.get(name);
	if (!p) {
		const quiet = (): void => undefined;
		p = loadFactory(name)({
			locateFile: (requested: string, scriptDirectory: string) => locateWasm(name, requested, scriptDirectory),
			print: quiet,
			printErr: quiet,
		});
		p.catch(() => modules.delete(name));
		modules.set(name, p);
	}
	return p;
}

/**
 * Decodes one codestream with a WASM decoder and hands the frame info and the decoded bytes to
 * `use` while they still live in the module's memory: `use` must read them synchronously and keep
 * nothing that views them (the decoder is freed right after, and a later decode may grow the memory).
 * Reading straight from WASM memory saves a copy of every decoded frame.
 */
export async function decodeWasmFrame<T>(name: CodecName, encoded: Uint8Array, use: (info: CodecFrameInfo, pixels: Uint8Array, interleaveMode: number | undefined) => T): Promise<T> {
	const mod = await loadCodec(name);
	const Ctor = name === "charls" ? mod.JpegLSDecoder : name === "openjpeg" ? mod.J2KDecoder : name === "openjph" ? mod.HTJ2KDecoder : mod.JPEGDecoder;
	if (!Ctor) throw new Error(`codec ${name} has no decoder class`);
	// From here to the end nothing awaits, so the thread's one decoder per codec is never shared.
	const decoder = idle.get(name) ?? new Ctor();
	idle.delete(name);
	let reusable = false;
	try {
		const t0 = wasmDecodeTime.enabled ? process.cpuUsage() : undefined;
		decoder.getEncodedBuffer(encoded.length).set(encoded);
		decoder.decode();
		const info = { ...decoder.getFrameInfo() };
		const interleaveMode = decoder.getInterleaveMode ? decoder.getInterleaveMode() : undefined;
		const pixels = decoder.getDecodedBuffer();
		if (t0) {
			const d = process.cpuUsage(t0);
			wasmDecodeTime.cpuMs += (d.user + d.system) / 1000;
		}
		const result = use(info, pixels, interleaveMode);
		reusable = encoded.length <= reuseLimitBytes && info.width * info.height * info.componentCount * (info.bitsPerSample > 8 ? 2 : 1) <= reuseLimitBytes;
		return result;
	} finally {
		// A decoder that failed is dropped (its state is unknown), and so is one holding big buffers.
		if (reusable) idle.set(name, decoder);
		else decoder.delete();
	}
}

/**
 * CPU time spent inside the WASM decoders (copy in, decode, frame info; not our reading of the output),
 * summed while `enabled`: for the benchmark, which reports how much of a conversion is the codec itself.
 */
export const wasmDecodeTime = { enabled: false, cpuMs: 0 };

/** One idle decoder per codec and thread, kept between files (its buffers are reused). */
const idle = new Map<CodecName, WasmDecoder>();
/** Decoders whose input or output exceeded this are freed rather than kept. */
const reuseLimitBytes = 16 * 1024 * 1024;

/** Decodes one codestream with a WASM decoder; returns the frame info and a copy of the pixels. */
export function decodeWithWasm(name: CodecName, encoded: Uint8Array): Promise<{ info: CodecFrameInfo; pixels: Uint8Array; interleaveMode: number | undefined }> {
	return decodeWasmFrame(name, encoded, (info, pixels, interleaveMode) => ({ info, pixels: pixels.slice(), interleaveMode }));
}
