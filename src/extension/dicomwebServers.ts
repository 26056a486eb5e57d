/**
 * The DICOMweb servers of the "DICOMweb Servers" view (PRODUCT.md §9): their list in globalState
 * (name, base URL, kind of authentication, user name: nothing secret), their passwords and tokens in
 * SecretStorage only, and the DicomwebAuth a run or a search uses for each.
 */
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import { azureDicomScope, basicAuth, bearerAuth, DicomwebError, noAuth, type DicomwebAuth } from "../core/sources/dicomweb/client";
import { DicomwebUrlError, parseDicomwebUrl } from "../core/sources/dicomweb/url";

export type DicomwebAuthKind = "none" | "basic" | "bearer" | "entra";

export interface DicomwebServer {
	id: string;
	name: string;
	/** Service root without a trailing slash, e.g. https://host/dicom-web. */
	base: string;
	auth: DicomwebAuthKind;
	/** The user name of basic authentication (not a secret). */
	user?: string;
}

const listKey = "medImageInsight.dicomweb.servers";
const secretPrefix = "medImageInsight.dicomweb.secret@";

/**
 * Checks a server's base URL with the core rules (https, or http on loopback only; no user info)
 * and returns it normalised (no trailing slash, no query), or throws a DicomwebUrlError.
 */
export function normaliseBase(input: string): string {
	const trimmed = input.trim().replace(/\/+$/, "");
	let u: URL;
	try {
		u = new URL(trimmed);
	} catch {
		throw new DicomwebUrlError(`Not a valid URL: ${input}`);
	}
	if (u.search || u.hash) throw new DicomwebUrlError("The server URL is the service root (such as https://host/dicom-web), without a query.");
	// The core parser applies the credential and http rules; `/studies` makes the root a valid input.
	const target = parseDicomwebUrl(`${trimmed}/studies`);
	return target.base;
}

export class DicomwebServers implements vscode.Disposable {
	private readonly emitter = new vscode.EventEmitter<void>();
	readonly onDidChange = this.emitter.event;

	constructor(
		private readonly global: vscode.Memento,
		private readonly secrets: vscode.SecretStorage,
	) {}

	list(): DicomwebServer[] {
		const v = this.global.get<unknown>(listKey);
		if (!Array.isArray(v)) return [];
		return v.filter(isServer).map((s) => ({ ...s }));
	}

	get(id: string): DicomwebServer | undefined {
		return this.list().find((s) => s.id === id);
	}

	/** The server whose base URL starts a DICOMweb input URL (Retry Failed of an earlier run). */
	forUrl(url: string): DicomwebServer | undefined {
		let base: string;
		try {
			base = parseDicomwebUrl(url).base;
		} catch {
			return undefined;
		}
		return this.list().find((s) => s.base === base);
	}

	/** Adds a server; `secret` is the password (basic) or the token (bearer), stored in SecretStorage. */
	async add(spec: Omit<DicomwebServer, "id">, secret?: string): Promise<DicomwebServer> {
		const server: DicomwebServer = { id: randomUUID(), name: spec.name.trim(), base: normaliseBase(spec.base), auth: spec.auth, ...(spec.auth === "basic" && spec.user ? { user: spec.user } : {}) };
		if ((spec.auth === "basic" || spec.auth === "bearer") && secret) await this.secrets.store(secretPrefix + server.id, secret);
		await this.global.update(listKey, [...this.list(), server]);
		this.emitter.fire();
		return server;
	}

	async remove(id: string): Promise<void> {
		await this.secrets.delete(secretPrefix + id);
		await this.global.update(
			listKey,
			this.list().filter((s) => s.id !== id),
		);
		this.emitter.fire();
	}

	async setSecret(id: string, secret: string): Promise<void> {
		await this.secrets.store(secretPrefix + id, secret);
	}

	async hasSecret(id: string): Promise<boolean> {
		return ((await this.secrets.get(secretPrefix + id)) ?? "") !== "";
	}

	/** The authentication of a server's requests; secrets are read when a request needs them. */
	auth(server: DicomwebServer): DicomwebAuth {
		switch (server.auth) {
			case "none":
				return noAuth;
			case "basic": {
				const secrets = this.secrets;
				return {
					kind: "basic",
					async header() {
						const password = (await secrets.get(secretPrefix + server.id)) ?? "";
						if (!password) throw new DicomwebError("unauthorized", `No password is stored for the DICOMweb server "${server.name}": remove it and add it again.`, true);
						return basicAuth(server.user ?? "", password).header();
					},
				};
			}
			case "bearer":
				return bearerAuth(async () => {
					const token = (await this.secrets.get(secretPrefix + server.id)) ?? "";
					if (!token) throw new DicomwebError("unauthorized", `No token is stored for the DICOMweb server "${server.name}": remove it and add it again.`, true);
					return token;
				});
			case "entra":
				return bearerAuth(async () => {
					try {
						const session = await vscode.authentication.getSession("microsoft", [azureDicomScope], { createIfNone: true });
						return session.accessToken;
					} catch (e) {
						throw new DicomwebError("unauthorized", `Microsoft sign-in for ${azureDicomScope} failed or was cancelled (${e instanceof Error ? e.message : String(e)}).`, true);
					}
				});
		}
	}

	dispose(): void {
		this.emitter.dispose();
	}
}

function isServer(v: unknown): v is DicomwebServer {
	if (!v || typeof v !== "object") return false;
	const s = v as Partial<DicomwebServer>;
	return typeof s.id === "string" && typeof s.name === "string" && typeof s.base === "string" && (s.auth === "none" || s.auth === "basic" || s.auth === "bearer" || s.auth === "entra");
}

/** A DICOMweb error in plain words, with what to do. */
export function dicomwebErrorText(e: unknown, server: DicomwebServer): string {
	if (e instanceof DicomwebError) {
		if (e.code === "unauthorized") {
			return vscode.l10n.t('The DICOMweb server "{0}" refused the request{1}: check the credentials (remove the server and add it again with the right ones{2}).', server.name, e.status ? ` (HTTP ${e.status})` : "", server.auth === "entra" ? vscode.l10n.t(", or sign in with an account that may read it") : "");
		}
		if (e.code === "network") return vscode.l10n.t('"{0}": {1} Check the server\'s URL ({2}) and that it is running.', server.name, e.message, server.base);
		if (e.code === "timeout") return vscode.l10n.t('The DICOMweb server "{0}" did not answer in time: {1}', server.name, e.message);
		return e.message;
	}
	return e instanceof Error ? e.message : String(e);
}
