/**
 * The few Azure Resource Manager calls that find a MedImageInsight endpoint for a signed-in user
 * (PRODUCT.md §2): subscriptions → Azure ML workspaces → online endpoints (scoring URI, auth mode)
 * → listKeys. Plain `fetch` with an injectable base URL, so tests run it against a loopback server.
 * The management token and the endpoint keys never appear in an error message or a log line.
 */
import type { Logger } from "../util/logger";
import { nullLogger } from "../util/logger";

/** ARM's public base URL. */
export const armBaseUrl = "https://management.azure.com";
/** The scope of the management token (VS Code's Microsoft sign-in, or @azure/identity). */
export const armScope = "https://management.azure.com/.default";
/** api-version of the Microsoft.MachineLearningServices calls. */
export const machineLearningApiVersion = "2024-04-01";
/** api-version of the subscriptions list. */
export const subscriptionsApiVersion = "2022-12-01";

export interface ArmSubscription {
	subscriptionId: string;
	displayName: string;
	state: string;
}

export interface ArmWorkspace {
	/** Full resource id, /subscriptions/…/resourceGroups/…/providers/Microsoft.MachineLearningServices/workspaces/<name>. */
	id: string;
	name: string;
	location: string;
	resourceGroup: string;
}

/** How an online endpoint authenticates callers, mapped to the extension's setting. */
export type EndpointAuthMode = "key" | "entra" | "amlToken";

export interface ArmOnlineEndpoint {
	id: string;
	name: string;
	scoringUri: string;
	authMode: EndpointAuthMode;
	/** ARM's raw authMode ("Key", "AADToken", "AMLToken"). */
	rawAuthMode: string;
	provisioningState: string;
	/** Deployment name → traffic percentage. */
	traffic: Record<string, number>;
}

export interface ArmEndpointKeys {
	primaryKey: string;
	secondaryKey: string;
}

/** An ARM call failed; `message` is one line, safe to show and log (no token, no key). */
export class ArmError extends Error {
	constructor(
		message: string,
		readonly status: number,
		readonly code: string,
	) {
		super(message);
		this.name = "ArmError";
	}
}

export interface ArmClientOptions {
	/** Defaults to https://management.azure.com. Tests pass http://127.0.0.1:<port>. */
	baseUrl?: string;
	logger?: Logger;
	/** Per-call timeout in ms (default 30 s). */
	timeoutMs?: number;
	/** Most pages followed per list (protects against a nextLink loop; default 50). */
	maxPages?: number;
}

interface ArmList<T> {
	value?: T[];
	nextLink?: string;
}

/** A thin ARM client; `getToken` gives a management-scope bearer token. */
export class ArmClient {
	private readonly baseUrl: string;
	private readonly logger: Logger;
	private readonly timeoutMs: number;
	private readonly maxPages: number;

	constructor(
		private readonly getToken: (signal?: AbortSignal) => Promise<string>,
		options: ArmClientOptions = {},
	) {
		this.baseUrl = (options.baseUrl ?? armBaseUrl).replace(/\/+$/, "");
		this.logger = options.logger ?? nullLogger;
		this.timeoutMs = options.timeoutMs ?? 30_000;
		this.maxPages = options.maxPages ?? 50;
	}

	async listSubscriptions(signal?: AbortSignal): Promise<ArmSubscription[]> {
		type Raw = { subscriptionId?: string; displayName?: string; state?: string };
		const raw = await this.list<Raw>(`/subscriptions?api-version=${subscriptionsApiVersion}`, signal);
		return raw
			.filter((s): s is Raw & { subscriptionId: string } => typeof s.subscriptionId === "string")
			.map((s) => ({ subscriptionId: s.subscriptionId, displayName: s.displayName ?? s.subscriptionId, state: s.state ?? "" }))
			.sort((a, b) => a.displayName.localeCompare(b.displayName));
	}

	async listWorkspaces(subscriptionId: string, signal?: AbortSignal): Promise<ArmWorkspace[]> {
		type Raw = { id?: string; name?: string; location?: string };
		const sub = encodeURIComponent(subscriptionId);
		const raw = await this.list<Raw>(`/subscriptions/${sub}/providers/Microsoft.MachineLearningServices/workspaces?api-version=${machineLearningApiVersion}`, signal);
		return raw
			.filter((w): w is Raw & { id: string; name: string } => typeof w.id === "string" && typeof w.name === "string")
			.map((w) => ({ id: w.id, name: w.name, location: w.location ?? "", resourceGroup: /\/resourceGroups\/([^/]+)/i.exec(w.id)?.[1] ?? "" }))
			.sort((a, b) => a.name.localeCompare(b.name));
	}

	async listOnlineEndpoints(workspaceId: string, signal?: AbortSignal): Promise<ArmOnlineEndpoint[]> {
		type Raw = {
			id?: string;
			name?: string;
			properties?: { scoringUri?: string; authMode?: string; provisioningState?: string; traffic?: Record<string, number> };
		};
		const raw = await this.list<Raw>(`${resourcePath(workspaceId)}/onlineEndpoints?api-version=${machineLearningApiVersion}`, signal);
		return raw
			.filter((e): e is Raw & { id: string; name: string } => typeof e.id === "string" && typeof e.name === "string")
			.map((e) => {
				const rawAuthMode = e.properties?.authMode ?? "";
				return {
					id: e.id,
					name: e.name,
					scoringUri: e.properties?.scoringUri ?? "",
					authMode: authModeOf(rawAuthMode),
					rawAuthMode,
					provisioningState: e.properties?.provisioningState ?? "",
					traffic: { ...(e.properties?.traffic ?? {}) },
				};
			})
			.sort((a, b) => a.name.localeCompare(b.name));
	}

	/** POST …/listKeys. The keys go straight to the caller (SecretStorage), never to the logger. */
	async listEndpointKeys(endpointId: string, signal?: AbortSignal): Promise<ArmEndpointKeys> {
		const body = (await this.call("POST", `${resourcePath(endpointId)}/listKeys?api-version=${machineLearningApiVersion}`, signal)) as {
			primaryKey?: unknown;
			secondaryKey?: unknown;
		};
		const primaryKey = typeof body.primaryKey === "string" ? body.primaryKey : "";
		const secondaryKey = typeof body.secondaryKey === "string" ? body.secondaryKey : "";
		if (!primaryKey && !secondaryKey) throw new ArmError("The endpoint returned no keys (is it in key authentication mode?).", 200, "NoKeys");
		return { primaryKey, secondaryKey };
	}

	private async list<T>(pathAndQuery: string, signal?: AbortSignal): Promise<T[]> {
		const out: T[] = [];
		let next: string | undefined = pathAndQuery;
		for (let page = 0; next !== undefined; page++) {
			if (page >= this.maxPages) throw new ArmError(`Azure returned more than ${this.maxPages} pages for one list; stopped.`, 200, "TooManyPages");
			const body = (await this.call("GET", next, signal)) as ArmList<T>;
			if (Array.isArray(body.value)) out.push(...body.value);
			next = body.nextLink ? this.sameOriginPath(body.nextLink) : undefined;
		}
		return out;
	}

	/** nextLink is absolute; follow it only on the same origin (never send the token elsewhere). */
	private sameOriginPath(link: string): string {
		const base = new URL(this.baseUrl);
		const url = new URL(link, this.baseUrl);
		if (url.origin !== base.origin) throw new ArmError(`Azure returned a next page on another host (${url.host}); not followed.`, 200, "ForeignNextLink");
		return url.pathname + url.search;
	}

	private async call(method: "GET" | "POST", pathAndQuery: string, signal?: AbortSignal): Promise<unknown> {
		const url = this.baseUrl + pathAndQuery;
		const what = `${method} ${pathAndQuery.replace(/\?.*$/, "")}`;
		const token = await this.getToken(signal);
		const timeout = AbortSignal.timeout(this.timeoutMs);
		const started = Date.now();
		let res: Response;
		try {
			res = await fetch(url, {
				method,
				headers: { Authorization: `Bearer ${token}`, Accept: "application/json", ...(method === "POST" ? { "Content-Type": "application/json" } : {}) },
				...(method === "POST" ? { body: "{}" } : {}),
				signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
			});
		} catch (e) {
			if (signal?.aborted) throw e;
			const why = timeout.aborted ? `no answer within ${Math.round(this.timeoutMs / 1000)} s` : e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
			throw new ArmError(`Could not reach Azure Resource Manager (${why}).`, 0, "Network");
		}
		const text = await res.text();
		this.logger.debug(`ARM ${what} → ${res.status} in ${Date.now() - started} ms`);
		if (!res.ok) {
			let code = `Http${res.status}`;
			let detail = "";
			try {
				const err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
				if (err?.code) code = err.code;
				if (err?.message) detail = err.message.split("\n")[0] ?? "";
			} catch {
				/* not JSON */
			}
			const hint =
				res.status === 401
					? "Sign in again."
					: res.status === 403
						? "Your account lacks permission for this (you need at least Reader on the workspace, and the listKeys action for keys)."
						: "";
			throw new ArmError([`Azure Resource Manager refused ${what} (${res.status} ${code})${detail ? `: ${detail}` : "."}`, hint].filter(Boolean).join(" "), res.status, code);
		}
		try {
			return JSON.parse(text) as unknown;
		} catch {
			throw new ArmError(`Azure Resource Manager sent a body that is not JSON for ${what}.`, res.status, "BadJson");
		}
	}
}

function authModeOf(raw: string): EndpointAuthMode {
	switch (raw.toLowerCase()) {
		case "aadtoken":
			return "entra";
		case "amltoken":
			return "amlToken";
		default:
			return "key";
	}
}

/** A resource id as a URL path: must start with /subscriptions/. */
function resourcePath(id: string): string {
	if (!/^\/subscriptions\/[^/]+\//i.test(id)) throw new ArmError(`Not an Azure resource id: ${id}`, 0, "BadId");
	return id
		.split("/")
		.map((p) => encodeURIComponent(p))
		.join("/");
}
