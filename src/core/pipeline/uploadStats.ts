/**
 * What a run sent to the endpoint, for run.json: images, requests and request-body bytes (the
 * JSON with the base64 PNGs, as built once per batch; retries of a request are not counted again).
 * Upload bandwidth is often what binds against a real endpoint (Azure ML: 5 MBPS per endpoint).
 */
import { imagePayloadBytes } from "../endpoint/payload";

/** The `upload` field of run.json. */
export interface UploadInfo {
	/** Images sent (each once, whatever the number of attempts). */
	images: number;
	/** Batches handed to the endpoint client. */
	requests: number;
	/** Bytes of the PNGs sent. */
	pngBytes: number;
	/** Bytes of the request bodies carrying them (base64 in JSON). */
	requestBytes: number;
	/** requestBytes / images, rounded (0 when nothing was sent). */
	meanRequestBytesPerImage: number;
}

export class UploadStats {
	private images = 0;
	private requests = 0;
	private pngBytes = 0;
	private requestBytes = 0;

	/** Counts one batch of PNGs of these sizes. */
	add(pngByteLengths: readonly number[]): void {
		if (pngByteLengths.length === 0) return;
		this.images += pngByteLengths.length;
		this.requests++;
		for (const b of pngByteLengths) this.pngBytes += b;
		this.requestBytes += imagePayloadBytes(pngByteLengths);
	}

	info(): UploadInfo {
		return {
			images: this.images,
			requests: this.requests,
			pngBytes: this.pngBytes,
			requestBytes: this.requestBytes,
			meanRequestBytesPerImage: this.images > 0 ? Math.round(this.requestBytes / this.images) : 0,
		};
	}
}
