import type * as vscode from "vscode";

/** Owns disposables; dispose() is idempotent and disposes them in reverse order of registration. */
export class Disposable implements vscode.Disposable {
	private readonly owned: vscode.Disposable[] = [];
	private disposed = false;

	protected register<T extends vscode.Disposable>(d: T): T {
		if (this.disposed) d.dispose();
		else this.owned.push(d);
		return d;
	}

	get isDisposed(): boolean {
		return this.disposed;
	}

	dispose(): void {
		if (this.disposed) return;
		this.disposed = true;
		for (const d of this.owned.splice(0).reverse()) {
			try {
				d.dispose();
			} catch {
				/* one failing dispose must not keep the others alive */
			}
		}
	}
}
