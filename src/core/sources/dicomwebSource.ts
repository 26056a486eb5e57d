/**
 * The Source of DICOMweb instances (PRODUCT.md §9): the QIDO-RS listing of each target, one work
 * item per instance. A listing that breaks off is not fatal: the instances listed so far are
 * yielded, the next targets are listed, and the source ends by throwing an IncompleteSourceError
 * (the run then says it is incomplete; a re-run completes it). A source-wide refusal (bad
 * credentials, a redirect) is thrown at once as the DicomwebError it is.
 */
import { DicomwebError } from "./dicomweb/client";
import type { DicomwebSource } from "./dicomweb/types";
import { describeTarget, type DicomwebTarget } from "./dicomweb/url";
import type { WorkItem } from "../pipeline/types";

/** A source that yielded what it could and then could not go on: what was yielded stands. */
export class IncompleteSourceError extends Error {
	readonly code = "dicomweb";
	constructor(
		message: string,
		/** Every listing that broke off, one message each. */
		readonly problems: readonly string[] = [message],
	) {
		super(message);
		this.name = "IncompleteSourceError";
	}
}

function message(e: unknown): string {
	return (e instanceof Error ? e.message : String(e)).split("\n", 1)[0]!;
}

/** Yields the instances of every target, in order, as `dicomweb` work items (recorded path `<Study>/<Series>/<SOP>`). */
export async function* dicomwebSource(targets: readonly DicomwebTarget[], client: DicomwebSource, signal?: AbortSignal): AsyncGenerator<WorkItem> {
	const problems: string[] = [];
	for (const target of targets) {
		if (signal?.aborted) break;
		try {
			for await (const ref of client.instances(target, signal)) yield { kind: "dicomweb", path: ref.path, ref };
		} catch (e) {
			if (signal?.aborted) break;
			if (e instanceof DicomwebError && e.fatal) throw e;
			const why = e instanceof DicomwebError ? e.message : message(e);
			problems.push(`Could not list ${describeTarget(target)}: ${why} The instances listed before this were processed; run again to complete.`);
		}
	}
	if (problems.length > 0) throw new IncompleteSourceError(problems[0]!, problems);
}
