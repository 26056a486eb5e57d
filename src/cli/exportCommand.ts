/**
 * `medimageinsight export --series RESULTS_DIR --out DIR`: series (and study) embeddings of a run's
 * results folder, as .npy + .csv (PRODUCT.md §10). Reads only the results folder; sends nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { groupEmbeddings, type GroupLevel } from "../core/analysis/series";
import { writeGroupFiles } from "../core/analysis/seriesExport";
import { readResults } from "../core/results/reader";
import { resultFiles } from "../core/results/types";
import { parseCommand, stringOption } from "./args";
import type { CliContext } from "./context";
import { UsageError } from "./usageError";

export const exportHelp = `Usage: medimageinsight export --series RESULTS_DIR [--studies] [--out DIR]
       medimageinsight export --studies RESULTS_DIR [--out DIR]

Pools the image embeddings of a results folder (written by embed or the extension) per series
and/or per study: each row is the L2-normalised mean of its images' embeddings.

  --series      write DIR/series.npy (float32, one row per series) and DIR/series.csv
                (row, seriesInstanceUid, studyInstanceUid, modality, description, images)
  --studies     write DIR/study.npy and DIR/study.csv the same way, one row per study
  --out DIR     where to write them (created if missing; default RESULTS_DIR)
Rows are ordered by StudyInstanceUID, then SeriesInstanceUID. Images without the UID are left
out and counted. Exit status: 0 written, 1 nothing embedded, 2 usage error.`;

export async function exportCommand(argv: string[], ctx: CliContext): Promise<number> {
	const p = parseCommand("export", argv, { series: { type: "boolean" }, studies: { type: "boolean" }, out: { type: "string" }, verbose: { type: "boolean" } });
	if (p.values["help"]) {
		ctx.say(exportHelp);
		return 0;
	}
	const levels: GroupLevel[] = [];
	if (p.values["series"]) levels.push("series");
	if (p.values["studies"]) levels.push("study");
	if (levels.length === 0) throw new UsageError("export: say what to export: --series and/or --studies (see export --help)");
	if (p.positionals.length !== 1) throw new UsageError(`export: expected one RESULTS_DIR, got ${p.positionals.length === 0 ? "none" : p.positionals.join(" ")}`);
	const resultsDir = path.resolve(p.positionals[0] as string);
	if (!fs.existsSync(path.join(resultsDir, resultFiles.embeddings))) {
		throw new UsageError(`export: ${resultsDir} is not a results folder (no ${resultFiles.embeddings} in it)`);
	}
	const outDir = path.resolve(stringOption(p, "out") ?? resultsDir);

	const model = await readResults(resultsDir, { signal: ctx.signal, logger: ctx.logger });
	if (model.problems.length) ctx.say(`Left out ${model.problems.length} unusable line(s) of the results; first: ${model.problems[0]}`);
	if (model.rows.length === 0) {
		ctx.say(`Nothing to export: ${resultsDir} holds no embedded image.`);
		return 1;
	}
	for (const level of levels) {
		ctx.signal.throwIfAborted();
		const g = groupEmbeddings(model, level);
		const files = await writeGroupFiles(g, outDir);
		const plural = level === "series" ? "series" : g.groups.length === 1 ? "study" : "studies";
		ctx.say(`${g.groups.length} ${plural} from ${model.rows.length - g.withoutUid} images (${g.dim} values each) → ${files.npy}, ${files.csv}`);
		if (g.withoutUid > 0) ctx.say(`  ${g.withoutUid} image(s) have no ${level === "series" ? "SeriesInstanceUID" : "StudyInstanceUID"} and were left out.`);
	}
	return 0;
}
