/**
 * One `EmbedPipeline.process` call: reads its Source, takes each item (path claim, stamp, resume
 * check), hands it to the shared ImageFlow, then waits until every one of its items has ended.
 * Keeps its own counts, failure reasons and stop; a source that fails stops only this call, one
 * that is incomplete (a DICOMweb listing broke off) lets what it yielded go on and says so.
 */
import { ResultsStoreError } from "../results/store";
import { DicomwebError } from "../sources/dicomweb/client";
import { IncompleteSourceError } from "../sources/dicomwebSource";
import type { Logger } from "../util/logger";
import { redactUrlsIn } from "../util/redactUrl";
import { stampWorkItem } from "./converter";
import type { FlowCall, ImageFlow } from "./imageFlow";
import type { FileStamp, Recorder } from "./recorder";
import type { SourceItem, WorkItem } from "./types";

export interface ProcessCounts {
	/** Work items taken (ignored files not included). */
	found: number;
	embedded: number;
	/** Already done (an earlier record of the same file, or of the same image content): not sent. */
	alreadyDone: number;
	failed: number;
	skipped: number;
	/** Files the source ignored (not DICOM, junk). */
	ignored: number;
}

/** What happened to the items of one `process` call. */
export interface ProcessResult {
	counts: ProcessCounts;
	/** Why images failed (skipped ones not included): one entry per distinct reason, commonest first. */
	failureReasons: { reason: string; count: number }[];
	/** Set when the call stopped early (fatal endpoint or store error, source failure) or its source was incomplete. */
	fatal?: { code: string; message: string };
	/** True when the call's signal aborted it (and nothing fatal happened). */
	cancelled: boolean;
}

/** What a call needs of its pipeline. */
export interface CallHost {
	readonly logger: Logger;
	readonly recorder: Recorder;
	readonly flow: ImageFlow;
	/** Adds to the pipeline-wide counts (progress). */
	counted(what: keyof ProcessCounts): void;
	report(): void;
	/** An endpoint-wide or store failure: stop every call. */
	stopAll(code: string, why: string): void;
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

export class ProcessCall implements FlowCall {
	readonly counts: ProcessCounts = { found: 0, embedded: 0, alreadyDone: 0, failed: 0, skipped: 0, ignored: 0 };
	private readonly reasons = new Map<string, number>();
	private readonly ctrl = new AbortController();
	/** Items handed to the flow and not ended (they settle without rejecting). */
	private readonly tasks = new Set<Promise<void>>();
	private fatal: { code: string; message: string } | undefined;
	/** A source that yielded what it could and broke off (not a stop: what it yielded goes on). */
	private incomplete: { code: string; message: string } | undefined;

	constructor(
		private readonly host: CallHost,
		private readonly userSignal: AbortSignal,
	) {}

	/** Aborts when the call is cancelled or stopped. */
	get signal(): AbortSignal {
		return this.ctrl.signal;
	}

	count(what: keyof ProcessCounts): void {
		this.counts[what]++;
		this.host.counted(what);
	}

	failedImage(reason: string): void {
		this.count("failed");
		this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
	}

	stop(code: string, why: string): void {
		if (!this.fatal) {
			this.fatal = { code, message: redactUrlsIn(why) };
			this.host.logger.error(`The run stops: ${this.fatal.message}`);
		}
		this.ctrl.abort();
	}

	async recordFailure(stamp: FileStamp, stage: string, error: string, sha256?: string): Promise<void> {
		await this.host.recorder.failure(stamp, stage, error, sha256);
		if (stage === "skipped") this.count("skipped");
		else this.failedImage(error);
		this.host.report();
	}

	/** Reads the source to its end (or the call's stop), then waits for every item taken. */
	async run(items: AsyncIterable<SourceItem> | Iterable<SourceItem>): Promise<ProcessResult> {
		const { flow } = this.host;
		const onUserAbort = () => this.ctrl.abort(this.userSignal.reason);
		const onAbort = () => flow.drop(this);
		this.ctrl.signal.addEventListener("abort", onAbort, { once: true });
		if (this.userSignal.aborted) onUserAbort();
		else this.userSignal.addEventListener("abort", onUserAbort, { once: true });
		try {
			flow.sourceStarted();
			this.host.report();
			try {
				for await (const item of items) {
					if (this.signal.aborted) break;
					if (item.kind === "ignored") this.count("ignored");
					else await this.take(item);
				}
			} catch (e) {
				if (!this.signal.aborted) this.sourceFailed(e);
			} finally {
				flow.sourceEnded();
			}
			this.host.report();
			while (this.tasks.size > 0) await Promise.all([...this.tasks]);
		} finally {
			this.userSignal.removeEventListener("abort", onUserAbort);
			this.ctrl.signal.removeEventListener("abort", onAbort);
		}
		const fatal = this.fatal ?? this.incomplete;
		const failureReasons = [...this.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
		return { counts: { ...this.counts }, failureReasons, ...(fatal ? { fatal } : {}), cancelled: this.userSignal.aborted && !fatal };
	}

	/**
	 * One item from the source: stamp, resume check, then conversion (bounded) or its record. An
	 * item whose path another item is processing (this call or another) waits for it first, so that
	 * a path is recorded once, and is then found done by its stamp.
	 */
	private async take(item: WorkItem): Promise<void> {
		const { flow, recorder } = this.host;
		const signal = this.signal;
		this.count("found");
		const release = await flow.claimPath(item.path, signal);
		let handedOver = false;
		try {
			if (signal.aborted) return;
			const { stamp, failure } = await stampWorkItem(item);
			if (failure) return await this.recordFailure(stamp, failure.stage, failure.error);
			const earlier = recorder.statusOf(stamp);
			if (earlier) {
				this.count(earlier === "embedded" ? "alreadyDone" : "skipped");
				this.host.report();
				return;
			}
			if (item.kind === "skipped") return await this.recordFailure(stamp, "skipped", item.reason);
			try {
				await flow.waitForRoom(signal);
			} catch (e) {
				if (signal.aborted) return;
				throw e;
			}
			this.track(flow.start(this, item, stamp).finally(release));
			handedOver = true;
			this.host.report();
		} finally {
			if (!handedOver) release();
		}
	}

	private track(body: Promise<void>): void {
		const p = body.catch((e: unknown) => {
			if (e instanceof ResultsStoreError) this.host.stopAll("store", message(e));
			else if (!isAbort(e) || !this.signal.aborted) this.stop("internal", `internal error: ${message(e)}`);
		});
		this.tasks.add(p);
		void p.then(() => this.tasks.delete(p)); // never rejects (caught above)
	}

	private sourceFailed(e: unknown): void {
		if (e instanceof IncompleteSourceError) {
			for (const p of e.problems) this.host.logger.error(p);
			this.incomplete ??= { code: e.code, message: e.message };
		} else if (e instanceof ResultsStoreError) {
			this.host.stopAll("store", message(e));
		} else if (e instanceof DicomwebError && e.fatal) {
			this.stop("dicomweb", e.message);
		} else {
			this.stop("discovery", `discovery failed: ${message(e)}`);
		}
	}
}
