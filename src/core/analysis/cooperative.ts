/**
 * Cooperative scheduling for long computations on a thread that must stay responsive (the extension
 * host, a webview): `await yielder()` inside loops gives the event loop a turn once the time budget is
 * used up, and throws the signal's reason when the work was cancelled.
 */
export type Yielder = () => Promise<void>;

/** A yielder that never waits (tests and benchmarks that want raw speed). */
export const noYield: Yielder = () => Promise.resolve();

export function createYielder(signal?: AbortSignal, budgetMs = 20): Yielder {
	let last = performance.now();
	return async () => {
		signal?.throwIfAborted();
		const now = performance.now();
		if (now - last < budgetMs) return;
		await new Promise<void>((resolve) => setTimeout(resolve, 0));
		signal?.throwIfAborted();
		last = performance.now();
	};
}
