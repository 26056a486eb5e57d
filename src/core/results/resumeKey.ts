/**
 * Resume identity (PRODUCT.md §4). An image's key is the sha256 of the JSON of (format version, the
 * file's sha256, the conversion settings that change the pixels sent, the endpoint URL and
 * deployment): the same bytes converted the same way and sent to the same model give the same key,
 * wherever the file lies, so a re-run sends only what is missing. The config id is the same hash
 * without the file: it tags every record so that a file left unchanged (same path, size, mtime and
 * identity, see sourceId) can be skipped without reading it.
 */
import { createHash } from "node:crypto";
import type { ConvertOptions } from "../dicom/types";
import type { EndpointSettings } from "../endpoint/types";

/** Bump when a change of the converter or of the record format must invalidate earlier results. */
export const resultsFormatVersion = 1;

/**
 * The conversion settings that change what is sent to the endpoint. The PNG compression level
 * changes bytes, not pixels; the thumbnail size only the thumbnail; the pixel cap only which files
 * fail: none of them is here. The PNG mode is: a gray image sent as an 8-bit grayscale PNG and the
 * same image sent as RGB are different requests, so a gray run and an RGB run are different
 * settings. `decoder` names the converter revision whose pictures can differ from the one before:
 * revision 2 picks the decoder by the codestream, follows the header on JPEG 2000 sign and precision,
 * converts YBR JPEG as GDCM does, reads 12-bit packed and progressive JPEG, and windows a collapsed
 * 10/90 window over min–max. Pictures made before it may be wrong and the user cannot tell which, so
 * results from before are not taken as done: a re-run sends each image once more (README: "Resume").
 */
export function pixelSettings(convert: Pick<ConvertOptions, "grayscalePng">): Record<string, string | number | boolean> {
	const pipeline = "first-frame, percentile 10/90 clip, uint8 scale, RGB";
	const decoder = 2;
	return convert.grayscalePng === false ? { pipeline, decoder } : { pipeline, decoder, png: "gray images as 8-bit grayscale" };
}

/**
 * The endpoint's identity for resume: the URL (normalised, without credentials or query values) and
 * deployment. The built-in simulation is one model wherever it listens: it starts on a free port each
 * time, and its vectors depend only on the image, so its identity leaves the URL out.
 */
export function endpointIdentity(endpoint: Pick<EndpointSettings, "url" | "deployment">, simulated = false): { url: string; deployment: string } {
	return { url: simulated ? simulationIdentity : normaliseUrl(endpoint.url), deployment: endpoint.deployment ?? "" };
}

/** Stands for the built-in simulated endpoint in resume keys (bump with its model). */
export const simulationIdentity = "simulation:1";

function normaliseUrl(url: string): string {
	try {
		const u = new URL(url);
		u.username = "";
		u.password = "";
		return u.href;
	} catch {
		return url.trim();
	}
}

function sha256Hex(text: string): string {
	return createHash("sha256").update(text).digest("hex");
}

/**
 * The identity of a file for the resume stamp: its absolute path and inode, hashed (records carry no
 * absolute path). A different file that happens to have the same recorded path, size and mtime (another
 * selection, or a file replaced by a copy) has another identity, so it is read and not taken as done.
 */
export function sourceId(absPath: string, ino: number): string {
	return createHash("sha256").update(`${absPath}\0${ino}`).digest("base64url").slice(0, 22);
}

/** Computes resume keys for one set of settings. */
export class ResumeKeys {
	/** Id of the settings (no file): tags records, selects which earlier records count as done. */
	readonly config: string;
	private readonly pixels: Record<string, string | number | boolean>;
	private readonly endpoint: { url: string; deployment: string };

	constructor(convert: ConvertOptions, endpoint: Pick<EndpointSettings, "url" | "deployment">, simulated = false) {
		this.pixels = pixelSettings(convert);
		this.endpoint = endpointIdentity(endpoint, simulated);
		this.config = sha256Hex(JSON.stringify({ version: resultsFormatVersion, pixels: this.pixels, endpoint: this.endpoint }));
	}

	/** The resume key of an image whose file has this sha256 (hex). */
	key(fileSha256: string): string {
		return sha256Hex(JSON.stringify({ version: resultsFormatVersion, sha256: fileSha256, pixels: this.pixels, endpoint: this.endpoint }));
	}
}
