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

/** Status bar text after a run. */
export function statusBarSummaryText(s: RunSummary): string {
	const embedded = s.embedded + s.alreadyDone;
	if (s.fatal) return `$(error) MedImageInsight: stopped`;
	if (s.cancelled) return `$(circle-slash) ${formatCount(embedded)}/${formatCount(s.found)} · cancelled`;
	if (s.failed > 0) return `$(warning) ${formatCount(embedded)} embedded · ${formatCount(s.failed)} failed`;
	return `$(check) ${formatCount(embedded)} embedded`;
}

/** The sentence shown when a run ends. */
export function summaryMessage(s: RunSummary, simulated: boolean): string {
	const secs = formatDuration(s.elapsedMs / 1000);
	const parts = [`${formatCount(s.embedded)} embedded`];
	if (s.alreadyDone) parts.push(`${formatCount(s.alreadyDone)} already done`);
	if (s.failed) parts.push(`${formatCount(s.failed)} failed`);
	if (s.skipped) parts.push(`${formatCount(s.skipped)} skipped (no image)`);
	if (s.ignored) parts.push(`${formatCount(s.ignored)} other files ignored`);
	const sim = simulated ? " (simulated endpoint, not MedImageInsight)" : "";
	if (s.fatal) return `MedImageInsight stopped after ${secs}: ${s.fatal.message} (${parts.join(", ")})`;
	if (s.cancelled) return `MedImageInsight run cancelled after ${secs}: ${parts.join(", ")}. Run it again to continue where it stopped.${sim}`;
	if (s.found === 0) return `No DICOM files found${s.ignored ? ` (${formatCount(s.ignored)} other files ignored)` : ""}.`;
	return `MedImageInsight: ${parts.join(", ")} in ${secs}.${sim}`;
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
