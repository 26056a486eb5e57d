/**
 * The Batch stage: gathers converted images into batches for the endpoint. A batch goes when it is
 * full; a partial one after `lingerMs` without filling — but only when a request slot is free,
 * since a partial batch costs a whole request of the rate limit — or at once on `flush()`. Every
 * image is "held" from `add` until `release` (after its batch's request and records): the count and
 * the PNG bytes held are the bound the pipeline waits on before converting more (`hasRoom`).
 */

export interface BatcherOptions<T> {
	/** Images per batch. */
	size: number;
	/** A partial batch waits this long for more images. */
	lingerMs: number;
	/** Images held (forming or being sent) at most before hasRoom() says no. */
	maxHeld: number;
	/** PNG bytes held at most before hasRoom() says no. */
	maxHeldBytes: number;
	/** Bytes of one image (its PNG). */
	bytesOf: (item: T) => number;
	/** True when a request slot is free (a partial batch lingers on otherwise). */
	canSendPartial: () => boolean;
	/** Sends one batch (not awaited here; the caller releases its images when done). */
	send: (items: T[]) => void;
}

export class Batcher<T> {
	private forming: T[] = [];
	private timer: NodeJS.Timeout | undefined;
	private heldCount = 0;
	private heldBytesTotal = 0;
	private disposed = false;

	constructor(private readonly options: BatcherOptions<T>) {}

	/** Images in the batch being formed. */
	get size(): number {
		return this.forming.length;
	}

	/** Images added and not released (forming or being sent). */
	get held(): number {
		return this.heldCount;
	}

	get heldBytes(): number {
		return this.heldBytesTotal;
	}

	/** True while fewer than maxHeld images and maxHeldBytes bytes are held. */
	hasRoom(): boolean {
		return this.heldCount < this.options.maxHeld && this.heldBytesTotal < this.options.maxHeldBytes;
	}

	/** Adds one image: held until released; the batch goes when it is full. */
	add(item: T): void {
		if (this.disposed) throw new Error("The batcher has been disposed");
		this.heldCount++;
		this.heldBytesTotal += this.options.bytesOf(item);
		this.forming.push(item);
		if (this.forming.length >= this.options.size) this.flush();
		else this.timer ??= setTimeout(this.onLinger, this.options.lingerMs);
	}

	/** Sends the batch being formed now, partial or not (nothing when it is empty). */
	flush(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = undefined;
		const items = this.forming;
		this.forming = [];
		if (items.length > 0) this.options.send(items);
	}

	/** Takes out of the forming batch the images `drop` selects (they stay held until released); returns them. */
	remove(drop: (item: T) => boolean): T[] {
		const out = this.forming.filter(drop);
		if (out.length > 0) this.forming = this.forming.filter((i) => !drop(i));
		if (this.forming.length === 0 && this.timer) {
			clearTimeout(this.timer);
			this.timer = undefined;
		}
		return out;
	}

	/** Images whose request and records are over: they are no longer held. */
	release(items: readonly T[]): void {
		for (const item of items) {
			this.heldCount--;
			this.heldBytesTotal -= this.options.bytesOf(item);
		}
	}

	/** Stops the linger timer; images still forming are left to the caller (remove them first). */
	dispose(): void {
		this.disposed = true;
		if (this.timer) clearTimeout(this.timer);
		this.timer = undefined;
	}

	private readonly onLinger = (): void => {
		this.timer = undefined;
		if (this.forming.length === 0) return;
		if (this.options.canSendPartial()) this.flush();
		else this.timer = setTimeout(this.onLinger, this.options.lingerMs);
	};
}
