/**
 * multipart/related (RFC 2387) read as a stream: WADO-RS answers a retrieve with one part per
 * instance. Parts are yielded as they complete, so a series of a thousand instances is never held
 * whole; a part larger than the cap is an error, not an allocation.
 */

export class MultipartError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "MultipartError";
	}
}

export interface MultipartPart {
	/** Header names in lower case. */
	headers: Record<string, string>;
	body: Uint8Array;
}

/** A media type and its parameters (names in lower case, quotes removed). */
export function parseContentType(value: string): { type: string; params: Record<string, string> } {
	const params: Record<string, string> = {};
	const semi = value.indexOf(";");
	const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
	const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
	let m: RegExpExecArray | null;
	while ((m = re.exec(value.slice(Math.max(0, semi))))) {
		let v = m[2]!.trim();
		if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
		params[m[1]!.toLowerCase()] = v;
	}
	return { type, params };
}

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, end: number): number {
	const first = needle[0]!;
	const last = end - needle.length;
	for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
		let j = 1;
		while (j < needle.length && hay[i + j] === needle[j]) j++;
		if (j === needle.length) return i;
	}
	return -1;
}

/** A growable byte buffer with a read position. */
class Bytes {
	buf = new Uint8Array(64 * 1024);
	start = 0;
	end = 0;
	push(chunk: Uint8Array): void {
		if (this.end + chunk.length > this.buf.length) {
			const live = this.end - this.start;
			if (live + chunk.length <= this.buf.length && this.start > 0) {
				this.buf.copyWithin(0, this.start, this.end);
			} else {
				let size = this.buf.length;
				while (size < live + chunk.length) size *= 2;
				const next = new Uint8Array(size);
				next.set(this.buf.subarray(this.start, this.end));
				this.buf = next;
			}
			this.start = 0;
			this.end = live;
		}
		this.buf.set(chunk, this.end);
		this.end += chunk.length;
	}
	get length(): number {
		return this.end - this.start;
	}
}

/**
 * Yields the parts of a multipart/related body. `maxPartBytes` bounds one part (the whole of one
 * DICOM instance); the stream must end with the closing delimiter, else the last part is reported
 * as truncated.
 */
export async function* readMultipart(body: AsyncIterable<Uint8Array>, boundary: string, maxPartBytes: number): AsyncGenerator<MultipartPart> {
	if (!boundary) throw new MultipartError("The multipart answer has no boundary.");
	const dash = enc.encode(`--${boundary}`);
	const delim = enc.encode(`\r\n--${boundary}`);
	const b = new Bytes();
	// States: before the first delimiter; in a part's headers; in a part's body; done.
	let state: "preamble" | "headers" | "body" | "done" = "preamble";
	let headers: Record<string, string> = {};
	let scanFrom = 0; // relative to b.start, where the delimiter search resumes in a body
	let ended = false;
	const it = body[Symbol.asyncIterator]();
	const more = async (): Promise<boolean> => {
		if (ended) return false;
		const r = await it.next();
		if (r.done) {
			ended = true;
			return false;
		}
		b.push(r.value);
		return true;
	};
	try {
		for (;;) {
			if (state === "preamble") {
				const at = indexOf(b.buf, dash, b.start, b.end);
				if (at < 0) {
					if (b.length > 64 * 1024) throw new MultipartError("No multipart boundary in the first 64 KB of the answer.");
					if (!(await more())) throw new MultipartError("The answer ended before its first multipart boundary.");
					continue;
				}
				b.start = at + dash.length;
				state = "headers";
				continue;
			}
			if (state === "headers") {
				// After a delimiter: "--" closes the body; otherwise optional whitespace, CRLF, headers, CRLF CRLF.
				if (b.length < 2 && (await more())) continue;
				if (b.length >= 2 && b.buf[b.start] === 0x2d && b.buf[b.start + 1] === 0x2d) {
					state = "done";
					return;
				}
				const endOfHeaders = indexOf(b.buf, enc.encode("\r\n\r\n"), b.start, b.end);
				if (endOfHeaders < 0) {
					if (b.length > 16 * 1024) throw new MultipartError("A multipart part's headers are longer than 16 KB.");
					if (!(await more())) throw new MultipartError("The answer ended inside a part's headers.");
					continue;
				}
				headers = {};
				const text = dec.decode(b.buf.subarray(b.start, endOfHeaders));
				for (const line of text.split("\r\n").slice(1)) {
					const colon = line.indexOf(":");
					if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
				}
				b.start = endOfHeaders + 4;
				scanFrom = 0;
				state = "body";
				continue;
			}
			if (state === "body") {
				const at = indexOf(b.buf, delim, b.start + scanFrom, b.end);
				if (at < 0) {
					if (b.length > maxPartBytes + delim.length) throw new MultipartError(`A part of the answer is larger than ${Math.round(maxPartBytes / 1048576)} MB.`);
					scanFrom = Math.max(0, b.length - delim.length + 1);
					if (!(await more())) throw new MultipartError("The answer ended inside a part (truncated transfer).");
					continue;
				}
				const part = b.buf.slice(b.start, at);
				if (part.length > maxPartBytes) throw new MultipartError(`A part of the answer is larger than ${Math.round(maxPartBytes / 1048576)} MB.`);
				b.start = at + delim.length;
				state = "headers";
				yield { headers, body: part };
				continue;
			}
			return;
		}
	} finally {
		if (!ended) await it.return?.();
	}
}
