/**
 * Words for a run's progress (notification, status bar, final message). Plain functions with no
 * `vscode` import, so unit tests run them under node.
 */
import type { RunProgress, RunSummary } from "../../core/pipeline/types";

const fmt = new Intl.NumberFormat("en-US");

export function formatCount(n: number): string {
	return fmt.format(Math.max(0, Math.round(n)));
}

/** "<1 s", "42 s", "17 min", "2 h 5 min". */
export function formatDuration(seconds: number): string {
	if (!(seconds >= 0.5)) return "<1 s";
	const s = Math.round(seconds);
	if (s < 60) return `${s} s`;
	const m = Math.round(s / 60);
	if (m < 60) return `${m} min`;
	const h = Math.floor(m / 60);
	const rest = m % 60;
	return rest ? `${h} h ${rest} min` : `${h} h`;
}

export function formatRate(rate: number): string {
	if (!Number.isFinite(rate) || rate <= 0) return "0";
	return rate < 100 ? rate.toFixed(1) : formatCount(rate);
}

/** Files that reached their end state (embedded now or before, failed, skipped). */
export function doneCount(p: Pick<RunProgress, "embedded" | "alreadyDone" | "failed" | "skipped">): number {
	return p.embedded + p.alreadyDone + p.failed + p.skipped;
}

/** Percentage of the files found so far that are done (0–100). */
export function percentDone(p: RunProgress): number {
	if (p.found <= 0) return 0;
	return Math.min(100, (doneCount(p) / p.found) * 100);
}

/** The notification message: "Embedding 1,234 / 10,000 · 8.3 img/s · 17 min left". */
export function progressMessage(p: RunProgress, now = Date.now()): string {
	const done = doneCount(p);
	const total = `${formatCount(p.found)}${p.discoveryDone ? "" : "+"}`;
	const failed = p.failed > 0 ? ` · ${formatCount(p.failed)} failed` : "";
	if (p.client.state === "paused") {
		const wait = Math.ceil((p.client.resumeAt - now) / 1000);
		const waiting = wait > 0 ? `waiting ${formatDuration(wait)}` : "probing";
		return `Endpoint throttling — ${waiting} · ${formatCount(done)} / ${total} done${failed}`;
	}
	if (done === 0 && p.converted === 0) {
		return p.discoveryDone ? `Preparing ${total} images…` : `Looking for DICOM files… ${formatCount(p.found)} found`;
	}
	const parts = [`Embedding ${formatCount(done)} / ${total}`, `${formatRate(p.rate)} img/s`];
	if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) && p.discoveryDone) parts.push(`${formatDuration(p.etaSeconds)} left`);
	return parts.join(" · ") + failed;
}

/** Status bar text while running: "$(sync~spin) 120/900 · 14/s". */
export function statusBarRunningText(p: RunProgress): string {
	if (p.client.state === "paused") return `$(watch) ${formatCount(doneCount(p))}/${formatCount(p.found)} · throttled`;
	return `$(sync~spin) ${formatCount(doneCount(p))}/${formatCount(p.found)}${p.discoveryDone ? "" : "+"} · ${formatRate(p.rate)}/s`;
}

/** Status bar text after a run (the same counts as the final message, in short). */
export function statusBarSummaryText(s: RunSummary): string {
	const embedded = s.embedded + s.alreadyDone;
	if (s.fatal) return `$(error) MedImageInsight: stopped`;
	if (s.cancelled) return `$(circle-slash) ${formatCount(embedded)}/${formatCount(s.found)} · cancelled`;
	if (s.failed > 0) return `$(warning) ${formatCount(embedded)} embedded · ${formatCount(s.failed)} failed`;
	return `$(check) ${formatCount(embedded)} embedded`;
}

/** "1 image", "2 images". */
function plural(n: number, one: string, many: string): string {
	return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The commonest failure reason of a run, when the core reported reasons. */
export function commonestReason(s: Pick<RunSummary, "failed" | "failureReasons">): { reason: string; count: number } | undefined {
	if (s.failed <= 0) return undefined;
	const top = [...(s.failureReasons ?? [])].filter((r) => r.count > 0 && r.reason.trim()).sort((a, b) => b.count - a.count)[0];
	return top ? { reason: top.reason.trim(), count: Math.min(top.count, s.failed) } : undefined;
}

/** "56 failed: connection refused", or "56 failed (50: connection refused)" when other reasons exist. */
export function failedText(s: Pick<RunSummary, "failed" | "failureReasons">): string {
	const top = commonestReason(s);
	const n = `${formatCount(s.failed)} failed`;
	if (!top) return n;
	return top.count >= s.failed ? `${n}: ${top.reason}` : `${n} (${formatCount(top.count)}: ${top.reason})`;
}

/**
 * The counts of a run in one sentence, used by the final message, the status bar's tooltip and the
 * log alike (one story everywhere): "Nothing to do: all 56 images were already embedded",
 * "280 images: 56 embedded now, 224 identical to images already embedded", "56 failed: connection refused".
 */
export function countsText(s: RunSummary, elapsed?: string): string {
	const images = Math.max(0, s.found - s.skipped);
	const skipped = s.skipped ? `; ${plural(s.skipped, "file", "files")} without an image skipped` : "";
	const ignored = s.ignored ? `; ${plural(s.ignored, "other file", "other files")} ignored` : "";
	if (s.embedded === 0 && s.failed === 0 && s.alreadyDone > 0 && s.alreadyDone >= images && !s.cancelled) {
		return `Nothing to do: ${s.alreadyDone === 1 ? "the image was" : `all ${formatCount(s.alreadyDone)} images were`} already embedded${skipped}${ignored}`;
	}
	if (s.alreadyDone === 0 && s.failed === 0 && !s.cancelled && s.embedded === images) {
		return `${plural(s.embedded, "image", "images")} embedded${elapsed ? ` in ${elapsed}` : ""}${skipped}${ignored}`;
	}
	const parts: string[] = [];
	if (s.embedded > 0) parts.push(`${formatCount(s.embedded)} embedded now`);
	else if (s.alreadyDone === 0) parts.push("none embedded");
	if (s.alreadyDone) parts.push(s.embedded > 0 ? `${formatCount(s.alreadyDone)} identical to images already embedded` : `${formatCount(s.alreadyDone)} already embedded`);
	if (s.failed) parts.push(failedText(s));
	const left = images - s.embedded - s.alreadyDone - s.failed;
	if (left > 0) parts.push(`${formatCount(left)} not done yet`);
	return `${plural(images, "image", "images")}: ${parts.join(", ")}${elapsed ? ` (${elapsed})` : ""}${skipped}${ignored}`;
}

/** The sentence shown when a run ends (the toast, the status bar's tooltip and the log say the same). */
export function summaryMessage(s: RunSummary, simulated: boolean): string {
	const secs = formatDuration(s.elapsedMs / 1000);
	const sim = simulated ? " (simulated endpoint, not MedImageInsight)" : "";
	if (s.fatal) {
		const done = s.embedded + s.failed + s.alreadyDone > 0 ? ` ${countsText(s)}.` : "";
		return `MedImageInsight stopped after ${secs}: ${s.fatal.message}${done}`;
	}
	if (s.found === 0) return `No DICOM files found${s.ignored ? ` (${plural(s.ignored, "other file", "other files")} ignored)` : ""}.`;
	if (s.cancelled) return `Run cancelled after ${secs}. ${countsText(s)}. Run it again to continue where it stopped.${sim}`;
	if (s.embedded === 0 && s.failed === 0 && s.alreadyDone > 0) return `${countsText(s)}.${sim}`;
	return `${countsText(s, secs)}.${sim}`;
}

/** Lets at most one report through per `intervalMs` (≤ 4 reports/s by default). */
export class ReportThrottle {
	private last = -Infinity;

	constructor(private readonly intervalMs = 250) {}

	shouldReport(now = Date.now()): boolean {
		if (now - this.last < this.intervalMs) return false;
		this.last = now;
		return true;
	}
}
