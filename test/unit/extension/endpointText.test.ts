import { test } from "node:test";
import assert from "node:assert/strict";
import { endpointOrigin, endpointUrlProblem, isLoopbackHost, plainText } from "../../../src/extension/ui/endpointText";

void test("loopback is 127.0.0.0/8, ::1 and localhost, nothing else", () => {
	for (const h of ["127.0.0.1", "127.255.3.4", "localhost", "LOCALHOST", "[::1]", "::1", "app.localhost"]) assert.equal(isLoopbackHost(h), true, h);
	for (const h of ["128.0.0.1", "10.0.0.1", "localhost.example.com", "127.0.0.1.nip.io", "0.0.0.0", "[::2]", "example.com", "127.0.0.256"]) assert.equal(isLoopbackHost(h), false, h);
});

void test("plain http is refused except for loopback; https is accepted; credentials and other schemes are refused", () => {
	assert.equal(endpointUrlProblem("https://x.westeurope.inference.ml.azure.com/score"), undefined);
	assert.equal(endpointUrlProblem("http://127.0.0.1:9/score"), undefined);
	assert.equal(endpointUrlProblem("http://localhost:8080/score"), undefined);
	assert.equal(endpointUrlProblem("http://[::1]:8080/score"), undefined);
	assert.equal(endpointUrlProblem("http://x.westeurope.inference.ml.azure.com/score"), "plain-http");
	assert.equal(endpointUrlProblem("http://10.1.2.3/score"), "plain-http");
	assert.equal(endpointUrlProblem("http://127.0.0.1.evil.example/score"), "plain-http");
	assert.equal(endpointUrlProblem("ftp://x/score"), "scheme");
	assert.equal(endpointUrlProblem("https://u:p@x/score"), "credentials");
	assert.equal(endpointUrlProblem("not a url"), "not-a-url");
	assert.equal(endpointUrlProblem("  "), "empty");
});

void test("keys belong to an origin: scheme, host and port", () => {
	assert.equal(endpointOrigin("https://A.example.com/score?x=1"), "https://a.example.com");
	assert.equal(endpointOrigin("https://a.example.com:8443/score"), "https://a.example.com:8443");
	assert.notEqual(endpointOrigin("https://a.example.com/score"), endpointOrigin("https://b.example.com/score"));
	assert.equal(endpointOrigin("file:///etc/passwd"), undefined);
	assert.equal(endpointOrigin("nope"), undefined);
});

void test("endpoint text loses link, command and icon markup before a notification shows it", () => {
	const hostile = "Model error: [click to fix](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22rm%22%7D) $(alert) see [docs](https://evil.example) <command:foo.bar>";
	const out = plainText(hostile);
	assert.ok(!/\]\s*\(/.test(out), out);
	assert.ok(!out.includes("$("), out);
	assert.ok(!/command:/i.test(out), out);
	assert.ok(out.includes("click to fix") && out.includes("docs") && out.includes("alert"), out);
	assert.equal(plainText("Cannot reach the endpoint at http://127.0.0.1:9/score: connection refused."), "Cannot reach the endpoint at http://127.0.0.1:9/score: connection refused.");
	assert.equal(plainText("a\u0000b\u202Ec"), "a b c");
	assert.equal(plainText("[x][ref] ![img](data:x)"), "x img");
	assert.equal(plainText("x".repeat(1000), 50).length, 50);
});
