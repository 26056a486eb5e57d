/**
 * Token providers for the endpoint client (PRODUCT.md §2, "Authentication"). Every mode ends up as
 * `Authorization: Bearer <credential>`; the credential never leaves the provider except in that header.
 */
import type { TokenCredential } from "@azure/identity";
import { FatalEndpointError, type TokenProvider } from "./types";

/** The scope of Azure ML online endpoints in `aad_token` mode. */
export const azureMlScope = "https://ml.azure.com/.default";

/** Refresh an Entra ID token this long before it expires. */
const refreshMarginMs = 5 * 60 * 1000;

/**
 * An endpoint key from a key store (SecretStorage in the extension, `MEDIMAGEINSIGHT_API_KEY` in the CLI).
 * `getKey` is called for every request so that a key changed in the middle of a run is picked up.
 */
export function keyTokenProvider(getKey: () => Promise<string>): TokenProvider {
	return {
		async getToken(signal?: AbortSignal): Promise<string> {
			signal?.throwIfAborted();
			const key = (await getKey()).trim();
			if (!key) {
				throw new FatalEndpointError("config", "No endpoint key is set: set the API key (MedImageInsight: Set API Key, or the MEDIMAGEINSIGHT_API_KEY environment variable).");
			}
			return key;
		},
	};
}

/**
 * A Microsoft Entra ID access token for `scope` (endpoints in `aad_token` mode), cached until shortly
 * before it expires. Concurrent callers share one pending request.
 */
export function entraTokenProvider(credential: TokenCredential, scope = azureMlScope): TokenProvider {
	let cached: { token: string; refreshAt: number } | undefined;
	let pending: Promise<string> | undefined;

	const fetchToken = async (signal?: AbortSignal): Promise<string> => {
		let result;
		try {
			result = await credential.getToken(scope, signal ? { abortSignal: signal } : {});
		} catch (e) {
			if (signal?.aborted) throw e;
			const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
			throw new FatalEndpointError("unauthorized", `Could not get a Microsoft Entra ID token for ${scope}: ${why}. Sign in (e.g. "az login") or use an endpoint key.`);
		}
		if (!result) {
			throw new FatalEndpointError("unauthorized", `Microsoft Entra ID returned no token for ${scope}. Sign in (e.g. "az login") or use an endpoint key.`);
		}
		const refreshAt = Math.min(result.refreshAfterTimestamp ?? Infinity, result.expiresOnTimestamp - refreshMarginMs);
		cached = { token: result.token, refreshAt };
		return result.token;
	};

	return {
		async getToken(signal?: AbortSignal): Promise<string> {
			signal?.throwIfAborted();
			if (cached && Date.now() < cached.refreshAt) return cached.token;
			pending ??= fetchToken(signal).finally(() => {
				pending = undefined;
			});
			return pending;
		},
	};
}
