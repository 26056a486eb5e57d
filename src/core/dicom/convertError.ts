import type { ConvertStage } from "./types";

/** An error with the stage it happened at and a one-line, human-readable message. */
export class ConvertError extends Error {
	constructor(
		readonly stage: ConvertStage,
		message: string,
	) {
		super(message.replace(/\s+/g, " ").trim());
		this.name = "ConvertError";
	}
}

/** A one-line message for anything thrown (dicom-parser throws strings and plain objects). */
export function errorText(e: unknown): string {
	let text: string;
	if (e instanceof Error) text = e.message;
	else if (typeof e === "string") text = e;
	else if (e && typeof e === "object" && "exception" in e) text = String((e as { exception: unknown }).exception);
	else text = String(e);
	return text.replace(/\s+/g, " ").trim() || "unknown error";
}
