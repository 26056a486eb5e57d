/**
 * Small helpers over node:util parseArgs: strict parsing that turns every mistake into a one-line
 * UsageError, and typed readers for numeric options.
 */
import { parseArgs } from "node:util";
import { UsageError } from "./usageError";

export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

export interface Parsed {
	values: Record<string, string | boolean | undefined>;
	positionals: string[];
}

/** Parses `argv` (after the subcommand) strictly: unknown options and missing values are usage errors. */
export function parseCommand(command: string, argv: string[], options: OptionSpec): Parsed {
	try {
		const r = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
		return { values: r.values as Parsed["values"], positionals: r.positionals };
	} catch (e) {
		const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
		throw new UsageError(`${command}: ${msg.replace(/\. To specify a positional argument.*$/, "")}`);
	}
}

export function stringOption(p: Parsed, name: string): string | undefined {
	const v = p.values[name];
	return typeof v === "string" ? v : undefined;
}

/** An integer option within [min, max], or `fallback` when absent. */
export function intOption(p: Parsed, name: string, min: number, max: number, fallback: number): number;
export function intOption(p: Parsed, name: string, min: number, max: number): number | undefined;
export function intOption(p: Parsed, name: string, min: number, max: number, fallback?: number): number | undefined {
	const raw = stringOption(p, name);
	if (raw === undefined) return fallback;
	const n = Number(raw);
	if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
		throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
	}
	return n;
}

/** A decimal option within [min, max], or `fallback` when absent. */
export function numberOption(p: Parsed, name: string, min: number, max: number, fallback: number): number {
	const raw = stringOption(p, name);
	if (raw === undefined) return fallback;
	const n = Number(raw);
	if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
		throw new UsageError(`--${name} must be a number from ${min} to ${max} (got "${raw}")`);
	}
	return n;
}

/** `--rate CALLS/SECONDS`, e.g. 60/60; `fallback` when absent. */
export function rateOption(p: Parsed, name: string, fallback: { calls: number; periodSeconds: number }): { calls: number; periodSeconds: number } {
	const raw = stringOption(p, name);
	if (raw === undefined) return fallback;
	const m = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(raw);
	const calls = Number(m?.[1]);
	const periodSeconds = Number(m?.[2]);
	if (!m || calls < 1 || periodSeconds <= 0 || calls > 1_000_000 || periodSeconds > 86_400) {
		throw new UsageError(`--${name} must be CALLS/SECONDS, e.g. 60/60 for 60 requests per minute (got "${raw}")`);
	}
	return { calls, periodSeconds };
}
