// The Batch stage on its own: a full batch goes at once, a partial one after the linger (and only
// while a request slot is free), flush() sends what is forming, and the held count and PNG bytes
// bound the pipeline until the images are released.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Batcher, type BatcherOptions } from "../../../src/core/pipeline/batcher";

interface Img {
	id: number;
	bytes: number;
}

function batcher(over: Partial<BatcherOptions<Img>> = {}) {
	const sent: Img[][] = [];
	const b = new Batcher<Img>({
		size: 3,
		lingerMs: 10,
		maxHeld: 100,
		maxHeldBytes: 1_000_000,
		bytesOf: (i) => i.bytes,
		canSendPartial: () => true,
		send: (items) => sent.push(items),
		...over,
	});
	return { b, sent };
}

const img = (id: number, bytes = 10): Img => ({ id, bytes });

/** Waits until `cond` holds (hang guard only: the condition decides, not the clock). */
async function until(cond: () => boolean, what: string): Promise<void> {
	const deadline = Date.now() + 20_000;
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`hang guard: ${what}`);
		await new Promise((r) => setTimeout(r, 2));
	}
}

void describe("Batcher", () => {
	void it("sends a batch as soon as it holds batch-size images, synchronously, in order", () => {
		const { b, sent } = batcher();
		b.add(img(1));
		b.add(img(2));
		assert.equal(sent.length, 0);
		b.add(img(3));
		assert.deepEqual(
			sent.map((s) => s.map((i) => i.id)),
			[[1, 2, 3]],
		);
		b.add(img(4));
		assert.equal(b.size, 1, "the next batch starts forming");
		b.dispose();
	});

	void it("sends a partial batch after the linger when no more images come", async () => {
		const { b, sent } = batcher({ lingerMs: 5 });
		b.add(img(1));
		b.add(img(2));
		await until(() => sent.length > 0, "the partial batch was never sent");
		assert.deepEqual(
			sent.map((s) => s.map((i) => i.id)),
			[[1, 2]],
		);
		assert.equal(b.size, 0);
		b.dispose();
	});

	void it("keeps a partial batch while no request slot is free, and sends it once one is", async () => {
		let free = false;
		let asked = 0;
		const { b, sent } = batcher({
			lingerMs: 2,
			canSendPartial: () => {
				asked++;
				return free;
			},
		});
		b.add(img(1));
		await until(() => asked >= 5, "the linger did not ask for a slot again");
		assert.equal(sent.length, 0, "no partial batch while every slot is taken");
		free = true;
		await until(() => sent.length > 0, "the partial batch was never sent once a slot was free");
		assert.deepEqual(
			sent.map((s) => s.map((i) => i.id)),
			[[1]],
		);
		b.dispose();
	});

	void it("flush() sends what is forming at once; an empty flush sends nothing", () => {
		const { b, sent } = batcher({ lingerMs: 60_000 });
		b.flush();
		assert.equal(sent.length, 0);
		b.add(img(1));
		b.flush();
		assert.deepEqual(
			sent.map((s) => s.map((i) => i.id)),
			[[1]],
		);
		b.dispose();
	});

	void it("bounds the images held and their bytes until they are released", () => {
		const { b, sent } = batcher({ size: 2, maxHeld: 4, maxHeldBytes: 250, lingerMs: 60_000 });
		b.add(img(1, 100));
		assert.ok(b.hasRoom());
		b.add(img(2, 100)); // a full batch goes, but its images stay held until released
		assert.equal(sent.length, 1);
		assert.equal(b.held, 2);
		assert.equal(b.heldBytes, 200);
		assert.ok(b.hasRoom(), "200 of 250 bytes, 2 of 4 images");
		b.add(img(3, 100));
		assert.equal(b.heldBytes, 300);
		assert.equal(b.hasRoom(), false, "over the bytes bound");
		b.release(sent[0]!);
		assert.equal(b.held, 1);
		assert.equal(b.heldBytes, 100);
		assert.ok(b.hasRoom());
		b.dispose();
	});

	void it("bounds the number of images held whatever their size", () => {
		const { b } = batcher({ size: 10, maxHeld: 3, lingerMs: 60_000 });
		for (let i = 0; i < 3; i++) b.add(img(i, 1));
		assert.equal(b.hasRoom(), false);
		b.dispose();
	});

	void it("remove() takes the selected images out of the forming batch; they stay held until released", () => {
		const { b, sent } = batcher({ size: 10, lingerMs: 60_000 });
		for (let i = 1; i <= 4; i++) b.add(img(i));
		const out = b.remove((i) => i.id % 2 === 0);
		assert.deepEqual(
			out.map((i) => i.id),
			[2, 4],
		);
		assert.equal(b.size, 2);
		assert.equal(b.held, 4);
		b.release(out);
		assert.equal(b.held, 2);
		b.flush();
		assert.deepEqual(
			sent.map((s) => s.map((i) => i.id)),
			[[1, 3]],
		);
		b.dispose();
	});

	void it("remove() of the whole forming batch cancels its linger: nothing is sent afterwards", async () => {
		const { b, sent } = batcher({ lingerMs: 2 });
		b.add(img(1));
		b.remove(() => true);
		let ticks = 0;
		await until(() => ++ticks > 20, "timer");
		assert.equal(sent.length, 0);
		b.dispose();
	});
});
