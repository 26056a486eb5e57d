/**
 * `medimageinsight simulate`: the built-in SIMULATED endpoint on 127.0.0.1 until Ctrl+C. It speaks
 * the MedImageInsight contract but is not the model: its vectors only mimic one.
 */
import { randomBytes } from "node:crypto";
import { describeSimulator, startSimulator, type SimulatorOptions } from "../core/simulator/server";
import { intOption, numberOption, parseCommand, rateOption } from "./args";
import type { CliContext } from "./context";
import { apiKeyVariable } from "./embedCommand";
import { UsageError } from "./usageError";

export const simulatorBanner = "SIMULATION — not MedImageInsight: embeddings are synthetic, for trying the tools only.";

export const simulateHelp = `Usage: medimageinsight simulate [--port N] [--rate CALLS/SECONDS] [--latency MS] [--fail-rate P] [--capacity N]

Starts a local endpoint on 127.0.0.1 that speaks the MedImageInsight scoring contract (same
request and response, key check, rate limit with 429 + Retry-After, latency, injected faults).
${simulatorBanner}
Runs until Ctrl+C.

The key it accepts is $${apiKeyVariable} when that is set; otherwise a random key, printed once at
start. A key is never taken from the command line (other users of the machine can read it there).

Options:
  --port N              port (default: a free one)
  --rate CALLS/SECONDS  server-side rate limit, answered with 429 (default: none)
  --latency MS          added latency per request (default 0)
  --fail-rate P         fraction of requests answered with an injected fault, 0–1 (default 0)
  --capacity N          requests it serves at once before answering 429 "Too many pending requests" (default 64)`;

/** A fresh random key for a simulator session (URL-safe, 24 characters). */
export function randomSimulatorKey(): string {
	return `sim-${randomBytes(15).toString("base64url")}`;
}

export async function simulateCommand(argv: string[], ctx: CliContext): Promise<number> {
	const keyFlag = argv.find((a) => /^--?(api-?key|key|token)(=|$)/i.test(a));
	if (keyFlag) {
		throw new UsageError(
			`simulate: ${keyFlag.split("=")[0]} is refused: a key on the command line is visible to other users (ps) and kept in shell history. ` +
				`Set ${apiKeyVariable}, or let simulate make a random key and print it.`,
		);
	}
	const p = parseCommand("simulate", argv, {
		port: { type: "string" },
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
	const fromEnv = process.env[apiKeyVariable]?.trim();
	const key = fromEnv || randomSimulatorKey();
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
	if (fromEnv) {
		ctx.say(`Key: the value of ${apiKeyVariable}.`);
		ctx.say(`Try: medimageinsight embed <folder> --endpoint ${sim.url} --out results`);
	} else {
		ctx.say(`Key (random, for this session only): ${key}`);
		ctx.say(`Try: ${apiKeyVariable}=<the key above> medimageinsight embed <folder> --endpoint ${sim.url} --out results`);
	}
	ctx.say("Press Ctrl+C to stop.");
	await new Promise<void>((resolve) => {
		if (ctx.signal.aborted) resolve();
		ctx.signal.addEventListener("abort", () => resolve(), { once: true });
	});
	await sim.close();
	ctx.say("Simulated endpoint stopped.");
	return 0;
}
