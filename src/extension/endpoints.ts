import * as vscode from "vscode";
import { azureMlScope, keyTokenProvider } from "../core/endpoint/auth";
import { EndpointClient } from "../core/endpoint/client";
import { FatalEndpointError, type EndpointSettings, type ImageEmbedder, type TokenProvider } from "../core/endpoint/types";
import { Disposable } from "./disposable";
import { Config, type AuthMode } from "./ui/config";
import type { ExtensionLog } from "./ui/log";
import type { ApiKeyStore } from "./ui/secrets";

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

	tokenProvider(mode: AuthMode): TokenProvider {
		if (mode === "key") return keyTokenProvider(() => this.keys.get());
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

	/** A new client for one run or one test request; the caller disposes it. */
	create(settings: Readonly<EndpointSettings>, mode: AuthMode): ImageEmbedder {
		return new EndpointClient({ ...settings, rateLimit: { ...settings.rateLimit } }, this.tokenProvider(mode), this.log.scoped("endpoint"));
	}

	/** The cached client for the results view (text queries, zero-shot labels). */
	async sharedClient(): Promise<ImageEmbedder> {
		if (this.shared) return this.shared;
		const snap = this.config.snapshot();
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
