/**
 * Requests in flight of one client, adaptive (AIMD, PRODUCT.md §3) on p-limit: halved when the
 * endpoint says "Too many pending requests", +1 after a run of successes, never above the configured
 * maximum. p-limit's `concurrency` can change while work waits, which is all AIMD needs.
 */
import type { Logger } from "../util/logger";
import { abortReason } from "./rateLimiter";

type PLimitModule = typeof import("p-limit", { with: { "resolution-mode": "import" } });
type LimitFunction = ReturnType<PLimitModule["default"]>;
let pLimitModule: Promise<PLimitModule> | undefined;
/** p-limit is ESM-only; load it once, lazily (works under tsc's CommonJS output and in esbuild bundles). */
function loadPLimit(): Promise<PLimitModule> {
	pLimitModule ??= import("p-limit");
	return pLimitModule;
}

export class AdaptiveConcurrency {
	private limit: LimitFunction | undefined;
	private current: number;
	private successRun = 0;
	private lastDecreaseAt = 0;
	/** The concurrency at which the endpoint last said "Too many pending requests". */
	private overloadedAt = Infinity;

	/** `onChange` is called when the concurrency or the number in flight changes. */
	constructor(
		private readonly max: number,
		private readonly logger: Logger,
		private readonly onChange: () => void,
	) {
		this.current = max;
	}

	get concurrency(): number {
		return this.current;
	}

	/** Requests holding a slot. */
	get inFlight(): number {
		return this.limit?.activeCount ?? 0;
	}

	/**
	 * Runs `task` in a slot, waiting for one first. An abort while waiting rejects at once with the
	 * abort reason (the task then never runs).
	 */
	async run<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
		signal.throwIfAborted();
		if (!this.limit) {
			const { default: pLimit } = await loadPLimit();
			this.limit ??= pLimit(this.current);
		}
		const limit = this.limit;
		signal.throwIfAborted();
		return new Promise<T>((resolve, reject) => {
			let gaveUp = false;
			let started = false;
			const onAbort = () => {
				if (started) return;
				gaveUp = true;
				reject(abortReason(signal));
			};
			signal.addEventListener("abort", onAbort, { once: true });
			void limit(async () => {
				signal.removeEventListener("abort", onAbort);
				if (gaveUp) return;
				started = true;
				this.onChange();
				try {
					resolve(await task());
				} catch (e) {
					reject(e);
				}
			}).finally(() => {
				if (started) queueMicrotask(() => this.onChange());
			});
		});
	}

	/** A success: additive increase, +1 after 2×concurrency successes in a row (ten times slower next to the level that last overloaded the endpoint). */
	noteSuccess(): void {
		this.successRun++;
		const patience = this.current + 1 >= this.overloadedAt ? 20 : 2;
		if (this.current < this.max && this.successRun >= patience * this.current) {
			this.set(this.current + 1);
			this.successRun = 0;
			this.logger.debug(`Endpoint keeps up: concurrency raised to ${this.current}.`);
		}
	}

	/** An endpoint-wide refusal: the run of successes starts again. */
	noteRefusal(): void {
		this.successRun = 0;
	}

	/** "Too many pending requests" for a request started at `startedAt`: multiplicative decrease, once per wave. */
	noteOverload(startedAt: number): void {
		this.successRun = 0;
		if (startedAt < this.lastDecreaseAt || this.current <= 1) return;
		this.overloadedAt = this.current;
		// One decrease per wave: requests started before the last decrease do not count again.
		this.set(Math.max(1, Math.floor(this.current / 2)));
		this.lastDecreaseAt = Date.now();
		this.logger.info(`Endpoint has too many pending requests: concurrency lowered to ${this.current}.`);
	}

	private set(n: number): void {
		this.current = n;
		if (this.limit) this.limit.concurrency = n;
		this.onChange();
	}
}
