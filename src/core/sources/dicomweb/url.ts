/**
 * DICOMweb inputs (PRODUCT.md §9): an input that is a URL instead of a path.
 *
 *   <base>/studies                                  every study
 *   <base>/studies?ModalitiesInStudy=CT&…           a QIDO-RS study query
 *   <base>/studies/<StudyUID>                       one study
 *   <base>/studies/<StudyUID>/series/<SeriesUID>    one series
 *   <base>/studies/<S>/series/<Se>/instances/<SOP>  one instance
 *
 * `<base>` is the service root: `…/dicom-web` (Orthanc, dcm4chee), `…/v2` (Azure's DICOM service),
 * `…/dicomStores/<store>/dicomWeb` (Google). Credentials never travel in the URL: user info is refused
 * (it would end up in shell history, logs and run.json), and plain http is refused except on loopback.
 */

export type DicomwebLevel = "studies" | "study" | "series" | "instance";

export interface DicomwebTarget {
	/** Service root, no trailing slash, no user info, no query. */
	base: string;
	level: DicomwebLevel;
	studyUid?: string;
	seriesUid?: string;
	sopInstanceUid?: string;
	/** QIDO-RS match and include parameters of a study query (level "studies"), without limit/offset. */
	query: [string, string][];
	/** A `limit` the user wrote into a study query: the most studies to take. */
	maxStudies?: number;
	/** An `offset` the user wrote into a study query: studies to pass over first. */
	firstStudy?: number;
}

export class DicomwebUrlError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "DicomwebUrlError";
	}
}

const uidPattern = /^[0-9]+(\.[0-9]+)*$/;

/** Whether an input names a DICOMweb resource rather than a path on disk. */
export function isDicomwebInput(input: string): boolean {
	return /^https?:\/\//i.test(input.trim());
}

/** Whether a host name is this machine (the only place plain http may go). */
export function isLoopbackHost(hostname: string): boolean {
	const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
	return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function checkUid(uid: string, what: string, url: string): string {
	const decoded = decodeURIComponent(uid);
	if (!uidPattern.test(decoded) || decoded.length > 64) throw new DicomwebUrlError(`Not a valid ${what} UID in ${url}: "${decoded}".`);
	return decoded;
}

/** Parses a DICOMweb input; throws a DicomwebUrlError whose message says what is wrong. */
export function parseDicomwebUrl(input: string): DicomwebTarget {
	let u: URL;
	try {
		u = new URL(input.trim());
	} catch {
		throw new DicomwebUrlError(`Not a valid URL: ${input}`);
	}
	if (u.protocol !== "https:" && u.protocol !== "http:") throw new DicomwebUrlError(`A DICOMweb URL starts with https:// (got ${u.protocol}).`);
	if (u.username || u.password) {
		throw new DicomwebUrlError(
			"Do not put a user name or password in the DICOMweb URL: use basic authentication with MEDIMAGEINSIGHT_DICOMWEB_USER and MEDIMAGEINSIGHT_DICOMWEB_PASSWORD (CLI) or the server's stored credentials (VS Code).",
		);
	}
	if (u.protocol === "http:" && !isLoopbackHost(u.hostname)) {
		throw new DicomwebUrlError(`Plain http:// is only allowed for this machine (loopback); use https:// for ${u.host}.`);
	}
	const shown = `${u.origin}${u.pathname}`;
	const segments = u.pathname.split("/");
	while (segments.length > 1 && segments[segments.length - 1] === "") segments.pop();
	// The last "studies" segment that starts a DICOMweb resource path (a base may itself hold the word).
	let start = -1;
	for (let i = segments.length - 1; i >= 0; i--) {
		if (segments[i] !== "studies") continue;
		const rest = segments.slice(i + 1);
		if (rest.length === 0 || rest.length === 1 || rest.length === 3 || rest.length === 5) {
			if (rest.length <= 1 || (rest[1] === "series" && (rest.length === 3 || rest[3] === "instances"))) {
				start = i;
				break;
			}
		}
	}
	if (start < 0) {
		throw new DicomwebUrlError(
			`Not a DICOMweb study, series or query URL: ${shown}. Use …/studies, …/studies?ModalitiesInStudy=CT, …/studies/<StudyUID> or …/studies/<StudyUID>/series/<SeriesUID>.`,
		);
	}
	const base = `${u.origin}${segments.slice(0, start).join("/")}`;
	const rest = segments.slice(start + 1);
	const target: DicomwebTarget = { base, level: "studies", query: [] };
	if (rest.length >= 1) {
		target.level = "study";
		target.studyUid = checkUid(rest[0]!, "Study Instance", shown);
	}
	if (rest.length >= 3) {
		target.level = "series";
		target.seriesUid = checkUid(rest[2]!, "Series Instance", shown);
	}
	if (rest.length >= 5) {
		target.level = "instance";
		target.sopInstanceUid = checkUid(rest[4]!, "SOP Instance", shown);
	}
	for (const [name, value] of u.searchParams) {
		if (target.level !== "studies") throw new DicomwebUrlError(`Query parameters are only understood on a study query (…/studies?…): ${u.href.replace(u.search, "")}?${name}=…`);
		if (name === "limit" || name === "offset") {
			if (!/^\d+$/.test(value)) throw new DicomwebUrlError(`${name} must be a whole number (got "${value}").`);
			if (name === "limit") target.maxStudies = Number(value);
			else target.firstStudy = Number(value);
		} else {
			target.query.push([name, value]);
		}
	}
	return target;
}

/** The input as recorded and shown: the resource URL without credentials, with its query. */
export function describeTarget(t: DicomwebTarget): string {
	let s = `${t.base}/studies`;
	if (t.studyUid) s += `/${t.studyUid}`;
	if (t.seriesUid) s += `/series/${t.seriesUid}`;
	if (t.sopInstanceUid) s += `/instances/${t.sopInstanceUid}`;
	if (t.level === "studies" && (t.query.length || t.maxStudies !== undefined || t.firstStudy !== undefined)) {
		const q = new URLSearchParams(t.query);
		if (t.maxStudies !== undefined) q.set("limit", String(t.maxStudies));
		if (t.firstStudy !== undefined) q.set("offset", String(t.firstStudy));
		s += `?${q.toString()}`;
	}
	return s;
}
