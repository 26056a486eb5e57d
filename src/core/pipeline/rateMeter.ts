/**
 * Images per second over a sliding window, for progress and the time left. Keeps one sample per
 * `resolutionMs` at most, so its memory is bounded by window / resolution whatever the rate.
 */
export class RateMeter {
	private readonly samples: { t: number; total: number }[] = [];

	constructor(
		private readonly windowMs = 10_000,
		private readonly resolutionMs = 250,
	) {}

	/** Records that `total` items were done by time `now` (ms, monotonic). */
	add(now: number, total: number): void {
		const last = this.samples[this.samples.length - 1];
		if (last && now - last.t < this.resolutionMs) return; // rate() takes the current total anyway
		this.samples.push({ t: now, total });
		this.trim(now);
	}

	/** Items per second over the window ending at `now`; 0 until a second of history exists. */
	rate(now: number, total: number): number {
		this.trim(now);
		const first = this.samples[0];
		if (!first) return 0;
		const span = now - first.t;
		if (span < 1000) return 0;
		return ((total - first.total) * 1000) / span;
	}

	private trim(now: number): void {
		// Keep one sample at or before the window start so the window is always fully covered.
		while (this.samples.length > 1 && this.samples[1]!.t <= now - this.windowMs) this.samples.shift();
	}
}
