// The DICOMweb client against loopback servers that misbehave in the ways real ones do: capped
// pages, ignored offsets, redirects, transient refusals, bad credentials.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { basicAuth, DicomwebClient, DicomwebError, type InstanceRef } from "../../../../src/core/sources/dicomweb/client";
import { parseDicomwebUrl } from "../../../../src/core/sources/dicomweb/url";

interface Server {
	url: string;
	hits: string[];
	close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Server> {
	const hits: string[] = [];
	const server = http.createServer((req, res) => {
		hits.push(`${req.method} ${req.url}`);
		handler(req, res);
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		hits,
		close: () =>
			new Promise((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}

const uid = (i: number) => `1.2.826.0.1.3680043.8.498.${i}`;
const json = (res: http.ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}) => {
	res.writeHead(status, { "content-type": "application/dicom+json", ...headers });
	res.end(JSON.stringify(body));
};
const fast = { minRetryDelayMs: 5, maxRetryDelayMs: 50, timeoutMs: 5000 };

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
	const out: T[] = [];
	for await (const x of it) out.push(x);
	return out;
}

/** A study with `n` instances in one series, whose server answers at most `cap` results per page. */
function cappedServer(n: number, cap: number, honourOffset = true) {
	return serve((req, res) => {
		const u = new URL(req.url!, "http://x");
		const limit = Number(u.searchParams.get("limit") ?? "1000");
		const offset = honourOffset ? Number(u.searchParams.get("offset") ?? "0") : 0;
		if (u.pathname.endsWith("/series")) return json(res, [{ "0020000E": { vr: "UI", Value: [uid(1)] }, "00080060": { vr: "CS", Value: ["CT"] } }].slice(offset));
		if (u.pathname.endsWith("/instances")) {
			const all = Array.from({ length: n }, (_, i) => ({ "00080018": { vr: "UI", Value: [uid(100 + i)] } }));
			return json(res, all.slice(offset, offset + Math.min(limit, cap)));
		}
		res.writeHead(404).end();
	});
}

void describe("DICOMweb client", () => {
	void it("pages through QIDO-RS until an empty page: a server's own page cap does not truncate the run", async () => {
		const s = await cappedServer(23, 4);
		try {
			const client = new DicomwebClient({ pageSize: 10, ...fast });
			const refs = await all(client.instances(parseDicomwebUrl(`${s.url}/dicom-web/studies/${uid(0)}`)));
			assert.deepEqual(
				refs.map((r) => r.sopInstanceUid),
				Array.from({ length: 23 }, (_, i) => uid(100 + i)),
			);
			assert.ok(refs.every((r) => r.modality === "CT" && r.path === `${uid(0)}/${uid(1)}/${r.sopInstanceUid}`));
			const pages = s.hits.filter((h) => h.includes("/instances"));
			assert.equal(pages.length, 7, "6 pages of 4 (the last one short) and one empty page");
		} finally {
			await s.close();
		}
	});

	void it("a server that ignores offset is an error, not an endless loop", async () => {
		const s = await cappedServer(23, 4, false);
		try {
			const client = new DicomwebClient({ pageSize: 4, ...fast });
			await assert.rejects(all(client.instances(parseDicomwebUrl(`${s.url}/dicom-web/studies/${uid(0)}`))), /ignores QIDO-RS paging/);
		} finally {
			await s.close();
		}
	});

	void it("never follows a redirect: the other server receives nothing and the error names where it pointed", async () => {
		const elsewhere = await serve((_req, res) => json(res, []));
		const s = await serve((_req, res) => {
			res.writeHead(307, { location: `${elsewhere.url}/dicom-web/studies/${uid(0)}/series?token=abc` });
			res.end();
		});
		try {
			const client = new DicomwebClient({ auth: basicAuth("u", "p"), ...fast });
			const err = await all(client.instances(parseDicomwebUrl(`${s.url}/dicom-web/studies/${uid(0)}`))).then(
				() => undefined,
				(e: unknown) => e,
			);
			assert.ok(err instanceof DicomwebError && err.code === "redirect" && err.fatal, String(err));
			assert.match(err.message, new RegExp(`redirected .*HTTP 307.* to ${elsewhere.url.replace(/\./g, "\\.")}`));
			assert.doesNotMatch(err.message, /token=abc/);
			assert.equal(elsewhere.hits.length, 0);
			assert.equal(s.hits.length, 1, "a redirect is not retried either");
		} finally {
			await s.close();
			await elsewhere.close();
		}
	});

	void it("bad credentials stop at once (no retries) and say what to check", async () => {
		let seenAuth = "";
		const s = await serve((req, res) => {
			seenAuth = req.headers.authorization ?? "";
			res.writeHead(401, { "www-authenticate": 'Basic realm="x"' }).end();
		});
		try {
			const client = new DicomwebClient({ auth: basicAuth("alice", "wrong"), ...fast });
			await assert.rejects(all(client.series(`${s.url}/dicom-web`, uid(0))), (e: unknown) => e instanceof DicomwebError && e.code === "unauthorized" && e.fatal && /refused the credentials/.test(e.message));
			assert.equal(s.hits.length, 1);
			assert.equal(seenAuth, `Basic ${Buffer.from("alice:wrong").toString("base64")}`);
		} finally {
			await s.close();
		}
	});

	void it("retries 503 with Retry-After and dropped connections, then succeeds", async () => {
		let n = 0;
		const part = new Uint8Array([1, 2, 3, 4, 5]);
		const s = await serve((req, res) => {
			n++;
			if (n === 1) return void res.writeHead(503, { "retry-after": "0" }).end("busy");
			if (n === 2) return void req.socket.destroy();
			const boundary = "bnd";
			res.writeHead(200, { "content-type": `multipart/related; type="application/dicom"; boundary=${boundary}` });
			res.end(Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), part, Buffer.from(`\r\n--${boundary}--`)]));
		});
		try {
			const client = new DicomwebClient(fast);
			const ref: Pick<InstanceRef, "base" | "studyUid" | "seriesUid" | "sopInstanceUid"> = { base: `${s.url}/dicom-web`, studyUid: uid(0), seriesUid: uid(1), sopInstanceUid: uid(2) };
			assert.deepEqual([...(await client.retrieve(ref))], [...part]);
			assert.equal(n, 3);
			assert.match(s.hits[2]!, new RegExp(`GET /dicom-web/studies/${uid(0)}/series/${uid(1)}/instances/${uid(2)}`));
		} finally {
			await s.close();
		}
	});

	void it("a server that goes away fails the retrieval with a reason after the retries", async () => {
		const s = await serve(() => undefined);
		const base = `${s.url}/dicom-web`;
		await s.close();
		const client = new DicomwebClient({ ...fast, attempts: 2 });
		await assert.rejects(client.retrieve({ base, studyUid: uid(0), seriesUid: uid(1), sopInstanceUid: uid(2) }), (e: unknown) => e instanceof DicomwebError && e.code === "network" && /connection refused/.test(e.message));
	});

	void it("a retrieval answered with HTML (a login page) is malformed, not an instance", async () => {
		const s = await serve((_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<html>sign in</html>"));
		try {
			const client = new DicomwebClient(fast);
			await assert.rejects(client.retrieve({ base: `${s.url}/dw`, studyUid: uid(0), seriesUid: uid(1), sopInstanceUid: uid(2) }), /text\/html, not multipart\/related/);
		} finally {
			await s.close();
		}
	});
});
