/**
 * The "DICOMweb Servers" view (PRODUCT.md §9): servers → study searches → studies → series. A search
 * is a QIDO-RS study query; its studies come with date, description, modalities and instance count;
 * a study's series (modality, description, instances) are read when it is expanded. Every search,
 * study and series knows its DICOMweb URL, which is what "Generate Embeddings" runs.
 */
import * as vscode from "vscode";
import { DicomwebClient, type DicomJson } from "../../core/sources/dicomweb/client";
import { describeTarget } from "../../core/sources/dicomweb/url";
import type { Logger } from "../../core/util/logger";
import { Disposable } from "../disposable";
import { dicomwebErrorText, type DicomwebServer, type DicomwebServers } from "../dicomwebServers";
import { searchParams, type StudySearch } from "../ui/dicomwebQuery";

export type { StudySearch };

export const dicomwebViewId = "medImageInsight.dicomwebServers";

/** At most this many studies are listed under a search (the search's own run takes them all). */
export const maxListedStudies = 200;

export type DicomwebNode = ServerNode | SearchNode | StudyNode | SeriesNode | MessageNode;

export interface ServerNode {
	kind: "server";
	server: DicomwebServer;
}
export interface SearchNode {
	kind: "search";
	server: DicomwebServer;
	criteria: StudySearch;
	/** The QIDO-RS query URL (what a run of this search embeds). */
	url: string;
	studies: StudyNode[];
	/** More studies match than are listed. */
	more: boolean;
	error?: string;
}
export interface StudyNode {
	kind: "study";
	server: DicomwebServer;
	url: string;
	studyUid: string;
	date: string;
	description: string;
	modalities: string[];
	instances?: number;
	patientName: string;
	patientId: string;
	accession: string;
	series?: SeriesNode[];
	error?: string;
}
export interface SeriesNode {
	kind: "series";
	server: DicomwebServer;
	url: string;
	study: StudyNode;
	seriesUid: string;
	modality: string;
	description: string;
	number: string;
	instances?: number;
}
export interface MessageNode {
	kind: "message";
	text: string;
	error: boolean;
}

/** A row as shown (for the tests: what the user sees, with the node to pass to commands). */
export interface DicomwebItemView {
	kind: DicomwebNode["kind"];
	label: string;
	description: string;
	contextValue: string;
	node: DicomwebNode;
	children: DicomwebItemView[];
}

const studyFields = ["00080020", "00081030", "00080061", "00201208", "00100010", "00100020", "00080050"];
const seriesFields = ["00080060", "0008103E", "00201209", "00200011"];

function values(ds: DicomJson, tag: string): string[] {
	return (ds[tag]?.Value ?? []).map((v) => (v && typeof v === "object" ? String((v as { Alphabetic?: unknown }).Alphabetic ?? "") : String(v ?? ""))).filter((v) => v !== "");
}
function first(ds: DicomJson, tag: string): string {
	return values(ds, tag)[0] ?? "";
}
function count(ds: DicomJson, tag: string): number | undefined {
	const n = Number(first(ds, tag));
	return first(ds, tag) !== "" && Number.isFinite(n) ? n : undefined;
}
/** 20240131 → 2024-01-31 */
function showDate(d: string): string {
	return /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d;
}
function instancesText(n: number | undefined): string {
	return n === undefined ? "" : n === 1 ? vscode.l10n.t("1 instance") : vscode.l10n.t("{0} instances", n.toLocaleString("en-US"));
}

export function searchLabel(c: StudySearch): string {
	const parts: string[] = [];
	if (c.patientId?.trim()) parts.push(vscode.l10n.t("ID {0}", c.patientId.trim()));
	if (c.patientName?.trim()) parts.push(c.patientName.trim());
	if (c.studyDate?.trim()) parts.push(c.studyDate.trim());
	if (c.modality?.trim()) parts.push(c.modality.trim().toUpperCase());
	if (c.accessionNumber?.trim()) parts.push(vscode.l10n.t("Acc. {0}", c.accessionNumber.trim()));
	return parts.length ? parts.join(" · ") : vscode.l10n.t("All studies");
}

export interface DicomwebViewDeps {
	servers: DicomwebServers;
	log: Logger;
}

export class DicomwebView extends Disposable implements vscode.TreeDataProvider<DicomwebNode> {
	private readonly changed = this.register(new vscode.EventEmitter<DicomwebNode | undefined>());
	readonly onDidChangeTreeData = this.changed.event;
	private readonly view: vscode.TreeView<DicomwebNode>;
	/** Searches per server id, newest first. */
	private readonly searches = new Map<string, SearchNode[]>();
	private readonly serverNodes = new Map<string, ServerNode>();

	constructor(private readonly deps: DicomwebViewDeps) {
		super();
		this.view = this.register(vscode.window.createTreeView(dicomwebViewId, { treeDataProvider: this, showCollapseAll: true }));
		this.register(
			deps.servers.onDidChange(() => {
				const ids = new Set(deps.servers.list().map((s) => s.id));
				for (const id of [...this.searches.keys()]) if (!ids.has(id)) this.searches.delete(id);
				this.changed.fire(undefined);
			}),
		);
	}

	client(server: DicomwebServer): DicomwebClient {
		return new DicomwebClient({ auth: this.deps.servers.auth(server), logger: this.deps.log, attempts: 2, timeoutMs: 60_000 });
	}

	private serverNode(server: DicomwebServer): ServerNode {
		let n = this.serverNodes.get(server.id);
		if (!n || n.server.base !== server.base || n.server.name !== server.name) {
			n = { kind: "server", server };
			this.serverNodes.set(server.id, n);
		}
		return n;
	}

	/** Runs a study search on a server and shows it (first) under the server; resolves with it. */
	async search(server: DicomwebServer, criteria: StudySearch): Promise<SearchNode> {
		const params = searchParams(criteria);
		const url = describeTarget({ base: server.base, level: "studies", query: params });
		const node: SearchNode = { kind: "search", server, criteria, url, studies: [], more: false };
		const include: [string, string][] = studyFields.map((f) => ["includefield", f]);
		this.deps.log.info(`[dicomweb] searching ${url}`);
		try {
			await vscode.window.withProgress({ location: { viewId: dicomwebViewId }, title: vscode.l10n.t("Searching {0}…", server.name) }, async () => {
				for await (const ds of this.client(server).studies(server.base, [...params, ...include], undefined, 0, maxListedStudies + 1)) {
					if (node.studies.length === maxListedStudies) {
						node.more = true;
						break;
					}
					const uid = first(ds, "0020000D");
					if (!uid) continue;
					node.studies.push({
						kind: "study",
						server,
						url: `${server.base}/studies/${uid}`,
						studyUid: uid,
						date: first(ds, "00080020"),
						description: first(ds, "00081030"),
						modalities: values(ds, "00080061"),
						...(count(ds, "00201208") !== undefined ? { instances: count(ds, "00201208")! } : {}),
						patientName: first(ds, "00100010"),
						patientId: first(ds, "00100020"),
						accession: first(ds, "00080050"),
					});
				}
			});
			this.deps.log.info(`[dicomweb] ${node.studies.length}${node.more ? "+" : ""} studies found on ${server.base}`);
		} catch (e) {
			node.error = dicomwebErrorText(e, server);
			this.deps.log.error(`[dicomweb] search on ${server.base} failed: ${e instanceof Error ? e.message : String(e)}`);
		}
		const list = [node, ...(this.searches.get(server.id) ?? []).filter((s) => s.url !== url)].slice(0, 10);
		this.searches.set(server.id, list);
		this.changed.fire(undefined);
		const sn = this.serverNode(server);
		await this.view.reveal(sn, { expand: true }).then(undefined, () => undefined);
		return node;
	}

	removeSearch(node: SearchNode): void {
		const list = (this.searches.get(node.server.id) ?? []).filter((s) => s !== node);
		this.searches.set(node.server.id, list);
		this.changed.fire(undefined);
	}

	/** Reads a study's series (once; again after Refresh). */
	private async loadSeries(study: StudyNode): Promise<void> {
		const series: SeriesNode[] = [];
		this.deps.log.info(`[dicomweb] listing the series of ${study.url}`);
		try {
			const params: [string, string][] = seriesFields.map((f) => ["includefield", f]);
			for await (const ds of this.client(study.server).search(`${study.url}/series`, params, "0020000E")) {
				const uid = first(ds, "0020000E");
				if (!uid) continue;
				const n = count(ds, "00201209");
				series.push({ kind: "series", server: study.server, url: `${study.url}/series/${uid}`, study, seriesUid: uid, modality: first(ds, "00080060"), description: first(ds, "0008103E"), number: first(ds, "00200011"), ...(n !== undefined ? { instances: n } : {}) });
			}
			series.sort((a, b) => (Number(a.number) || 0) - (Number(b.number) || 0));
			study.series = series;
			delete study.error;
		} catch (e) {
			study.error = dicomwebErrorText(e, study.server);
			this.deps.log.error(`[dicomweb] listing the series of ${study.url} failed: ${e instanceof Error ? e.message : String(e)}`);
		}
	}

	refresh(): void {
		for (const list of this.searches.values()) for (const s of list) for (const st of s.studies) delete st.series;
		this.changed.fire(undefined);
	}

	getParent(n: DicomwebNode): DicomwebNode | undefined {
		if (n.kind === "search") return this.serverNode(n.server);
		if (n.kind === "study") return (this.searches.get(n.server.id) ?? []).find((s) => s.studies.includes(n));
		if (n.kind === "series") return n.study;
		return undefined;
	}

	async getChildren(n?: DicomwebNode): Promise<DicomwebNode[]> {
		if (!n) return this.deps.servers.list().map((s) => this.serverNode(s));
		switch (n.kind) {
			case "server": {
				const list = this.searches.get(n.server.id) ?? [];
				return list.length ? list : [{ kind: "message", text: vscode.l10n.t("No search yet: use Search Studies… (the search icon)"), error: false }];
			}
			case "search":
				if (n.error) return [{ kind: "message", text: n.error, error: true }];
				if (n.studies.length === 0) return [{ kind: "message", text: vscode.l10n.t("No study matches."), error: false }];
				return n.more ? [...n.studies, { kind: "message", text: vscode.l10n.t("Only the first {0} studies are listed: narrow the search (Generate Embeddings on the search takes every match).", maxListedStudies), error: false }] : n.studies;
			case "study":
				if (!n.series) await this.loadSeries(n);
				if (n.error) return [{ kind: "message", text: n.error, error: true }];
				return n.series?.length ? n.series : [{ kind: "message", text: vscode.l10n.t("No series."), error: false }];
			default:
				return [];
		}
	}

	getTreeItem(n: DicomwebNode): vscode.TreeItem {
		switch (n.kind) {
			case "server": {
				const item = new vscode.TreeItem(n.server.name, vscode.TreeItemCollapsibleState.Expanded);
				item.id = `server:${n.server.id}`;
				item.description = n.server.base;
				item.tooltip = `${n.server.name}\n${n.server.base}\n${authText(n.server)}`;
				item.iconPath = new vscode.ThemeIcon("server");
				item.contextValue = "dicomwebServer";
				return item;
			}
			case "search": {
				const item = new vscode.TreeItem(searchLabel(n.criteria), vscode.TreeItemCollapsibleState.Expanded);
				item.id = `search:${n.server.id}:${n.url}`;
				item.description = n.error ? vscode.l10n.t("failed") : n.studies.length === 1 ? vscode.l10n.t("1 study") : vscode.l10n.t("{0} studies", `${n.studies.length}${n.more ? "+" : ""}`);
				item.tooltip = n.url;
				item.iconPath = new vscode.ThemeIcon(n.error ? "error" : "search");
				item.contextValue = "dicomwebSearch";
				return item;
			}
			case "study": {
				const item = new vscode.TreeItem(n.description || vscode.l10n.t("(no description)"), vscode.TreeItemCollapsibleState.Collapsed);
				item.id = `study:${n.server.id}:${n.studyUid}`;
				item.description = [showDate(n.date), n.modalities.join("/"), instancesText(n.instances)].filter(Boolean).join(" · ");
				const md = new vscode.MarkdownString();
				md.appendText(
					[
						n.description || vscode.l10n.t("(no description)"),
						`${vscode.l10n.t("Patient")}: ${n.patientName || "—"} (${n.patientId || "—"})`,
						`${vscode.l10n.t("Study date")}: ${showDate(n.date) || "—"}`,
						`${vscode.l10n.t("Accession")}: ${n.accession || "—"}`,
						`${vscode.l10n.t("Modalities")}: ${n.modalities.join(", ") || "—"}`,
						`${vscode.l10n.t("Instances")}: ${n.instances ?? "—"}`,
						`Study UID: ${n.studyUid}`,
					].join("\n"),
				);
				item.tooltip = md;
				item.iconPath = new vscode.ThemeIcon("folder-library");
				item.contextValue = "dicomwebStudy";
				return item;
			}
			case "series": {
				const label = [n.modality, n.description].filter(Boolean).join(" · ") || vscode.l10n.t("(no description)");
				const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
				item.id = `series:${n.server.id}:${n.seriesUid}`;
				item.description = [n.number ? `#${n.number}` : "", instancesText(n.instances)].filter(Boolean).join(" · ");
				item.tooltip = `${label}\nSeries UID: ${n.seriesUid}\n${n.url}`;
				item.iconPath = new vscode.ThemeIcon("files");
				item.contextValue = "dicomwebSeries";
				return item;
			}
			case "message": {
				const item = new vscode.TreeItem(n.text, vscode.TreeItemCollapsibleState.None);
				item.tooltip = n.text;
				item.iconPath = new vscode.ThemeIcon(n.error ? "error" : "info");
				item.contextValue = "dicomwebMessage";
				return item;
			}
		}
	}

	/** Every row, expanded (series are read for every listed study): for the tests. */
	async items(n?: DicomwebNode): Promise<DicomwebItemView[]> {
		const out: DicomwebItemView[] = [];
		for (const c of await this.getChildren(n)) {
			const item = this.getTreeItem(c);
			const label = typeof item.label === "string" ? item.label : (item.label?.label ?? "");
			out.push({ kind: c.kind, label, description: typeof item.description === "string" ? item.description : "", contextValue: item.contextValue ?? "", node: c, children: c.kind === "message" || c.kind === "series" ? [] : await this.items(c) });
		}
		return out;
	}
}

function authText(s: DicomwebServer): string {
	switch (s.auth) {
		case "none":
			return vscode.l10n.t("No authentication");
		case "basic":
			return vscode.l10n.t("Basic authentication as {0}", s.user ?? "");
		case "bearer":
			return vscode.l10n.t("Bearer token");
		case "entra":
			return vscode.l10n.t("Microsoft Entra ID");
	}
}
