/**
 * A fixed-size pool of conversion worker threads with a bounded queue. Workers start lazily; one
 * that crashes (uncaught error, out of memory), reports an exception or runs past the per-file
 * timeout is terminated and replaced, and only THAT file fails (stage "decode"); the others go on.
 * Each worker also gets a memory budget per conversion (`memoryBudgetMb`, pixel buffers included):
 * a file whose conversion would exceed it fails with a reason before anything large is allocated,
 * since a thread that dies of one large allocation at its heap limit can abort the whole process.
 * The worker script is a parameter so the extension, the CLI and the tests share the pool.
 */
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import * as os from "node:os";
import { Worker } from "node:worker_threads";
import type { ConvertOptions } from "../dicom/types";
import { isFromWorker, type ConvertWorkerData, type FromWorker, type ToWorker } from "../protocol/worker";
import { nullLogger, type Logger } from "../util/logger";
import type { FileConversion } from "./types";

export interface WorkerPoolOptions {
	/** Absolute path of the worker script (dist/convertWorker.js, or out/src/workers/convertWorker.js in tests). */
	script: string;
	/** Worker threads (default max(1, availableParallelism() - 1)). */
	size?: number;
	/** Tasks queued for a worker at most; further calls wait for room (default 4 × size). */
	maxQueue?: number;
	/** A file that takes longer than this fails and its worker is replaced (default 60 000 ms). */
	taskTimeoutMs?: number;
	/** Heap limit of each worker in MB; past it the worker dies and its file fails (default 1536). */
	maxOldGenerationSizeMb?: number;
	/**
	 * Memory one conversion may use in MB, pixel buffers included (they live outside the JS heap):
	 * an image whose conversion would need more, or a file that would have to be held whole above
	 * half of it, fails with a reason before it is decoded (default 1024).
	 */
	memoryBudgetMb?: number;
	logger?: Logger;
}

interface Task {
	id: number;
	/** A local file's path, or the name of bytes given (a DICOMweb instance). */
	absPath: string;
	/** Set for bytes given instead of a file (transferred to the worker, so unusable here afterwards). */
	bytes?: Uint8Array;
	options: ConvertOptions;
	signal: AbortSignal | undefined;
	resolve: (r: FileConversion) => void;
	reject: (e: unknown) => void;
	onAbort: (() => void) | undefined;
	settled: boolean;
	/** Size of bytes given, once they went to a worker. */
	size?: number;
}

interface Slot {
	worker: Worker;
	task: Task | undefined;
	timer: NodeJS.Timeout | undefined;
	dead: boolean;
}

function abortError(): Error {
	return new DOMException("The conversion was aborted", "AbortError");
}

function firstLine(s: string): string {
	return s.split("\n", 1)[0]!.trim();
}

export class WorkerPool {
	readonly size: number;
	readonly maxQueue: number;
	private readonly script: string;
	private readonly taskTimeoutMs: number;
	private readonly maxOldGenerationSizeMb: number;
	private readonly memoryBudgetMb: number;
	private readonly logger: Logger;
	private readonly slots: Slot[] = [];
	/** Tasks waiting for a worker (at most maxQueue). */
	private readonly queue: Task[] = [];
	/** Tasks of callers that arrived while the queue was full (backpressure). */
	private readonly overflow: Task[] = [];
	private readonly roomWaiters: (() => void)[] = [];
	private nextId = 1;
	private disposed = false;
	private replaced = 0;

	constructor(options: WorkerPoolOptions) {
		if (!existsSync(options.script)) throw new Error(`Conversion worker script not found: ${options.script}`);
		this.script = options.script;
		this.size = Math.max(1, Math.floor(options.size ?? Math.max(1, os.availableParallelism() - 1)));
		this.maxQueue = Math.max(1, Math.floor(options.maxQueue ?? this.size * 4));
		this.taskTimeoutMs = options.taskTimeoutMs ?? 60_000;
		this.maxOldGenerationSizeMb = options.maxOldGenerationSizeMb ?? 1536;
		this.memoryBudgetMb = options.memoryBudgetMb ?? 1024;
		this.logger = options.logger ?? nullLogger;
	}

	/** Tasks queued for a worker (never more than maxQueue). */
	get queued(): number {
		return this.queue.length;
	}

	/** Tasks being converted right now. */
	get running(): number {
		return this.slots.filter((s) => s.task).length;
	}

	/** Tasks accepted and not finished: running + queued + waiting for room in the queue. */
	get pending(): number {
		return this.running + this.queue.length + this.overflow.length;
	}

	/** Live worker threads. */
	get workers(): number {
		return this.slots.length;
	}

	/** Workers terminated and replaced so far (crash, exception or timeout). */
	get replacedWorkers(): number {
		return this.replaced;
	}

	/**
	 * Converts one file in a worker. Resolves with its conversion, whatever the outcome (a crashed or
	 * timed-out worker gives a failed outcome); rejects only with an AbortError when `signal` aborts
	 * before the result arrives, or when the pool is disposed.
	 */
	convertFile(absPath: string, options: ConvertOptions, signal?: AbortSignal): Promise<FileConversion> {
		return this.submit(absPath, undefined, options, signal);
	}

	/**
	 * Converts bytes that are not a local file (a DICOMweb instance) in a worker, as convertFile does.
	 * The bytes are transferred to the worker: the caller must not use them afterwards.
	 */
	convertBytes(bytes: Uint8Array, name: string, options: ConvertOptions, signal?: AbortSignal): Promise<FileConversion> {
		return this.submit(name, bytes, options, signal);
	}

	private submit(absPath: string, bytes: Uint8Array | undefined, options: ConvertOptions, signal: AbortSignal | undefined): Promise<FileConversion> {
		if (this.disposed) return Promise.reject(new Error("The conversion worker pool has been disposed"));
		if (signal?.aborted) return Promise.reject(abortError());
		return new Promise<FileConversion>((resolve, reject) => {
			const task: Task = { id: this.nextId++, absPath, ...(bytes ? { bytes } : {}), options, signal, resolve, reject, onAbort: undefined, settled: false };
			if (signal) {
				task.onAbort = () => this.abortTask(task);
				signal.addEventListener("abort", task.onAbort, { once: true });
			}
			if (this.queue.length < this.maxQueue && this.overflow.length === 0) this.queue.push(task);
			else this.overflow.push(task);
			this.pump();
		});
	}

	/**
	 * Resolves when the queue has room for another task: callers that produce work faster than the
	 * workers convert it (discovery) await this before each convertFile to keep memory flat.
	 */
	async waitForCapacity(signal?: AbortSignal): Promise<void> {
		while (this.queue.length + this.overflow.length >= this.maxQueue) {
			if (signal?.aborted) throw abortError();
			if (this.disposed) throw new Error("The conversion worker pool has been disposed");
			await new Promise<void>((resolve, reject) => {
				const onAbort = () => {
					const i = this.roomWaiters.indexOf(wake);
					if (i >= 0) this.roomWaiters.splice(i, 1);
					reject(abortError());
				};
				const wake = () => {
					signal?.removeEventListener("abort", onAbort);
					resolve();
				};
				signal?.addEventListener("abort", onAbort, { once: true });
				this.roomWaiters.push(wake);
			});
		}
	}

	/** Terminates every worker; tasks not finished reject. */
	async dispose(): Promise<void> {
		if (this.disposed) return;
		this.disposed = true;
		const error = new Error("The conversion worker pool has been disposed");
		for (const t of [...this.overflow, ...this.queue]) this.settle(t, undefined, error);
		this.overflow.length = 0;
		this.queue.length = 0;
		const slots = this.slots.splice(0);
		for (const s of slots) {
			if (s.task) this.settle(s.task, undefined, error);
			this.stopSlot(s);
		}
		for (const w of this.roomWaiters.splice(0)) w();
		await Promise.all(slots.map((s) => s.worker.terminate().catch(() => 0)));
	}

	/** Moves work forward: fills the queue from the overflow and idle workers from the queue. */
	private pump(): void {
		if (this.disposed) return;
		for (;;) {
			let slot = this.slots.find((s) => !s.task && !s.dead);
			if (!slot && this.slots.length < this.size && this.queue.length > 0) slot = this.spawn();
			if (!slot || this.queue.length === 0) break;
			this.dispatch(slot, this.queue.shift()!);
		}
		while (this.queue.length < this.maxQueue && this.overflow.length > 0) this.queue.push(this.overflow.shift()!);
		if (this.queue.length + this.overflow.length < this.maxQueue) {
			for (const w of this.roomWaiters.splice(0)) w();
		}
	}

	private spawn(): Slot {
		const workerData: ConvertWorkerData = { memoryBudgetMb: this.memoryBudgetMb };
		const worker = new Worker(this.script, {
			resourceLimits: { maxOldGenerationSizeMb: this.maxOldGenerationSizeMb },
			workerData,
		});
		const slot: Slot = { worker, task: undefined, timer: undefined, dead: false };
		worker.on("message", (msg: unknown) => this.onMessage(slot, msg));
		worker.on("error", (e: Error) => {
			const outOfMemory = (e as NodeJS.ErrnoException).code === "ERR_WORKER_OUT_OF_MEMORY";
			const reason = outOfMemory
				? `worker ran out of memory (${firstLine(e.message)}; its heap limit is ${this.maxOldGenerationSizeMb} MB)`
				: `worker crashed (${firstLine(e.message)})`;
			this.onCrash(slot, reason);
		});
		worker.on("exit", (code) => this.onCrash(slot, `worker exited unexpectedly (code ${code})`));
		this.slots.push(slot);
		this.logger.debug(`conversion worker started (${this.slots.length}/${this.size})`);
		return slot;
	}

	private dispatch(slot: Slot, task: Task): void {
		slot.task = task;
		const bytes = task.bytes;
		const req: ToWorker = bytes
			? { type: "convertBytes", id: task.id, bytes: bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice(), name: task.absPath, options: task.options }
			: { type: "convertFile", id: task.id, absPath: task.absPath, options: task.options };
		slot.timer = setTimeout(() => {
			const seconds = Math.round(this.taskTimeoutMs / 100) / 10;
			this.onCrash(slot, `worker timed out after ${seconds} s`);
		}, this.taskTimeoutMs);
		if (req.type === "convertBytes") {
			const size = req.bytes.byteLength;
			task.bytes = undefined;
			slot.worker.postMessage(req, [req.bytes.buffer as ArrayBuffer]);
			task.size = size;
		} else {
			slot.worker.postMessage(req);
		}
	}

	private onMessage(slot: Slot, raw: unknown): void {
		if (slot.dead) return;
		if (!isFromWorker(raw) || !slot.task || raw.id !== slot.task.id) {
			this.logger.warn("conversion worker sent an unexpected message; replacing it");
			this.onCrash(slot, "worker sent an unexpected message");
			return;
		}
		const msg: FromWorker = raw;
		const task = slot.task;
		clearTimeout(slot.timer);
		slot.timer = undefined;
		slot.task = undefined;
		if (msg.type === "result") {
			this.settle(task, msg.result);
			this.pump();
		} else {
			// An exception escaped the converter: its state may be damaged, so start afresh.
			slot.task = task;
			this.onCrash(slot, `worker threw (${firstLine(msg.error)})`);
		}
	}

	/** Terminates a worker that crashed, threw or hung; fails its file; the pool goes on. */
	private onCrash(slot: Slot, reason: string): void {
		if (slot.dead || this.disposed) return;
		this.stopSlot(slot);
		const i = this.slots.indexOf(slot);
		if (i >= 0) this.slots.splice(i, 1);
		this.replaced++;
		const task = slot.task;
		slot.task = undefined;
		void slot.worker.terminate().catch(() => 0); // fire and forget: the slot is already gone
		if (task && !task.settled) {
			this.logger.warn(`conversion of ${task.absPath} failed: ${reason}; the worker was replaced`);
			void (task.size !== undefined ? Promise.resolve(task.size) : stat(task.absPath).then((s) => s.size)) // size for the record; the file is failed either way
				.then((size) => size, () => 0)
				.then((size) => this.settle(task, { size, outcome: { kind: "failed", stage: "decode", error: `${reason} while converting this file` } }));
		} else if (task) {
			this.logger.warn(`conversion worker stopped: ${reason}`);
		}
		this.pump();
	}

	private stopSlot(slot: Slot): void {
		slot.dead = true;
		clearTimeout(slot.timer);
		slot.timer = undefined;
	}

	private abortTask(task: Task): void {
		if (task.settled) return;
		let i = this.queue.indexOf(task);
		if (i >= 0) this.queue.splice(i, 1);
		i = this.overflow.indexOf(task);
		if (i >= 0) this.overflow.splice(i, 1);
		// A running task keeps its worker busy until the result arrives; the result is then dropped.
		this.settle(task, undefined, abortError());
		this.pump();
	}

	private settle(task: Task, result: FileConversion | undefined, error?: unknown): void {
		if (task.settled) return;
		task.settled = true;
		if (task.onAbort) task.signal?.removeEventListener("abort", task.onAbort);
		if (error !== undefined || !result) task.reject(error ?? new Error("no result"));
		else task.resolve(result);
	}
}
