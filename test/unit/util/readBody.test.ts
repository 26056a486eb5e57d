import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readBodyCapped } from "../../../src/core/util/readBody";
import { startTestServer } from "../endpoint/helpers";

/** A loopback server answering each request with `body` in 1000-byte chunks (no Content-Length), or declaring `declare` bytes and sending 10. */
async function serve(body: Buffer, declare?: number) {
	return startTestServer((_req, res) => {
		if (declare !== undefined) {
			res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": String(declare) });
			res.write(body.subarray(0, 10));
			setTimeout(() => res.destroy(), 50);
			return;
		}
		res.writeHead(200, { "Content-Type": "application/octet-stream" });
		for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
		res.end();
	});
}

const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

void describe("readBodyCapped", () => {
	void it("reads a body at or under the cap whole", async () => {
		const server = await serve(data);
		try {
			const r = await readBodyCapped(await fetch(server.url), 5000);
			assert.equal(r.ok, true);
			assert.deepEqual(r.ok && r.bytes, data);
		} finally {
			await server.close();
		}
	});

	void it("stops above the cap and says how many bytes it had seen (chunked answer)", async () => {
		const server = await serve(data);
		try {
			const r = await readBodyCapped(await fetch(server.url), 2500);
			assert.equal(r.ok, false);
			assert.ok(!r.ok && r.bytes > 2500 && r.bytes <= 5000, String(r.bytes));
		} finally {
			await server.close();
		}
	});

	void it("refuses at once when Content-Length declares more than the cap, without reading", async () => {
		const server = await serve(data, 10_000_000);
		try {
			const r = await readBodyCapped(await fetch(server.url), 4096);
			assert.deepEqual(r, { ok: false, bytes: 10_000_000 });
		} finally {
			await server.close();
		}
	});

	void it("with truncate, returns exactly the first `cap` bytes of a longer body, or all of a shorter one", async () => {
		const server = await serve(data);
		try {
			const r = await readBodyCapped(await fetch(server.url), 1500, { truncate: true });
			assert.equal(r.ok, true);
			assert.deepEqual(r.ok && r.bytes, data.subarray(0, 1500));
			const whole = await readBodyCapped(await fetch(server.url), 9000, { truncate: true });
			assert.deepEqual(whole.ok && whole.bytes, data);
		} finally {
			await server.close();
		}
	});
});
