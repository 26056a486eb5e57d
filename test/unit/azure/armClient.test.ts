import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ArmClient, ArmError } from "../../../src/core/azure/armClient";
import type { Logger } from "../../../src/core/util/logger";

const token = "mgmt-token-CANARY-7f3a";
const key = "endpoint-key-CANARY-91bc";
const ws = "/subscriptions/sub-2/resourceGroups/rg-med/providers/Microsoft.MachineLearningServices/workspaces/ws-med";

interface Seen {
	method: string;
	url: string;
	auth: string | undefined;
}
const seen: Seen[] = [];
let server: Server;
let base = "";

function json(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "Content-Type": "application/json" });
	res.end(JSON.stringify(body));
}

function handle(req: IncomingMessage, res: ServerResponse): void {
	const url = new URL(req.url ?? "/", base);
	seen.push({ method: req.method ?? "", url: url.pathname + url.search, auth: req.headers.authorization });
	if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." } });
	const p = url.pathname;
	const v = url.searchParams.get("api-version");
	if (p === "/subscriptions" && v === "2022-12-01") {
		if (url.searchParams.get("page") === "2") return json(res, 200, { value: [{ subscriptionId: "sub-1", displayName: "Alpha research", state: "Enabled" }] });
		return json(res, 200, {
			value: [{ subscriptionId: "sub-2", displayName: "Radiology", state: "Enabled" }],
			nextLink: `${base}/subscriptions?api-version=2022-12-01&page=2`,
		});
	}
	if (p === "/subscriptions/sub-2/providers/Microsoft.MachineLearningServices/workspaces" && v === "2024-04-01") {
		return json(res, 200, { value: [{ id: ws, name: "ws-med", location: "westeurope" }] });
	}
	if (p === "/subscriptions/evil/providers/Microsoft.MachineLearningServices/workspaces") {
		return json(res, 200, { value: [], nextLink: "https://attacker.example/steal?x=1" });
	}
	if (p === `${ws}/onlineEndpoints` && v === "2024-04-01") {
		return json(res, 200, {
			value: [
				{ id: `${ws}/onlineEndpoints/mii-key`, name: "mii-key", properties: { scoringUri: "https://mii-key.westeurope.inference.ml.azure.com/score", authMode: "Key", provisioningState: "Succeeded", traffic: { blue: 100 } } },
				{ id: `${ws}/onlineEndpoints/mii-aad`, name: "mii-aad", properties: { scoringUri: "https://mii-aad.westeurope.inference.ml.azure.com/score", authMode: "AADToken", provisioningState: "Succeeded" } },
			],
		});
	}
	if (p === `${ws}/onlineEndpoints/mii-key/listKeys` && req.method === "POST" && v === "2024-04-01") return json(res, 200, { primaryKey: key, secondaryKey: "second" });
	if (p === `${ws}/onlineEndpoints/mii-aad/listKeys`) return json(res, 403, { error: { code: "AuthorizationFailed", message: "The client does not have authorization to perform action listKeys.\nMore text." } });
	json(res, 404, { error: { code: "ResourceNotFound", message: "nope" } });
}

before(async () => {
	server = createServer(handle);
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
	server.closeAllConnections();
	server.close();
});

function captureLogger(lines: string[]): Logger {
	const push = (m: unknown, ...a: unknown[]): void => {
		lines.push([m, ...a].map(String).join(" "));
	};
	return { trace: push, debug: push, info: push, warn: push, error: push };
}

void test("subscriptions are listed across pages with the bearer token, sorted by name", async () => {
	const client = new ArmClient(async () => token, { baseUrl: base });
	const subs = await client.listSubscriptions();
	assert.deepEqual(
		subs.map((s) => [s.subscriptionId, s.displayName]),
		[
			["sub-1", "Alpha research"],
			["sub-2", "Radiology"],
		],
	);
	const calls = seen.filter((s) => s.url.startsWith("/subscriptions?"));
	assert.equal(calls.length, 2);
	assert.ok(calls.every((c) => c.auth === `Bearer ${token}`));
});

void test("workspaces carry their resource group, endpoints their scoring URI and mapped auth mode", async () => {
	const client = new ArmClient(async () => token, { baseUrl: `${base}/` });
	const [w] = await client.listWorkspaces("sub-2");
	assert.ok(w);
	assert.equal(w.resourceGroup, "rg-med");
	assert.equal(w.location, "westeurope");
	const eps = await client.listOnlineEndpoints(w.id);
	assert.deepEqual(
		eps.map((e) => [e.name, e.authMode, e.scoringUri]),
		[
			["mii-aad", "entra", "https://mii-aad.westeurope.inference.ml.azure.com/score"],
			["mii-key", "key", "https://mii-key.westeurope.inference.ml.azure.com/score"],
		],
	);
	assert.deepEqual(eps[1]?.traffic, { blue: 100 });
});

void test("listKeys is a POST and its keys never reach the logger", async () => {
	const lines: string[] = [];
	const client = new ArmClient(async () => token, { baseUrl: base, logger: captureLogger(lines) });
	const keys = await client.listEndpointKeys(`${ws}/onlineEndpoints/mii-key`);
	assert.equal(keys.primaryKey, key);
	assert.equal(seen.at(-1)?.method, "POST");
	assert.ok(lines.length > 0, "the call is logged");
	assert.ok(lines.every((l) => !l.includes(key) && !l.includes(token)), lines.join("\n"));
});

void test("a 403 becomes a one-line ArmError that names the cause, without the token", async () => {
	const client = new ArmClient(async () => token, { baseUrl: base });
	await assert.rejects(client.listEndpointKeys(`${ws}/onlineEndpoints/mii-aad`), (e: unknown) => {
		assert.ok(e instanceof ArmError);
		assert.equal(e.status, 403);
		assert.equal(e.code, "AuthorizationFailed");
		assert.ok(!e.message.includes("\n"));
		assert.match(e.message, /listKeys/);
		assert.ok(!e.message.includes(token));
		return true;
	});
});

void test("a wrong token gives 401 with a sign-in hint", async () => {
	const client = new ArmClient(async () => "expired", { baseUrl: base });
	await assert.rejects(client.listSubscriptions(), (e: unknown) => e instanceof ArmError && e.status === 401 && /Sign in again/.test(e.message));
});

void test("a nextLink to another host is not followed (the token stays home)", async () => {
	const client = new ArmClient(async () => token, { baseUrl: base });
	await assert.rejects(client.listWorkspaces("evil"), (e: unknown) => e instanceof ArmError && e.code === "ForeignNextLink");
});

void test("an unreachable ARM gives a clear network error", async () => {
	const dead = createServer();
	await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
	const port = (dead.address() as AddressInfo).port;
	await new Promise<void>((r) => dead.close(() => r()));
	const client = new ArmClient(async () => token, { baseUrl: `http://127.0.0.1:${port}` });
	await assert.rejects(client.listSubscriptions(), (e: unknown) => e instanceof ArmError && e.code === "Network" && /Could not reach/.test(e.message));
});

void test("a resource id that is not one is refused before any request", async () => {
	const before = seen.length;
	const client = new ArmClient(async () => token, { baseUrl: base });
	await assert.rejects(client.listOnlineEndpoints("https://attacker.example/x"), (e: unknown) => e instanceof ArmError && e.code === "BadId");
	assert.equal(seen.length, before);
});
