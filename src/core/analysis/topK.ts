/** Keeps the k largest scores seen (with their indices), cheaply rejecting anything below the current minimum. */
export class TopK {
	readonly scores: Float32Array;
	readonly indices: Int32Array;
	private count = 0;
	private minPos = 0;
	/** Smallest score kept once full; anything not larger is rejected. */
	threshold = -Infinity;

	constructor(readonly k: number) {
		this.scores = new Float32Array(k);
		this.indices = new Int32Array(k).fill(-1);
	}

	push(index: number, score: number): void {
		if (this.k === 0) return;
		if (this.count < this.k) {
			this.scores[this.count] = score;
			this.indices[this.count] = index;
			this.count++;
			if (this.count === this.k) this.findMin();
			return;
		}
		if (!(score > this.threshold)) return;
		this.scores[this.minPos] = score;
		this.indices[this.minPos] = index;
		this.findMin();
	}

	private findMin(): void {
		let m = 0;
		for (let i = 1; i < this.k; i++) if ((this.scores[i] as number) < (this.scores[m] as number)) m = i;
		this.minPos = m;
		this.threshold = this.scores[m] as number;
	}

	get size(): number {
		return this.count;
	}

	/** Entries best first (ties: lower index first). */
	sorted(): { index: number; score: number }[] {
		const out: { index: number; score: number }[] = [];
		for (let i = 0; i < this.count; i++) out.push({ index: this.indices[i] as number, score: this.scores[i] as number });
		return out.sort((a, b) => b.score - a.score || a.index - b.index);
	}
}
