import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { azureMlScope, entraTokenProvider, keyTokenProvider } from "../../../src/core/endpoint/auth";
import { FatalEndpointError } from "../../../src/core/endpoint/types";

/** A TokenCredential that hands out numbered tokens valid for `lifetimeMs`, and records every call. */
function countingCredential(lifetimeMs: number, delayMs = 0): TokenCredential & { calls: { scopes: string | string[]; options?: GetTokenOptions }[] } {
	const calls: { scopes: string | string[]; options?: GetTokenOptions }[] = [];
	return {
		calls,
		async getToken(scopes, options): Promise<AccessToken> {
			calls.push(options ? { scopes, options } : { scopes });
			if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
			return { token: `token-${calls.length}`, expiresOnTimestamp: Date.now() + lifetimeMs };
		},
	};
}

void describe("keyTokenProvider", () => {
	void it("asks the key store on every call and trims the key", async () => {
		let n = 0;
		const p = keyTokenProvider(async () => `  key-${++n}\n`);
		assert.equal(await p.getToken(), "key-1");
		assert.equal(await p.getToken(), "key-2");
	});

	void it("an empty key is a FatalEndpointError 'config' that says how to set one", async () => {
		const p = keyTokenProvider(async () => "   ");
		await assert.rejects(p.getToken(), (e: unknown) => e instanceof FatalEndpointError && e.code === "config" && /MEDIMAGEINSIGHT_API_KEY/.test(e.message));
	});
});

void describe("entraTokenProvider", () => {
	void it("asks for the Azure ML scope and caches a token until shortly before it expires", async () => {
		const cred = countingCredential(60 * 60 * 1000);
		const p = entraTokenProvider(cred);
		assert.equal(await p.getToken(), "token-1");
		assert.equal(await p.getToken(), "token-1");
		assert.equal(cred.calls.length, 1);
		assert.equal(cred.calls[0]!.scopes, "https://ml.azure.com/.default");
		assert.equal(azureMlScope, "https://ml.azure.com/.default");
	});

	void it("refreshes a token that expires within the safety margin", async () => {
		const cred = countingCredential(2 * 60 * 1000);
		const p = entraTokenProvider(cred);
		assert.equal(await p.getToken(), "token-1");
		assert.equal(await p.getToken(), "token-2");
	});

	void it("concurrent callers share one token request", async () => {
		const cred = countingCredential(60 * 60 * 1000, 30);
		const p = entraTokenProvider(cred, "api://custom/.default");
		const tokens = await Promise.all([p.getToken(), p.getToken(), p.getToken()]);
		assert.deepEqual(tokens, ["token-1", "token-1", "token-1"]);
		assert.equal(cred.calls.length, 1);
		assert.equal(cred.calls[0]!.scopes, "api://custom/.default");
	});

	void it("a credential that fails or returns nothing is a FatalEndpointError 'unauthorized'", async () => {
		const failing: TokenCredential = { getToken: async () => Promise.reject(new Error("AzureCliCredential: Please run 'az login'")) };
		await assert.rejects(entraTokenProvider(failing).getToken(), (e: unknown) => e instanceof FatalEndpointError && e.code === "unauthorized" && /az login/.test(e.message));
		const empty: TokenCredential = { getToken: async () => null };
		await assert.rejects(entraTokenProvider(empty).getToken(), (e: unknown) => e instanceof FatalEndpointError && e.code === "unauthorized");
	});
});
