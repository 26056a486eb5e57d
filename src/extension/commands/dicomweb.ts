/**
 * The commands of the "DICOMweb Servers" view: add / remove a server, search studies (QIDO-RS), and
 * Generate Embeddings on a search, a study or a series — a normal run (progress, status bar, results,
 * Retry Failed) whose input is the DICOMweb URL and whose credentials are the server's.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as vscode from "vscode";
import type { RunSummary } from "../../core/pipeline/types";
import { DicomwebUrlError } from "../../core/sources/dicomweb/url";
import { DicomwebServers, normaliseBase, type DicomwebAuthKind, type DicomwebServer } from "../dicomwebServers";
import type { Services } from "../services";
import { resolveOutDir } from "../ui/outputLocation";
import { qidoDate, type StudySearch } from "../ui/dicomwebQuery";
import { DicomwebView, searchLabel, type DicomwebItemView, type DicomwebNode, type SearchNode } from "../views/dicomwebView";

export interface DicomwebDeps {
	s: Services;
	servers: DicomwebServers;
	view: DicomwebView;
}

/** What the view adds to the test API. */
export interface DicomwebApi {
	dicomwebServers(): DicomwebServer[];
	dicomwebItems(): Promise<DicomwebItemView[]>;
	/** Everything the extension keeps in globalState, as JSON (the tests look for secrets in it). */
	globalStateDump(): string;
}

/** Builds the servers store and the view, registers the commands; returns the test hooks. */
export function registerDicomweb(s: Services): DicomwebApi {
	const servers = new DicomwebServers(s.context.globalState, s.context.secrets);
	const view = new DicomwebView({ servers, log: s.log.scoped("dicomweb") });
	s.context.subscriptions.push(servers, view);
	const d: DicomwebDeps = { s, servers, view };
	const table: Record<string, (d: DicomwebDeps) => (...args: unknown[]) => unknown> = {
		"medImageInsight.dicomweb.addServer": addServer,
		"medImageInsight.dicomweb.removeServer": removeServer,
		"medImageInsight.dicomweb.searchStudies": searchStudies,
		"medImageInsight.dicomweb.generateEmbeddings": generateFromDicomweb,
		"medImageInsight.dicomweb.removeSearch": (x) => (n?: unknown) => {
			if (isNode(n) && n.kind === "search") x.view.removeSearch(n);
		},
		"medImageInsight.dicomweb.refresh": (x) => () => x.view.refresh(),
	};
	for (const [id, factory] of Object.entries(table)) s.context.subscriptions.push(vscode.commands.registerCommand(id, factory(d)));
	void vscode.commands.executeCommand("setContext", "medImageInsight.hasDicomwebServers", servers.list().length > 0);
	// Retry Failed of a DICOMweb run finds its server's credentials by the URL.
	s.runner.setDicomwebResolver((url) => {
		const server = servers.forUrl(url);
		return server ? { auth: servers.auth(server), retrievalConcurrency: s.config.snapshot().dicomwebRetrievalConcurrency } : undefined;
	});
	const g = s.context.globalState;
	return { dicomwebServers: () => servers.list(), dicomwebItems: () => view.items(), globalStateDump: () => JSON.stringify(Object.fromEntries(g.keys().map((k) => [k, g.get(k)]))) };
}

function isNode(v: unknown): v is DicomwebNode {
	return typeof v === "object" && v !== null && typeof (v as { kind?: unknown }).kind === "string";
}

/** The arguments a script (or a test) may pass instead of answering the prompts. */
interface AddServerArgs {
	name: string;
	url: string;
	auth: DicomwebAuthKind;
	user?: string;
	/** The password (basic) or token (bearer): goes to SecretStorage only. */
	secret?: string;
}

function isAddArgs(v: unknown): v is AddServerArgs {
	const a = v as Partial<AddServerArgs> | undefined;
	return typeof a === "object" && a !== null && typeof a.name === "string" && typeof a.url === "string" && typeof a.auth === "string";
}

/** "Add DICOMweb Server…": URL, name, authentication (and its user/password or token). */
export function addServer(d: DicomwebDeps) {
	return async (arg?: unknown): Promise<DicomwebServer | undefined> => {
		let spec: AddServerArgs;
		if (isAddArgs(arg)) spec = arg;
		else {
			const title = vscode.l10n.t("Add DICOMweb Server");
			const url = await vscode.window.showInputBox({
				title: `${title} (1/3)`,
				prompt: vscode.l10n.t("The DICOMweb service root, such as https://host/dicom-web (Orthanc, dcm4chee), https://<workspace>-<service>.dicom.azurehealthcareapis.com/v2 (Azure) or …/dicomStores/<store>/dicomWeb (Google). Plain http only for this machine."),
				placeHolder: "https://host/dicom-web",
				ignoreFocusOut: true,
				validateInput: (v) => {
					if (!v.trim()) return undefined;
					try {
						normaliseBase(v);
						return undefined;
					} catch (e) {
						return e instanceof Error ? e.message : String(e);
					}
				},
			});
			if (!url?.trim()) return undefined;
			const host = (() => {
				try {
					return new URL(url.trim()).host;
				} catch {
					return "";
				}
			})();
			const name = await vscode.window.showInputBox({ title: `${title} (2/3)`, prompt: vscode.l10n.t("A name for this server (shown in the view and in output folder names)."), value: host, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : vscode.l10n.t("The name must not be empty.")) });
			if (!name?.trim()) return undefined;
			const kinds: (vscode.QuickPickItem & { auth: DicomwebAuthKind })[] = [
				{ label: vscode.l10n.t("No authentication"), description: vscode.l10n.t("an open server, or one on this machine"), auth: "none" },
				{ label: vscode.l10n.t("User and password"), description: vscode.l10n.t("HTTP basic; the password is kept in VS Code's secret storage"), auth: "basic" },
				{ label: vscode.l10n.t("Bearer token"), description: vscode.l10n.t("kept in VS Code's secret storage"), auth: "bearer" },
				{ label: vscode.l10n.t("Microsoft Entra ID"), description: vscode.l10n.t("Azure Health Data Services DICOM service: sign in with Microsoft"), auth: "entra" },
			];
			const kind = await vscode.window.showQuickPick(kinds, { title: `${title} (3/3)`, placeHolder: vscode.l10n.t("How does the server authenticate?"), ignoreFocusOut: true });
			if (!kind) return undefined;
			spec = { name: name.trim(), url: url.trim(), auth: kind.auth };
			if (kind.auth === "basic") {
				const user = await vscode.window.showInputBox({ title: vscode.l10n.t("User name for {0}", name.trim()), ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : vscode.l10n.t("The user name must not be empty.")) });
				if (!user?.trim()) return undefined;
				const password = await vscode.window.showInputBox({ title: vscode.l10n.t("Password of {0} on {1}", user.trim(), name.trim()), prompt: vscode.l10n.t("Kept in VS Code's secret storage, never in settings; only sent to this server."), password: true, ignoreFocusOut: true });
				if (!password) return undefined;
				spec.user = user.trim();
				spec.secret = password;
			} else if (kind.auth === "bearer") {
				const token = await vscode.window.showInputBox({ title: vscode.l10n.t("Bearer token for {0}", name.trim()), prompt: vscode.l10n.t("Kept in VS Code's secret storage, never in settings; only sent to this server."), password: true, ignoreFocusOut: true });
				if (!token?.trim()) return undefined;
				spec.secret = token.trim();
			}
		}
		try {
			const server = await d.servers.add({ name: spec.name, base: spec.url, auth: spec.auth, ...(spec.user ? { user: spec.user } : {}) }, spec.secret);
			d.s.log.info(`[dicomweb] added the server "${server.name}" at ${server.base} (${server.auth === "none" ? "no authentication" : server.auth})`);
			await vscode.commands.executeCommand("setContext", "medImageInsight.hasDicomwebServers", true);
			return server;
		} catch (e) {
			const message = e instanceof DicomwebUrlError || e instanceof Error ? e.message : String(e);
			d.s.log.error(`[dicomweb] the server was not added: ${message}`);
			void vscode.window.showErrorMessage(vscode.l10n.t("The DICOMweb server was not added: {0}", message));
			return undefined;
		}
	};
}

/** The server a command was given (a node, an id), or asked for. */
async function pickServer(d: DicomwebDeps, arg: unknown): Promise<DicomwebServer | undefined> {
	if (isNode(arg) && arg.kind !== "message") return d.servers.get(arg.server.id);
	if (typeof arg === "object" && arg !== null && typeof (arg as { serverId?: unknown }).serverId === "string") return d.servers.get((arg as { serverId: string }).serverId);
	const list = d.servers.list();
	if (list.length === 0) {
		const add = vscode.l10n.t("Add DICOMweb Server…");
		const c = await vscode.window.showInformationMessage(vscode.l10n.t("No DICOMweb server is added yet."), add);
		if (c === add) return (await vscode.commands.executeCommand<DicomwebServer | undefined>("medImageInsight.dicomweb.addServer")) ?? undefined;
		return undefined;
	}
	if (list.length === 1) return list[0];
	const picked = await vscode.window.showQuickPick(
		list.map((s) => ({ label: s.name, description: s.base, server: s })),
		{ title: vscode.l10n.t("Which DICOMweb server?") },
	);
	return picked?.server;
}

export function removeServer(d: DicomwebDeps) {
	return async (arg?: unknown): Promise<boolean> => {
		const server = await pickServer(d, arg);
		if (!server) return false;
		const quiet = typeof arg === "object" && arg !== null && (arg as { confirm?: unknown }).confirm === false;
		if (!quiet) {
			const remove = vscode.l10n.t("Remove");
			const c = await vscode.window.showWarningMessage(vscode.l10n.t('Remove the DICOMweb server "{0}" ({1}) and its stored credentials? Results already made are kept.', server.name, server.base), { modal: true }, remove);
			if (c !== remove) return false;
		}
		await d.servers.remove(server.id);
		d.s.log.info(`[dicomweb] removed the server "${server.name}" (${server.base})`);
		await vscode.commands.executeCommand("setContext", "medImageInsight.hasDicomwebServers", d.servers.list().length > 0);
		return true;
	};
}

/** "Search Studies…": a small form (patient ID, name, date range, modality, accession number). */
export function searchStudies(d: DicomwebDeps) {
	return async (arg?: unknown): Promise<SearchNode | undefined> => {
		const server = await pickServer(d, arg);
		if (!server) return undefined;
		const given = typeof arg === "object" && arg !== null && !isNode(arg) ? (arg as { criteria?: StudySearch }).criteria : undefined;
		const criteria = given ?? (await searchForm(server));
		if (!criteria) return undefined;
		const node = await d.view.search(server, criteria);
		if (node.error) {
			const showLog = vscode.l10n.t("Show Log");
			void vscode.window.showErrorMessage(node.error, showLog).then((c) => c && d.s.log.show());
		}
		return node;
	};
}

async function searchForm(server: DicomwebServer): Promise<StudySearch | undefined> {
	const c: StudySearch = {};
	type Field = keyof StudySearch;
	const fields: { key: Field; label: string; prompt: string; placeholder: string }[] = [
		{ key: "patientId", label: vscode.l10n.t("Patient ID"), prompt: vscode.l10n.t("Exact patient ID (wildcards * and ? allowed)."), placeholder: "12345" },
		{ key: "patientName", label: vscode.l10n.t("Patient name"), prompt: vscode.l10n.t("DICOM name, family^given; wildcards * and ? allowed (e.g. DOE^J*)."), placeholder: "DOE^J*" },
		{ key: "studyDate", label: vscode.l10n.t("Study date"), prompt: vscode.l10n.t("A date or a range: 2024-01-31, 2024-01-01 - 2024-01-31, 2024-01-01 - (from), - 2024-01-31 (until)."), placeholder: "2024-01-01 - 2024-01-31" },
		{ key: "modality", label: vscode.l10n.t("Modality"), prompt: vscode.l10n.t("A modality in the study: CT, MR, CR, DX, US, MG, PT…"), placeholder: "CT" },
		{ key: "accessionNumber", label: vscode.l10n.t("Accession number"), prompt: vscode.l10n.t("The accession number of the study."), placeholder: "" },
	];
	for (;;) {
		const searchItem = { label: vscode.l10n.t("$(search) Search"), description: searchLabel(c), key: undefined as Field | undefined };
		const items = [searchItem, ...fields.map((f) => ({ label: f.label, description: c[f.key] ? String(c[f.key]) : vscode.l10n.t("any"), key: f.key as Field | undefined }))];
		const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t("Search studies on {0}", server.name), placeHolder: vscode.l10n.t("Set the criteria you want, then Search (none = every study)"), ignoreFocusOut: true });
		if (!picked) return undefined;
		if (!picked.key) return c;
		const f = fields.find((x) => x.key === picked.key)!;
		const value = await vscode.window.showInputBox({
			title: f.label,
			prompt: f.prompt,
			placeHolder: f.placeholder,
			value: c[f.key] ?? "",
			ignoreFocusOut: true,
			validateInput: (v) => (f.key === "studyDate" && qidoDate(v) === undefined ? vscode.l10n.t("Not a date or range: use YYYY-MM-DD, or two of them separated by a dash.") : f.key === "modality" && v.trim() && !/^[A-Za-z]{1,16}$/.test(v.trim()) ? vscode.l10n.t("A modality is a short code such as CT.") : undefined),
		});
		if (value === undefined) continue;
		const v = f.key === "studyDate" ? (qidoDate(value) ?? "") : value.trim();
		if (v) c[f.key] = v;
		else delete c[f.key];
	}
}

/** The output folder name of a DICOMweb selection: server name, what was chosen, a short hash of the URL. */
export function dicomwebFolderName(server: DicomwebServer, node: Exclude<DicomwebNode, { kind: "server" } | { kind: "message" }>): string {
	const safe = (s: string): string => s.replace(/[^\w.\- ]+/g, "_").replace(/^\.+/, "_").trim().replace(/\s+/g, "_").slice(0, 40);
	const what =
		node.kind === "search"
			? `search-${safe(searchLabel(node.criteria))}`
			: node.kind === "study"
				? `study-${safe(node.description) || node.studyUid.split(".").pop()}`
				: `series-${safe([node.modality, node.description].filter(Boolean).join("_")) || node.seriesUid.split(".").pop()}`;
	const hash = createHash("sha256").update(node.url).digest("hex").slice(0, 8);
	return `${safe(server.name) || "dicomweb"}-${what}-${hash}`;
}

/** "Generate Embeddings" on a search, a study or a series of the view. */
export function generateFromDicomweb(d: DicomwebDeps) {
	return async (arg?: unknown): Promise<RunSummary | undefined> => {
		if (!isNode(arg) || arg.kind === "server" || arg.kind === "message") {
			void vscode.window.showInformationMessage(vscode.l10n.t("Right-click a search, a study or a series in the DICOMweb Servers view to embed it."));
			return undefined;
		}
		const server = d.servers.get(arg.server.id);
		if (!server) {
			void vscode.window.showErrorMessage(vscode.l10n.t("That DICOMweb server was removed."));
			return undefined;
		}
		const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === "file");
		const outDir = resolveOutDir({ name: dicomwebFolderName(server, arg), workspaceFolder: folder?.uri.fsPath, globalStorage: d.s.context.globalStorageUri.fsPath, outputFolder: d.s.config.snapshot().outputFolder });
		d.s.log.info(`[dicomweb] Generate Embeddings on ${arg.url} (server "${server.name}") → ${path.basename(outDir)}`);
		return d.s.runner.run([{ path: arg.url, isDirectory: true }], { outDir, dicomweb: { auth: d.servers.auth(server), retrievalConcurrency: d.s.config.snapshot().dicomwebRetrievalConcurrency } });
	};
}
