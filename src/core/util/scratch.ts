/**
 * Large typed arrays reused from one conversion to the next on one thread. Writing to freshly
 * allocated memory is slow on virtual machines (the pages are faulted in, and zeroed, one by one):
 * on the project's CI kind of machine, filling a new 20 MB Float32Array takes about 70 ms, the same
 * array reused and zero-filled about 5 ms. A conversion of a 2048×2500 radiograph allocates about
 * 35 MB of such arrays (the file's bytes, decoded samples, float values, the windowed picture).
 *
 * Every array handed out is zero-filled and has exactly the requested length, as `new Float32Array(n)`
 * would be; it is a view of a buffer that this scratch keeps for its role, so it must not outlive the
 * conversion (nothing that leaves `convertDicomBytes` may be one) and never be transferred.
 * One conversion at a time holds the thread's scratch (`takeScratch` / `giveBackScratch`); a
 * conversion that starts while another holds it (two conversions interleaved on one thread at
 * their awaits) gets none and allocates as before.
 */

/**
 * A role's buffer is kept only up to this size (a larger array is allocated for each conversion): a
 * mammogram's float values (3328×4096) fit, and a thread keeps at most 4 × 64 MB between files.
 */
const maxKeptBytes = 64 * 1024 * 1024;

export type ScratchRole = "input" | "samples" | "values" | "window";

export class Scratch {
	private readonly kept = new Map<ScratchRole, ArrayBuffer>();

	/** A zero-filled Float32Array of `n` elements for `role`. */
	float32(role: ScratchRole, n: number): Float32Array {
		return new Float32Array(this.buffer(role, n * 4), 0, n);
	}

	/** A zero-filled Int32Array of `n` elements for `role`. */
	int32(role: ScratchRole, n: number): Int32Array {
		return new Int32Array(this.buffer(role, n * 4), 0, n);
	}

	/** A zero-filled Uint8Array of `n` elements for `role`. */
	uint8(role: ScratchRole, n: number): Uint8Array {
		return new Uint8Array(this.buffer(role, n), 0, n);
	}

	/** Bytes kept (tests). */
	get keptBytes(): number {
		let n = 0;
		for (const b of this.kept.values()) n += b.byteLength;
		return n;
	}

	private buffer(role: ScratchRole, bytes: number): ArrayBuffer {
		if (bytes > maxKeptBytes) return new ArrayBuffer(bytes);
		const had = this.kept.get(role);
		if (had && had.byteLength >= bytes) {
			new Uint8Array(had, 0, bytes).fill(0);
			return had;
		}
		const fresh = new ArrayBuffer(bytes);
		this.kept.set(role, fresh);
		return fresh;
	}
}

let idle: Scratch | undefined = new Scratch();

/** This thread's scratch for one conversion, or undefined while another conversion holds it. */
export function takeScratch(): Scratch | undefined {
	const s = idle;
	idle = undefined;
	return s;
}

/** Gives the scratch back once the conversion is done with every array it handed out. */
export function giveBackScratch(s: Scratch | undefined): void {
	if (s) idle = s;
}
