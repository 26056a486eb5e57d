/**
 * The Send stage, as the pipeline sees it: one batch of PNGs to the embedder (the endpoint client,
 * which throttles, retries and splits), and each answer checked before it may become a record —
 * a vector of another length than the embeddings already in the output folder, or one with values
 * that are not finite numbers, is a failure with its reason, never a result.
 */
import { FatalEndpointError, type EmbedItemResult, type ImageEmbedder } from "../endpoint/types";
import type { SendOutcome } from "./recorder";
import { UploadStats } from "./uploadStats";

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

function isAbort(e: unknown): boolean {
	return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

export class Sender {
	/** What was handed to the endpoint (run.json `upload`). */
	readonly upload = new UploadStats();
	/** Batches being sent right now. */
	private active = 0;

	constructor(
		private readonly embedder: ImageEmbedder,
		/** The vector length every answer must have (that of the embeddings already recorded; else set by the first accepted answer). */
		private expectedDim: number | undefined,
	) {}

	get inFlight(): number {
		return this.active;
	}

	/**
	 * Sends one batch; resolves with one checked outcome per PNG (same order), or undefined when
	 * `signal` aborted it (nothing to record: the next run sends these). A request that fails for
	 * another reason fails each of its images with that reason. Rejects with FatalEndpointError when
	 * the run must stop.
	 */
	async send(pngs: readonly Uint8Array[], signal: AbortSignal): Promise<SendOutcome[] | undefined> {
		this.active++;
		this.upload.add(pngs.map((p) => p.byteLength));
		let results: EmbedItemResult[];
		try {
			results = await this.embedder.embedImages(
				pngs.map((png, i) => ({ id: String(i), png })),
				signal,
				this.expectedDim !== undefined ? { expectedDim: this.expectedDim } : {},
			);
		} catch (e) {
			if (e instanceof FatalEndpointError) throw e;
			if (signal.aborted || isAbort(e)) return undefined;
			return pngs.map(() => ({ ok: false, error: `request failed: ${message(e)}` }));
		} finally {
			this.active--;
		}
		const byId = new Map(results.map((r) => [r.id, r]));
		return pngs.map((_, i) => this.check(byId.get(String(i))));
	}

	private check(r: EmbedItemResult | undefined): SendOutcome {
		if (!r) return { ok: false, error: "the endpoint returned no result for this image" };
		if (!r.ok) return { ok: false, error: r.error };
		if (this.expectedDim !== undefined && r.embedding.length !== this.expectedDim) {
			return { ok: false, error: `the endpoint returned a vector of ${r.embedding.length} numbers, expected ${this.expectedDim} like the embeddings already in this folder` };
		}
		if (!r.embedding.every(Number.isFinite)) return { ok: false, error: "the endpoint returned an embedding with values that are not finite numbers" };
		this.expectedDim ??= r.embedding.length;
		return { ok: true, embedding: Array.from(r.embedding), ...(r.scalingFactor !== undefined ? { scalingFactor: r.scalingFactor } : {}) };
	}
}
