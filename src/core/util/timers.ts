/**
 * Timer delays that Node accepts: setTimeout with more than 2^31 - 1 ms (about 24.8 days) fires at once
 * (with a TimeoutOverflowWarning), and a negative or NaN delay is taken as 1 ms. Every delay that comes
 * from outside (Retry-After, settings) goes through `timerDelay`; a caller that needs longer waits again.
 */
export const maxTimerDelayMs = 2 ** 31 - 1;

/** `ms` clamped to what setTimeout honours: 0 … 2^31 - 1 (NaN gives 0). */
export function timerDelay(ms: number): number {
	if (!(ms > 0)) return 0;
	return Math.min(ms, maxTimerDelayMs);
}
