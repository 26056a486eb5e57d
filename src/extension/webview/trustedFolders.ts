/**
 * The output folders the results panel may show (issue 9 item 12): those this extension opened or
 * produced, kept in globalState. A panel restored after a reload names its folder in the webview's saved
 * state, which the webview itself wrote; a folder not in this list is refused instead of read.
 * No vscode import: the store takes any Memento-like object, so unit tests run it under plain node.
 */
import * as path from "node:path";

/** The part of vscode.Memento used here. */
export interface StateStore {
	get<T>(key: string): T | undefined;
	update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

export const trustedFoldersKey = "medImageInsight.results.trustedFolders";

/** Newest last; the oldest are dropped beyond this. */
export const maxTrustedFolders = 500;

/** Windows paths compare case-insensitively; elsewhere exactly. */
export function folderKey(dir: string, platform: NodeJS.Platform = process.platform): string {
	const p = path.resolve(dir);
	return platform === "win32" ? p.toLowerCase() : p;
}

export class TrustedFolders {
	constructor(private readonly state: StateStore) {}

	private list(): string[] {
		const raw = this.state.get<unknown>(trustedFoldersKey);
		return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === "string") : [];
	}

	has(dir: string): boolean {
		const key = folderKey(dir);
		return this.list().includes(key);
	}

	/** Records `dir` as opened or produced by the extension (moved to the newest end). */
	async add(dir: string): Promise<void> {
		const key = folderKey(dir);
		const list = this.list().filter((k) => k !== key);
		list.push(key);
		await this.state.update(trustedFoldersKey, list.slice(-maxTrustedFolders));
	}
}
