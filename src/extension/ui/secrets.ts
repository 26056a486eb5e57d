import * as vscode from "vscode";
import { endpointOrigin } from "./endpointText";

/** The SecretStorage key of the single endpoint key of earlier versions (migrated, then deleted). */
const legacyKeyName = "medImageInsight.endpoint.apiKey";
/** Keys are stored per endpoint origin: `medImageInsight.endpoint.apiKey@https://host:port`. */
const keyPrefix = `${legacyKeyName}@`;

function slot(origin: string): string {
	return `${keyPrefix}${origin}`;
}

/**
 * Endpoint keys, only ever in VS Code's SecretStorage, one per endpoint origin: a key set for one
 * endpoint is never sent to another (a new origin asks for its own key). The single key of earlier
 * versions belongs to the endpoint that was configured when it is first read (`migrate`). Fires
 * onDidChange when a key changes (also from another window), so cached clients can be dropped.
 */
export class ApiKeyStore implements vscode.Disposable {
	private readonly emitter = new vscode.EventEmitter<void>();
	readonly onDidChange = this.emitter.event;
	private readonly listener: vscode.Disposable;
	private migration: Promise<void> | undefined;

	constructor(
		private readonly secrets: vscode.SecretStorage,
		/** The origin the legacy single key was used with (the configured endpoint), or undefined to drop it. */
		private readonly legacyOrigin: () => string | undefined,
	) {
		this.listener = secrets.onDidChange((e) => {
			if (e.key === legacyKeyName || e.key.startsWith(keyPrefix)) this.emitter.fire();
		});
	}

	/** The key stored for the endpoint at `url` ("" when none, or when `url` is not an http(s) URL). */
	async get(url: string): Promise<string> {
		await this.migrate();
		const origin = endpointOrigin(url);
		if (!origin) return "";
		return (await this.secrets.get(slot(origin))) ?? "";
	}

	async has(url: string): Promise<boolean> {
		return (await this.get(url)).length > 0;
	}

	async set(url: string, key: string): Promise<void> {
		await this.migrate();
		const origin = endpointOrigin(url);
		if (!origin) throw new Error(`“${url}” is not an http(s) URL: no key can be stored for it.`);
		await this.secrets.store(slot(origin), key.trim());
	}

	async delete(url: string): Promise<void> {
		await this.migrate();
		const origin = endpointOrigin(url);
		if (origin) await this.secrets.delete(slot(origin));
	}

	/** Asks for the key of `url` in a password box; stores it and returns true when the user gave one. */
	async prompt(url: string, reason?: string): Promise<boolean> {
		const origin = endpointOrigin(url);
		if (!origin) return false;
		const key = await vscode.window.showInputBox({
			title: vscode.l10n.t("MedImageInsight: API key for {0}", origin),
			prompt: reason ?? vscode.l10n.t("The key of the endpoint at {0} (Azure ML studio → Endpoints → Consume). It is kept in VS Code's secret storage, never in settings, and only sent to this endpoint.", origin),
			password: true,
			ignoreFocusOut: true,
			placeHolder: vscode.l10n.t("Endpoint key"),
			validateInput: (v) => (v.trim().length === 0 ? vscode.l10n.t("The key must not be empty.") : /\s/.test(v.trim()) ? vscode.l10n.t("A key has no spaces.") : undefined),
		});
		if (key === undefined || key.trim() === "") return false;
		await this.set(url, key);
		return true;
	}

	/**
	 * Once per session: the single key of earlier versions goes to the slot of the endpoint configured
	 * now (unless that endpoint already has a key of its own, or none is configured), then is deleted.
	 */
	private migrate(): Promise<void> {
		this.migration ??= (async () => {
			const legacy = await this.secrets.get(legacyKeyName);
			if (legacy === undefined) return;
			const origin = this.legacyOrigin();
			if (legacy && origin && (await this.secrets.get(slot(origin))) === undefined) await this.secrets.store(slot(origin), legacy);
			await this.secrets.delete(legacyKeyName);
		})();
		return this.migration;
	}

	dispose(): void {
		this.listener.dispose();
		this.emitter.dispose();
	}
}
