import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describeConnectionError } from "../../../src/core/endpoint/connectionError";

/** What fetch throws for `url` (a real attempt on the loopback interface). */
async function fetchError(url: string): Promise<unknown> {
	try {
		await fetch(url, { method: "POST", body: "{}" });
	} catch (e) {
		return e;
	}
	throw new Error(`fetch ${url} did not fail`);
}

/** An error shaped as Node's resolver and TLS layers make them, wrapped as undici's fetch wraps them. */
function wrapped(code: string, message: string, extra: Record<string, unknown> = {}): TypeError {
	const cause = Object.assign(new Error(message), { code, ...extra });
	return new TypeError("fetch failed", { cause });
}

void describe("describeConnectionError", () => {
	void it("connection refused (a real one): names the address, keeps the code and the technical detail", async () => {
		const s = http.createServer();
		await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
		const port = (s.address() as AddressInfo).port;
		await new Promise<void>((r) => s.close(() => r()));
		const url = `http://127.0.0.1:${port}/score`;
		const d = describeConnectionError(await fetchError(url), url);
		assert.equal(d.code, "ECONNREFUSED");
		assert.equal(d.kind, "unreachable");
		assert.equal(d.reason, `nothing is listening at 127.0.0.1:${port} (connection refused)`);
		assert.equal(d.message, `Cannot reach the endpoint at ${url}: nothing is listening at 127.0.0.1:${port} (connection refused). Check the URL and that the endpoint is running.`);
		assert.match(d.detail, /fetch failed; caused by: connect ECONNREFUSED 127\.0\.0\.1:\d+/);
	});

	void it("a port fetch refuses to use (127.0.0.1:9, the URL of the bug report) says so", async () => {
		const url = "http://127.0.0.1:9/score";
		const d = describeConnectionError(await fetchError(url), url);
		assert.equal(d.code, "BAD_PORT");
		assert.match(d.message, /^Cannot reach the endpoint at http:\/\/127\.0\.0\.1:9\/score: port 9 is refused for HTTP requests .* Check the port in the URL\.$/);
	});

	void it("a connection closed by the server (a real one) is a reset, not 'unreachable'", async () => {
		const s = http.createServer((req) => req.socket.destroy());
		await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
		const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/score`;
		try {
			const d = describeConnectionError(await fetchError(url), url);
			assert.equal(d.kind, "connection");
			assert.match(d.reason, /closed before an answer/);
			assert.notEqual(d.code, "UNKNOWN");
		} finally {
			await new Promise<void>((r) => s.close(() => r()));
		}
	});

	void it("DNS failures name the host", () => {
		const url = "https://mii-prod.eastus.inference.ml.azure.com/score";
		const nf = describeConnectionError(wrapped("ENOTFOUND", "getaddrinfo ENOTFOUND mii-prod.eastus.inference.ml.azure.com", { hostname: "mii-prod.eastus.inference.ml.azure.com", syscall: "getaddrinfo" }), url);
		assert.equal(nf.code, "ENOTFOUND");
		assert.equal(nf.message, `Cannot reach the endpoint at ${url}: no such host mii-prod.eastus.inference.ml.azure.com (the name does not resolve). Check the host name in the URL.`);
		assert.match(nf.detail, /getaddrinfo ENOTFOUND/);
		const again = describeConnectionError(wrapped("EAI_AGAIN", "getaddrinfo EAI_AGAIN x"), url);
		assert.match(again.reason, /could not be resolved right now/);
	});

	void it("connect timeouts and unreachable networks say what to check", () => {
		const url = "https://10.1.2.3/score";
		assert.match(describeConnectionError(wrapped("ETIMEDOUT", "connect ETIMEDOUT 10.1.2.3:443", { address: "10.1.2.3", port: 443 }), url).reason, /^no answer from 10\.1\.2\.3:443 while connecting/);
		assert.match(describeConnectionError(wrapped("UND_ERR_CONNECT_TIMEOUT", "Connect Timeout Error"), url).message, /firewall or proxy/);
		assert.match(describeConnectionError(wrapped("EHOSTUNREACH", "connect EHOSTUNREACH"), url).reason, /host unreachable/);
	});

	for (const [code, says] of [
		["CERT_HAS_EXPIRED", /certificate has expired/],
		["DEPTH_ZERO_SELF_SIGNED_CERT", /self-signed.*NODE_EXTRA_CA_CERTS/],
		["UNABLE_TO_VERIFY_LEAF_SIGNATURE", /cannot be verified.*NODE_EXTRA_CA_CERTS/],
		["ERR_TLS_CERT_ALTNAME_INVALID", /not issued for this host name/],
		["SELF_SIGNED_CERT_IN_CHAIN", /self-signed/],
		["ERR_SSL_WRONG_VERSION_NUMBER", /http:\/\/ versus https:\/\//],
	] as const) {
		void it(`${code} is a TLS problem with what to check`, () => {
			const d = describeConnectionError(wrapped(code, `tls failure ${code}`), "https://mii.example.test/score");
			assert.equal(d.code, code);
			assert.equal(d.kind, "tls");
			assert.match(d.message, says);
			assert.match(d.detail, new RegExp(code));
		});
	}

	void it("redacts credentials of the URL in the message and the detail; never throws on odd input", () => {
		const url = "https://mii.example.test/score?code=FUNCTION-KEY-1&x=1";
		const d = describeConnectionError(wrapped("ECONNRESET", `socket hang up at ${url}`), url);
		assert.ok(!d.message.includes("FUNCTION-KEY-1") && !d.detail.includes("FUNCTION-KEY-1"), `${d.message} / ${d.detail}`);
		assert.match(d.message, /code=redacted/);
		for (const odd of [undefined, null, "text", 42, {}, new Error("plain")]) {
			const o = describeConnectionError(odd, "not a url");
			assert.equal(typeof o.message, "string");
			assert.equal(o.code, "UNKNOWN");
		}
	});
});
