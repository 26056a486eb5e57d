/**
 * Retries of one request (PRODUCT.md §3) with p-retry: exponential backoff with jitter between
 * `minRetryDelayMs` and `maxRetryDelayMs`, at most `retries` attempts, only for the kinds retryPolicy
 * calls retryable; never after an abort or once the client stopped for good.
 */
import type { Logger } from "../util/logger";
import { AttemptError, isRetryable } from "./retryPolicy";
import type { EndpointSettings } from "./types";

type PRetryModule = typeof import("p-retry", { with: { "resolution-mode": "import" } });
let pRetryModule: Promise<PRetryModule> | undefined;
/** p-retry is ESM-only; load it once, lazily (works under tsc's CommonJS output and in esbuild bundles). */
function loadPRetry(): Promise<PRetryModule> {
	pRetryModule ??= import("p-retry");
	return pRetryModule;
}

/**
 * Runs `attempt` until it resolves, or rejects with its last error once retries are exhausted or the
 * error is not retryable. `stopped()` true (the client failed for good) ends the retries at once.
 */
export async function withRetries<T>(
	attempt: () => Promise<T>,
	settings: Pick<EndpointSettings, "retries" | "minRetryDelayMs" | "maxRetryDelayMs">,
	options: { signal: AbortSignal; stopped: () => boolean; logger: Logger; what: string },
): Promise<T> {
	const { default: pRetry } = await loadPRetry();
	const { signal, stopped, logger, what } = options;
	return pRetry(attempt, {
		retries: settings.retries - 1,
		factor: 2,
		minTimeout: settings.minRetryDelayMs,
		maxTimeout: settings.maxRetryDelayMs,
		randomize: true,
		signal,
		shouldRetry: (err) => !signal.aborted && !stopped() && isRetryable(err, err.attemptNumber),
		onFailedAttempt: (err) => {
			if (err instanceof AttemptError && isRetryable(err, err.attemptNumber) && err.retriesLeft > 0 && !signal.aborted) {
				logger.debug(`${what} failed (${err.message}); attempt ${err.attemptNumber} of ${settings.retries}, retrying.`);
				if (err.connection) logger.debug(`Connection error detail: ${err.connection.detail}`);
			}
		},
	});
}
