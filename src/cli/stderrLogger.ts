/** The CLI's Logger: one line per message on stderr, at or above a level. */
import type { Logger } from "../core/util/logger";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "off";
const order: LogLevel[] = ["trace", "debug", "info", "warn", "error", "off"];

function render(message: string | Error, args: unknown[]): string {
	const text = message instanceof Error ? message.message : message;
	const extra = args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a))).join(" ");
	return extra ? `${text} ${extra}` : text;
}

/**
 * A stderr logger. `beforeWrite` lets a progress line clear itself first so that log lines and the
 * updating progress line do not mix.
 */
export function stderrLogger(level: LogLevel, beforeWrite: () => void = () => undefined): Logger {
	const min = order.indexOf(level);
	const emit = (l: LogLevel) => (message: string | Error, ...args: unknown[]) => {
		if (order.indexOf(l) < min) return;
		beforeWrite();
		process.stderr.write(`[${l}] ${render(message, args)}\n`);
	};
	return { trace: emit("trace"), debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
