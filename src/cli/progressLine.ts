/**
 * Progress on stderr: one line rewritten in place when stderr is a terminal, plain lines every few
 * seconds otherwise (logs, CI).
 */
export class ProgressLine {
	private lastPlain = 0;
	private shown = false;

	constructor(
		private readonly stream: NodeJS.WriteStream = process.stderr,
		private readonly plainEveryMs = 5000,
	) {}

	get isTty(): boolean {
		return this.stream.isTTY === true;
	}

	/** Shows `text` (a TTY line is cut to the terminal width); plain output is throttled. */
	update(text: string, force = false): void {
		if (this.isTty) {
			const width = Math.max(20, (this.stream.columns || 100) - 1);
			this.stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width - 1) + "…" : text}`);
			this.shown = true;
			return;
		}
		const now = Date.now();
		if (!force && now - this.lastPlain < this.plainEveryMs) return;
		this.lastPlain = now;
		this.stream.write(`${text}\n`);
	}

	/** Clears the in-place line (before other output). */
	clear(): void {
		if (this.isTty && this.shown) {
			this.stream.write("\r\x1b[2K");
			this.shown = false;
		}
	}
}

export function formatDuration(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return "?";
	const s = Math.round(seconds);
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
	return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}
