/**
 * `medimageinsight simulate`: the built-in SIMULATED endpoint on 127.0.0.1 until Ctrl+C. It speaks
 * the MedImageInsight contract but is not the model: its vectors only mimic one.
 */
import { describeSimulator, startSimulator, type SimulatorOptions } from "../core/simulator/server";
import { intOption, numberOption, parseCommand, rateOption, stringOption } from "./args";
import type { CliContext } from "./context";
import { apiKeyVariable } from "./embedCommand";

export const simulatorBanner = "SIMULATION — not MedImageInsight: embeddings are synthetic, for trying the tools only.";
export const defaultSimulatorKey = "demo-key";

export const simulateHelp = `Usage: medimageinsight simulate [--port N] [--key K] [--rate CALLS/SECONDS] [--latency MS] [--fail-rate P] [--capacity N]

Starts a local endpoint on 127.0.0.1 that speaks the MedImageInsight scoring contract (same
request and response, key check, rate limit with 429 + Retry-After, latency, injected faults).
${simulatorBanner}
Runs until Ctrl+C.

Options:
  --port N              port (default: a free one)
  --key K               the key it accepts (default: $${apiKeyVariable}, else "${defaultSimulatorKey}")
  --rate CALLS/SECONDS  server-side rate limit, answered with 429 (default: none)
  --latency MS          added latency per request (default 0)
  --fail-rate P         fraction of requests answered with an injected fault, 0–1 (default 0)
  --capacity N          requests it serves at once before answering 429 "Too many pending requests" (default 64)`;

export async function simulateCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("simulate", argv, {
		port: { type: "string" },
		key: { type: "string" },
		rate: { type: "string" },
		latency: { type: "string" },
		"fail-rate": { type: "string" },
		capacity: { type: "string" },
		verbose: { type: "boolean" },
	});
	if (p.values["help"]) {
		ctx.say(simulateHelp);
		return 0;
	}
	const key = stringOption(p, "key") ?? (process.env[apiKeyVariable]?.trim() || defaultSimulatorKey);
	const port = intOption(p, "port", 0, 65535, 0);
	const rate = p.values["rate"] === undefined ? undefined : rateOption(p, "rate", { calls: 1, periodSeconds: 1 });
	const capacity = intOption(p, "capacity", 1, 100_000);
	const options: Partial<SimulatorOptions> = {
		port,
		key,
		latencyMs: intOption(p, "latency", 0, 600_000, 0),
		failRate: numberOption(p, "fail-rate", 0, 1, 0),
		...(rate ? { rate } : {}),
		...(capacity ? { capacity } : {}),
		logger: ctx.logger,
	};
	const sim = await startSimulator(options);
	ctx.say(`*** ${simulatorBanner} ***`);
	ctx.say(describeSimulator(options));
	ctx.say(`Simulated endpoint listening at ${sim.url}`);
	ctx.say(`Key: ${key === defaultSimulatorKey ? `"${defaultSimulatorKey}" (the default simulator key)` : `from ${stringOption(p, "key") ? "--key" : apiKeyVariable}`}`);
	ctx.say(`Try: ${apiKeyVariable}=${key === defaultSimulatorKey ? defaultSimulatorKey : "…"} medimageinsight embed <folder> --endpoint ${sim.url} --out results`);
	ctx.say("Press Ctrl+C to stop.");
	await new Promise<void>((resolve) => {
		if (ctx.signal.aborted) resolve();
		ctx.signal.addEventListener("abort", () => resolve(), { once: true });
	});
	await sim.close();
	ctx.say("Simulated endpoint stopped.");
	return 0;
}
