/**
 * The stages after the Source, shared by every `process` call of one pipeline: Convert (bounded) →
 * Batch → Send → Record, with the two guards that make records exactly-once across calls:
 *
 * - a recorded path is claimed by one item at a time (claimPath): another item with the same path
 *   waits, then finds it done by its stamp;
 * - an image whose key is done, or being sent right now, is not sent again: its record is copied
 *   once the other send is over (or it is sent after all if that one failed).
 *
 * Bounds, summed over every call: conversions under way (maxConverting) and images held for the
 * endpoint (the batcher's count and bytes); waitForRoom() is what a call's source loop awaits.
 * A request is aborted only when every call with an image in it is stopped.
 */
import { FatalEndpointError } from "../endpoint/types";
import { ResultsStoreError } from "../results/store";
import { Batcher } from "./batcher";
import type { Converter, ConvertResult } from "./converter";
import type { ConvertedImage, FileStamp, Recorder } from "./recorder";
import type { Sender } from "./sender";
import type { WorkItem } from "./types";

/** What the flow needs of the `process` call an item belongs to. */
export interface FlowCall {
	/** Aborts when the call is cancelled or stopped. */
	readonly signal: AbortSignal;
	/** Counts one image of the call as embedded, or as already done (its record copied). */
	count(what: "embedded" | "alreadyDone"): void;
	/** Counts one image of the call as failed (already recorded) with its reason. */
	failedImage(reason: string): void;
	/** Records (and counts) why a file of the call gives no embedding. */
	recordFailure(stamp: FileStamp, stage: string, error: string, sha256?: string): Promise<void>;
	/** Stops the call with a reason (a source-wide refusal met while converting). */
	stop(code: string, why: string): void;
}

export interface ImageFlowOptions {
	converter: Converter;
	sender: Sender;
	recorder: Recorder;
	batchSize: number;
	/** Requests the endpoint client runs at once: a partial batch waits while that many batches are out. */
	maxConcurrentRequests: number;
	/** Conversions (and DICOMweb retrievals) under way at most. */
	maxConverting: number;
	lingerMs: number;
	maxHeldBytes: number;
	/** One image converted (progress only). */
	onConverted: () => void;
	/** Something was recorded: report progress. */
	report: () => void;
	/** An endpoint-wide or store failure: stop every call. */
	stopAll: (code: string, why: string) => void;
}

interface Deferred {
	promise: Promise<void>;
	resolve: () => void;
}

function deferred(): Deferred {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => (resolve = r));
	return { promise, resolve };
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

/** An image on its way to the endpoint, and the call it belongs to. */
interface Pending extends ConvertedImage {
	call: FlowCall;
	/** Resolved when its batch's request and records are over (or it was dropped by a stop). */
	done: Deferred;
}

export class ImageFlow {
	private readonly batcher: Batcher<Pending>;
	private converting = 0;
	private readonly wakers = new Set<() => void>();
	/** Batches handed to send() and not yet recorded. */
	private batchesInFlight = 0;
	/** Images being sent, by key: an identical image converted meanwhile waits for it instead of being sent too. */
	private readonly sending = new Map<string, Deferred>();
	/** Recorded paths being processed (the last claim of each). */
	private readonly pathsInFlight = new Map<string, Promise<void>>();
	/** Sends under way (they settle without rejecting). */
	private readonly sends = new Set<Promise<void>>();
	/** Calls whose source is still being read. */
	private sourcesActive = 0;

	constructor(private readonly o: ImageFlowOptions) {
		this.batcher = new Batcher<Pending>({
			size: o.batchSize,
			lingerMs: o.lingerMs,
			maxHeld: o.batchSize * (o.maxConcurrentRequests + 2),
			maxHeldBytes: o.maxHeldBytes,
			bytesOf: (p) => p.png.byteLength,
			canSendPartial: () => this.batchesInFlight < o.maxConcurrentRequests,
			send: (items) => this.dispatch(items),
		});
	}

	/** True while some call's source is being read. */
	get reading(): boolean {
		return this.sourcesActive > 0;
	}

	sourceStarted(): void {
		this.sourcesActive++;
	}

	sourceEnded(): void {
		this.sourcesActive--;
		this.flushIfIdle();
	}

	/**
	 * Claims a recorded path for one item: resolves (with the release to call when the item has
	 * ended) once no earlier item with that path is being processed, or when `signal` aborts.
	 */
	async claimPath(p: string, signal: AbortSignal): Promise<() => void> {
		const earlier = this.pathsInFlight.get(p);
		const mine = deferred();
		this.pathsInFlight.set(p, mine.promise);
		const release = () => {
			mine.resolve();
			if (this.pathsInFlight.get(p) === mine.promise) this.pathsInFlight.delete(p);
		};
		if (earlier) {
			let onAbort: (() => void) | undefined;
			await Promise.race([earlier, new Promise<void>((r) => signal.addEventListener("abort", (onAbort = () => r()), { once: true }))]);
			if (onAbort) signal.removeEventListener("abort", onAbort);
		}
		return release;
	}

	/** Waits until another item may start converting; rejects with an AbortError when `signal` aborts. */
	async waitForRoom(signal: AbortSignal): Promise<void> {
		while (!(this.converting < this.o.maxConverting && this.batcher.hasRoom())) {
			signal.throwIfAborted();
			await new Promise<void>((resolve) => {
				const w = () => {
					this.wakers.delete(w);
					signal.removeEventListener("abort", w);
					resolve();
				};
				this.wakers.add(w);
				signal.addEventListener("abort", w, { once: true });
			});
		}
		signal.throwIfAborted();
	}

	/**
	 * Converts an item (after waitForRoom) and carries it to its record. Resolves when the item has
	 * ended: recorded, or dropped because its call stopped. Rejects only with an unexpected error.
	 */
	async start(call: FlowCall, item: Exclude<WorkItem, { kind: "skipped" }>, stamp: FileStamp): Promise<void> {
		this.converting++;
		let result: ConvertResult;
		try {
			result = await this.o.converter.convert(item, stamp, call.signal);
		} catch (e) {
			this.conversionEnded();
			if (call.signal.aborted) return;
			throw e;
		}
		if (result.kind !== "converted") {
			this.conversionEnded();
			if (call.signal.aborted) return;
			if (result.kind === "fatal") call.stop(result.code, result.message);
			else await call.recordFailure(result.stamp ?? stamp, result.stage, result.error);
			return;
		}
		this.converting--;
		const { conv, stamp: at } = result;
		const out = conv.outcome;
		if (out.kind === "image" && conv.sha256) {
			this.o.onConverted();
			const p: Pending = {
				key: this.o.recorder.key(conv.sha256),
				file: at,
				sha256: conv.sha256,
				png: out.png,
				thumbnail: out.thumbnail,
				meta: out.meta,
				...(out.window ? { window: out.window } : {}),
				call,
				done: deferred(),
			};
			if (!this.o.recorder.hasKey(p.key) && !this.sending.has(p.key) && !call.signal.aborted) {
				this.enqueue(p); // synchronously, before flushIfIdle can see an empty pipeline
				this.wake();
				this.flushIfIdle();
				await p.done.promise;
				return;
			}
			this.wake();
			this.flushIfIdle();
			await this.afterConversion(p);
			return;
		}
		this.wake();
		this.flushIfIdle();
		if (out.kind === "skipped") await call.recordFailure(at, "skipped", out.reason, conv.sha256);
		else if (out.kind === "failed") await call.recordFailure(at, out.stage, out.error, conv.sha256);
		else await call.recordFailure(at, "read", "the file could not be hashed while it was read");
	}

	/** A call stopped: its images leave the forming batch (not recorded; the next run sends them). */
	drop(call: FlowCall): void {
		const dropped = this.batcher.remove((p) => p.call === call);
		if (dropped.length > 0) this.release(dropped);
		this.wake();
	}

	/** Waits for the sends under way, then stops the linger timer. */
	async close(): Promise<void> {
		while (this.sends.size > 0) await Promise.all([...this.sends]);
		this.batcher.dispose();
	}

	private wake(): void {
		for (const w of [...this.wakers]) w();
	}

	/** Sends the last partial batch as soon as nothing else can fill it. */
	private flushIfIdle(): void {
		if (this.sourcesActive === 0 && this.converting === 0 && this.batcher.size > 0) this.batcher.flush();
	}

	private conversionEnded(): void {
		this.converting--;
		this.wake();
		this.flushIfIdle();
	}

	/** An image whose key is done or being sent: copy the record, or (when that one failed) send it after all. */
	private async afterConversion(p: Pending): Promise<void> {
		if (this.o.recorder.hasKey(p.key) && (await this.copyDone(p))) return;
		const other = this.sending.get(p.key);
		if (other) {
			await other.promise;
			if (this.o.recorder.hasKey(p.key) && (await this.copyDone(p))) return;
		}
		if (p.call.signal.aborted) return;
		this.enqueue(p);
		this.flushIfIdle();
		await p.done.promise;
	}

	private async copyDone(p: Pending): Promise<boolean> {
		if (!(await this.o.recorder.copyDone(p))) return false;
		p.call.count("alreadyDone");
		this.o.report();
		return true;
	}

	private enqueue(p: Pending): void {
		if (!this.sending.has(p.key)) this.sending.set(p.key, deferred());
		this.batcher.add(p);
	}

	/** Images whose batch is over (or that were dropped): no longer held, no longer "being sent". */
	private release(items: readonly Pending[]): void {
		this.batcher.release(items);
		for (const p of items) {
			const s = this.sending.get(p.key);
			if (s) {
				this.sending.delete(p.key);
				s.resolve();
			}
			p.done.resolve();
		}
		this.wake();
	}

	private dispatch(items: Pending[]): void {
		// Images of calls stopped meanwhile are not sent.
		const dropped = items.filter((p) => p.call.signal.aborted);
		if (dropped.length > 0) this.release(dropped);
		const live = dropped.length > 0 ? items.filter((p) => !p.call.signal.aborted) : items;
		if (live.length === 0) return;
		const send = this.send(live).catch((e: unknown) => {
			if (e instanceof ResultsStoreError) this.o.stopAll("store", message(e));
			else if (!isAbort(e)) this.o.stopAll("internal", `internal error: ${message(e)}`);
		});
		this.sends.add(send);
		void send.then(() => this.sends.delete(send)); // never rejects (caught above)
	}

	private async send(items: Pending[]): Promise<void> {
		this.batchesInFlight++;
		// The request is aborted only when every call with an image in it is stopped.
		const calls = [...new Set(items.map((p) => p.call))];
		const ctrl = new AbortController();
		const onAbort = () => {
			if (calls.every((c) => c.signal.aborted)) ctrl.abort();
		};
		for (const c of calls) c.signal.addEventListener("abort", onAbort);
		onAbort();
		try {
			let outcomes;
			try {
				outcomes = await this.o.sender.send(
					items.map((p) => p.png),
					ctrl.signal,
				);
			} catch (e) {
				if (!(e instanceof FatalEndpointError)) throw e;
				this.o.stopAll(e.code, e.message);
				return;
			}
			if (!outcomes) return; // stopped: these images are not recorded, the next run sends them
			try {
				await this.o.recorder.batch(items, outcomes);
			} catch (e) {
				this.o.stopAll("store", message(e));
				return;
			}
			items.forEach((p, i) => {
				const o = outcomes[i]!;
				if (o.ok) p.call.count("embedded");
				else p.call.failedImage(o.error);
			});
			this.o.report();
		} finally {
			for (const c of calls) c.signal.removeEventListener("abort", onAbort);
			this.batchesInFlight--;
			this.release(items);
			this.flushIfIdle();
		}
	}
}
