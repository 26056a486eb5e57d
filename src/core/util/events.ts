/** A tiny event emitter with the shape of vscode.Event, so core code needs no vscode import. */
export interface Disposable {
	dispose(): void;
}

export type Event<T> = (listener: (e: T) => void) => Disposable;

export class Emitter<T> implements Disposable {
	private listeners = new Set<(e: T) => void>();

	readonly event: Event<T> = (listener) => {
		this.listeners.add(listener);
		return { dispose: () => this.listeners.delete(listener) };
	};

	fire(e: T): void {
		for (const l of [...this.listeners]) l(e);
	}

	dispose(): void {
		this.listeners.clear();
	}
}
