/** The endpoint options shared by `embed` and `submit` (--endpoint, --deployment, --batch-size, --concurrency, --rate, --retries, --timeout, --max-pause), checked. */
import { defaultEndpointSettings, type EndpointSettings } from "../core/endpoint/types";
import { intOption, rateOption, stringOption, type Parsed } from "./args";
import { UsageError } from "./usageError";

/** Endpoint settings from the options `embed` and `submit` share (no key among them). */
export function endpointFromOptions(command: string, p: Parsed): EndpointSettings {
	const url = stringOption(p, "endpoint");
	if (!url) throw new UsageError(`${command}: --endpoint URL is required (the scoring URI of the online endpoint)`);
	if (!/^https?:\/\/[^\s/]+/i.test(url)) throw new UsageError(`${command}: --endpoint must be an http(s) URL (got "${url}")`);
	const deployment = stringOption(p, "deployment");
	return {
		...defaultEndpointSettings,
		url,
		...(deployment ? { deployment } : {}),
		batchSize: intOption(p, "batch-size", 1, 1000, defaultEndpointSettings.batchSize),
		maxConcurrentRequests: intOption(p, "concurrency", 1, 256, defaultEndpointSettings.maxConcurrentRequests),
		rateLimit: rateOption(p, "rate", defaultEndpointSettings.rateLimit),
		retries: intOption(p, "retries", 1, 100, defaultEndpointSettings.retries),
		requestTimeoutMs: intOption(p, "timeout", 1, 3600, defaultEndpointSettings.requestTimeoutMs / 1000) * 1000,
		maxPauseMs: intOption(p, "max-pause", 1, 24 * 60, defaultEndpointSettings.maxPauseMs / 60000) * 60000,
	};
}
