import * as vscode from "vscode";
import { defaultConvertOptions, type ConvertOptions } from "../../core/dicom/types";
import { defaultEndpointSettings, type EndpointSettings } from "../../core/endpoint/types";

export const configSection = "medImageInsight";

export type AuthMode = "key" | "entra";

/** Everything a run or the endpoint needs from the settings, read once and frozen. */
export interface ConfigSnapshot {
	readonly endpoint: Readonly<EndpointSettings>;
	readonly authMode: AuthMode;
	readonly convert: Readonly<ConvertOptions>;
	/** 0 = automatic. */
	readonly workers: number;
	/** Empty = the default location. */
	readonly outputFolder: string;
	/** DICOMweb retrievals (WADO-RS) in flight at most. */
	readonly dicomwebRetrievalConcurrency: number;
	/** The queue's Redis (redis://HOST:PORT[/DB]); empty = runs are local. */
	readonly queueUrl: string;
}

/** Settings whose change affects a run in progress (it keeps the snapshot it started with). */
const runSettings = [
	"endpoint",
	"batchSize",
	"maxConcurrentRequests",
	"rateLimit",
	"retries",
	"retryMaxDelaySeconds",
	"maxPauseMinutes",
	"requestTimeoutSeconds",
	"outputFolder",
	"thumbnailSize",
	"workers",
	"grayscalePng",
	"maxFileSizeMB",
	"dicomweb",
	"queue",
];

/**
 * The one typed reader of `medImageInsight.*`. Values outside the documented bounds (hand-edited
 * settings.json) are clamped, so core always receives a valid, frozen options object.
 */
export class Config {
	/** The settings as they are now. */
	snapshot(scope?: vscode.Uri): ConfigSnapshot {
		const c = vscode.workspace.getConfiguration(configSection, scope);
		const int = (key: string, def: number, min: number, max: number): number => clamp(Math.round(num(c.get<unknown>(key), def)), min, max);
		const real = (key: string, def: number, min: number, max: number): number => clamp(num(c.get<unknown>(key), def), min, max);
		const deployment = str(c.get<unknown>("endpoint.deployment")).trim();
		const endpoint: EndpointSettings = {
			...defaultEndpointSettings,
			url: str(c.get<unknown>("endpoint.url")).trim(),
			...(deployment ? { deployment } : {}),
			batchSize: int("batchSize", defaultEndpointSettings.batchSize, 1, 100),
			maxConcurrentRequests: int("maxConcurrentRequests", defaultEndpointSettings.maxConcurrentRequests, 1, 64),
			rateLimit: Object.freeze({
				calls: int("rateLimit.calls", defaultEndpointSettings.rateLimit.calls, 1, 100000),
				periodSeconds: real("rateLimit.periodSeconds", defaultEndpointSettings.rateLimit.periodSeconds, 1, 3600),
			}),
			retries: int("retries", defaultEndpointSettings.retries, 1, 20),
			maxRetryDelayMs: Math.max(defaultEndpointSettings.minRetryDelayMs, Math.round(real("retryMaxDelaySeconds", defaultEndpointSettings.maxRetryDelayMs / 1000, 1, 600) * 1000)),
			maxPauseMs: Math.round(real("maxPauseMinutes", defaultEndpointSettings.maxPauseMs / 60_000, 1, 1440) * 60_000),
			requestTimeoutMs: Math.round(real("requestTimeoutSeconds", defaultEndpointSettings.requestTimeoutMs / 1000, 5, 600) * 1000),
		};
		return Object.freeze({
			endpoint: Object.freeze(endpoint),
			authMode: c.get<unknown>("endpoint.authMode") === "entra" ? "entra" : "key",
			convert: Object.freeze({
				...defaultConvertOptions,
				thumbnailSize: int("thumbnailSize", 128, 0, 512),
				grayscalePng: c.get<unknown>("grayscalePng") !== false,
				maxFileSizeMB: int("maxFileSizeMB", defaultConvertOptions.maxFileSizeMB ?? 2048, 0, 1_048_576),
			}),
			workers: int("workers", 0, 0, 32),
			outputFolder: str(c.get<unknown>("outputFolder")).trim(),
			dicomwebRetrievalConcurrency: int("dicomweb.retrievalConcurrency", 4, 1, 64),
			queueUrl: str(c.get<unknown>("queue.url")).trim(),
		});
	}

	/** True when a change touches a setting that a run uses (takes effect on the next run). */
	static affectsRun(e: vscode.ConfigurationChangeEvent): boolean {
		return runSettings.some((k) => e.affectsConfiguration(`${configSection}.${k}`));
	}

	/** True when a change touches the endpoint client (URL, auth, limits). */
	static affectsEndpoint(e: vscode.ConfigurationChangeEvent): boolean {
		return runSettings.filter((k) => !["outputFolder", "thumbnailSize", "workers", "grayscalePng"].includes(k)).some((k) => e.affectsConfiguration(`${configSection}.${k}`));
	}

	/**
	 * Writes the endpoint URL to the user settings: it is application-scoped (a workspace cannot redirect
	 * the key), and nothing is ever written into the user's project.
	 */
	async setEndpointUrl(url: string): Promise<void> {
		await vscode.workspace.getConfiguration(configSection).update("endpoint.url", url, vscode.ConfigurationTarget.Global);
	}

	/** Writes the authentication mode to the user settings (application-scoped, like the URL). */
	async setAuthMode(mode: AuthMode): Promise<void> {
		const c = vscode.workspace.getConfiguration(configSection);
		if (c.inspect("endpoint.authMode")?.globalValue !== mode) await c.update("endpoint.authMode", mode, vscode.ConfigurationTarget.Global);
	}
}

function num(v: unknown, def: number): number {
	return typeof v === "number" && Number.isFinite(v) ? v : def;
}

function str(v: unknown): string {
	return typeof v === "string" ? v : "";
}

function clamp(v: number, min: number, max: number): number {
	return Math.min(max, Math.max(min, v));
}
