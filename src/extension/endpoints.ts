import * as vscode from "vscode";
import { azureMlScope, keyTokenProvider } from "../core/endpoint/auth";
import { EndpointClient } from "../core/endpoint/client";
import { FatalEndpointError, type EndpointSettings, type ImageEmbedder, type TokenProvider } from "../core/endpoint/types";
import { Disposable } from "./disposable";
import { Config, type AuthMode } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import { endpointUrlProblem } from "./ui/endpointText";
import type { ApiKeyStore } from "./ui/secrets";
import type { SimulationHost } from "./simulation";

/**
 * Builds endpoint clients from the settings and the credential store. Runs get a client of their
 * own (disposed when the run ends); the results view shares one cached client, dropped whenever
 * the key (secrets.onDidChange) or an endpoint setting changes.
 */
export class EndpointService extends Disposable {
	private shared: ImageEmbedder | undefined;

	constructor(
		private readonly config: Config,
		private readonly keys: ApiKeyStore,
		private readonly log: ExtensionLog,
		private readonly simulation: SimulationHost,
	) {
		super();
		this.register(keys.onDidChange(() => this.drop("the API key changed")));
		this.register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (Config.affectsEndpoint(e)) this.drop("the endpoint settings changed");
			}),
		);
		this.register({ dispose: () => this.drop() });
	}

	/**
	 * The credentials for the endpoint at `url`: in key mode the key stored for that origin (the
	 * simulation's own key for the simulation), so a key is only ever sent where it was set for.
	 */
	tokenProvider(mode: AuthMode, url: string): TokenProvider {
		if (mode === "key") return keyTokenProvider(async () => this.simulation.keyFor(url) ?? (await this.keys.get(url)));
		return {
			getToken: async (signal?: AbortSignal) => {
				signal?.throwIfAborted();
				try {
					const session = await vscode.authentication.getSession("microsoft", [azureMlScope], { createIfNone: true });
					return session.accessToken;
				} catch (e) {
					throw new FatalEndpointError("unauthorized", `Microsoft sign-in for ${azureMlScope} failed or was cancelled (${e instanceof Error ? e.message : String(e)}).`);
				}
			},
		};
	}

	/**
	 * A new client for one run or one test request; the caller disposes it. Refuses (FatalEndpointError
	 * "config") a URL that must not get the key or the images: plain http:// to anything but loopback.
	 */
	create(settings: Readonly<EndpointSettings>, mode: AuthMode): ImageEmbedder {
		const problem = endpointUrlProblem(settings.url);
		if (problem) throw new FatalEndpointError("config", urlProblemMessage(problem, settings.url));
		return new EndpointClient({ ...settings, rateLimit: { ...settings.rateLimit } }, this.tokenProvider(mode, settings.url), this.log.scoped("endpoint"));
	}

	/** The cached client for the results view (text queries, zero-shot labels). */
	async sharedClient(): Promise<ImageEmbedder> {
		if (this.shared) return this.shared;
		const configured = this.config.snapshot();
		const sim = this.simulation.activeUrl;
		const snap = sim ? { ...configured, authMode: "key" as const, endpoint: { ...configured.endpoint, url: sim } } : configured;
		if (!snap.endpoint.url) throw new FatalEndpointError("config", "No endpoint is configured: run “MedImageInsight: Configure Endpoint” or “Start Simulated Endpoint”.");
		this.shared = this.create(snap.endpoint, snap.authMode);
		return this.shared;
	}

	private drop(why?: string): void {
		if (!this.shared) return;
		if (why) this.log.debug(`[endpoint] dropping the cached client: ${why}`);
		this.shared.dispose();
		this.shared = undefined;
	}
}

/** Why an endpoint URL is refused, in words. */
export function urlProblemMessage(problem: NonNullable<ReturnType<typeof endpointUrlProblem>>, url: string): string {
	switch (problem) {
		case "empty":
			return vscode.l10n.t("No endpoint is configured.");
		case "not-a-url":
			return vscode.l10n.t("The endpoint URL “{0}” is not a URL.", url);
		case "scheme":
			return vscode.l10n.t("The endpoint URL must start with https://.");
		case "credentials":
			return vscode.l10n.t("The endpoint URL must not hold a user name or password; the key is set separately.");
		case "plain-http":
			return vscode.l10n.t("Plain http:// is refused for {0}: the key and the images would travel unencrypted. Use https://, or a loopback address (127.0.0.1, localhost, ::1).", safeOrigin(url));
	}
}

function safeOrigin(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return url;
	}
}
