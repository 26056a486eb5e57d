import * as vscode from "vscode";
import type { Logger } from "../../core/util/logger";

/** Lines kept in memory for the test API (the output channel keeps the full log). */
const recentLimit = 2000;

/**
 * The "MedImageInsight" LogOutputChannel wrapped as the core Logger, with a component tag per
 * user. Users pick the level with "Developer: Set Log Level…". Never pass a secret to it.
 */
export class ExtensionLog implements Logger, vscode.Disposable {
	readonly channel: vscode.LogOutputChannel;
	private readonly recent: string[] = [];

	constructor(name = "MedImageInsight") {
		this.channel = vscode.window.createOutputChannel(name, { log: true });
	}

	/** A Logger whose lines start with `[component]`. */
	scoped(component: string): Logger {
		const tag = `[${component}] `;
		return {
			trace: (m, ...a) => this.trace(tag + m, ...a),
			debug: (m, ...a) => this.debug(tag + m, ...a),
			info: (m, ...a) => this.info(tag + m, ...a),
			warn: (m, ...a) => this.warn(tag + m, ...a),
			error: (m, ...a) => this.error(typeof m === "string" ? tag + m : m, ...a),
		};
	}

	trace(message: string, ...args: unknown[]): void {
		this.keep("trace", message, args);
		this.channel.trace(message, ...args);
	}
	debug(message: string, ...args: unknown[]): void {
		this.keep("debug", message, args);
		this.channel.debug(message, ...args);
	}
	info(message: string, ...args: unknown[]): void {
		this.keep("info", message, args);
		this.channel.info(message, ...args);
	}
	warn(message: string, ...args: unknown[]): void {
		this.keep("warn", message, args);
		this.channel.warn(message, ...args);
	}
	error(message: string | Error, ...args: unknown[]): void {
		this.keep("error", message instanceof Error ? `${message.name}: ${message.message}` : message, args);
		this.channel.error(message, ...args);
	}

	show(): void {
		this.channel.show(true);
	}

	/** The most recent lines (all levels), for the test API. */
	recentLines(): string[] {
		return [...this.recent];
	}

	dispose(): void {
		this.channel.dispose();
	}

	private keep(level: string, message: string, args: unknown[]): void {
		const extra = args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : typeof a === "string" ? a : safeJson(a)));
		this.recent.push([level, message, ...extra].join(" "));
		if (this.recent.length > recentLimit) this.recent.splice(0, this.recent.length - recentLimit);
	}
}

function safeJson(v: unknown): string {
	try {
		return JSON.stringify(v) ?? String(v);
	} catch {
		return String(v);
	}
}
