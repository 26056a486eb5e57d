/**
 * DICOMweb inputs on the command line (PRODUCT.md §9): which arguments are URLs, and the credentials
 * for them, which come from the environment only (argv is visible to every user of the machine):
 *   MEDIMAGEINSIGHT_DICOMWEB_TOKEN                                  bearer token
 *   MEDIMAGEINSIGHT_DICOMWEB_USER + MEDIMAGEINSIGHT_DICOMWEB_PASSWORD  HTTP basic
 *   --dicomweb-auth entra                                           Microsoft Entra ID (Azure's DICOM service)
 */
import { entraTokenProvider } from "../core/endpoint/auth";
import { azureDicomScope, basicAuth, bearerAuth, noAuth, type DicomwebAuth } from "../core/sources/dicomweb/client";
import { DicomwebUrlError, isDicomwebInput, parseDicomwebUrl } from "../core/sources/dicomweb/url";
import { intOption, stringOption, type Parsed } from "./args";
import { UsageError } from "./usageError";

export const dicomwebTokenVariable = "MEDIMAGEINSIGHT_DICOMWEB_TOKEN";
export const dicomwebUserVariable = "MEDIMAGEINSIGHT_DICOMWEB_USER";
export const dicomwebPasswordVariable = "MEDIMAGEINSIGHT_DICOMWEB_PASSWORD";

export const dicomwebHelp = `DICOMweb inputs: an input may be a DICOMweb URL instead of a path:
  …/dicom-web/studies                             every study
  …/dicom-web/studies?ModalitiesInStudy=CT&StudyDate=20240101-20240131   a QIDO-RS query
  …/dicom-web/studies/<StudyUID>[/series/<SeriesUID>]
  Credentials come from the environment: ${dicomwebTokenVariable} (bearer), or
  ${dicomwebUserVariable} + ${dicomwebPasswordVariable} (basic); --dicomweb-auth entra uses
  Microsoft Entra ID (Azure Health Data Services DICOM service).
  --dicomweb-auth none|basic|bearer|entra   (default: from the variables that are set)
  --dicomweb-concurrency N                  retrievals in flight at most (default 4)`;

/** Options the commands that take inputs add to their parser. */
export const dicomwebParserOptions = {
	"dicomweb-auth": { type: "string" },
	"dicomweb-concurrency": { type: "string" },
} as const;

/** Checks the URL inputs (a usage error says what is wrong with one); returns the inputs' count that are URLs. */
export function checkDicomwebInputs(command: string, inputs: string[]): number {
	let n = 0;
	for (const input of inputs) {
		if (!isDicomwebInput(input)) continue;
		n++;
		try {
			parseDicomwebUrl(input);
		} catch (e) {
			if (e instanceof DicomwebUrlError) throw new UsageError(`${command}: ${e.message}`);
			throw e;
		}
	}
	return n;
}

/** The authentication and limits for URL inputs, from the flags and the environment. */
export async function dicomwebOptions(command: string, p: Parsed, env: NodeJS.ProcessEnv = process.env): Promise<{ auth: DicomwebAuth; retrievalConcurrency: number }> {
	const token = env[dicomwebTokenVariable]?.trim();
	const user = env[dicomwebUserVariable]?.trim();
	const mode = stringOption(p, "dicomweb-auth") ?? (token ? "bearer" : user ? "basic" : "none");
	const retrievalConcurrency = intOption(p, "dicomweb-concurrency", 1, 64, 4);
	switch (mode) {
		case "none":
			return { auth: noAuth, retrievalConcurrency };
		case "bearer":
			if (!token) throw new UsageError(`${command}: --dicomweb-auth bearer needs the token in ${dicomwebTokenVariable}`);
			return { auth: bearerAuth(async () => env[dicomwebTokenVariable] ?? ""), retrievalConcurrency };
		case "basic": {
			const password = env[dicomwebPasswordVariable] ?? "";
			if (!user || !password) throw new UsageError(`${command}: basic authentication needs ${dicomwebUserVariable} and ${dicomwebPasswordVariable}`);
			return { auth: basicAuth(user, password), retrievalConcurrency };
		}
		case "entra": {
			const { DefaultAzureCredential } = await import("@azure/identity");
			const tokens = entraTokenProvider(new DefaultAzureCredential(), azureDicomScope);
			return { auth: bearerAuth((signal) => tokens.getToken(signal)), retrievalConcurrency };
		}
		default:
			throw new UsageError(`${command}: --dicomweb-auth must be none, basic, bearer or entra (got "${mode}")`);
	}
}
