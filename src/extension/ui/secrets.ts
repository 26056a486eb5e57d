import * as vscode from "vscode";

/** The SecretStorage key of the endpoint key. */
const apiKeyName = "medImageInsight.endpoint.apiKey";

/**
 * The endpoint key, only ever in VS Code's SecretStorage. Fires onDidChange when it changes (also
 * from another window), so cached clients can be dropped.
 */
export class ApiKeyStore implements vscode.Disposable {
	private readonly emitter = new vscode.EventEmitter<void>();
	readonly onDidChange = this.emitter.event;
	private readonly listener: vscode.Disposable;

	constructor(private readonly secrets: vscode.SecretStorage) {
		this.listener = secrets.onDidChange((e) => {
			if (e.key === apiKeyName) this.emitter.fire();
		});
	}

	async get(): Promise<string> {
		return (await this.secrets.get(apiKeyName)) ?? "";
	}

	async has(): Promise<boolean> {
		return (await this.get()).length > 0;
	}

	async set(key: string): Promise<void> {
		await this.secrets.store(apiKeyName, key.trim());
	}

	async delete(): Promise<void> {
		await this.secrets.delete(apiKeyName);
	}

	/** Asks for the key in a password box; stores it and returns true when the user gave one. */
	async prompt(reason?: string): Promise<boolean> {
		const key = await vscode.window.showInputBox({
			title: vscode.l10n.t("MedImageInsight: Set API Key"),
			prompt: reason ?? vscode.l10n.t("The endpoint key (Azure ML studio → Endpoints → Consume). It is kept in VS Code's secret storage, never in settings."),
			password: true,
			ignoreFocusOut: true,
			placeHolder: vscode.l10n.t("Endpoint key"),
			validateInput: (v) => (v.trim().length === 0 ? vscode.l10n.t("The key must not be empty.") : /\s/.test(v.trim()) ? vscode.l10n.t("A key has no spaces.") : undefined),
		});
		if (key === undefined || key.trim() === "") return false;
		await this.set(key);
		return true;
	}

	dispose(): void {
		this.listener.dispose();
		this.emitter.dispose();
	}
}
