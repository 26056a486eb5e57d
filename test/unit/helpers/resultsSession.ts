/**
 * A ResultsSession for the tests of the results view's host side: it posts into `sent`, and has no
 * thumbnails, text embeddings, actions, .npy or UMAP unless `deps` gives them.
 */
import { ResultsSession, type SessionDeps } from "../../../src/core/analysis/resultsSession";
import { defaultStrings, type ToWebview } from "../../../src/core/protocol/webview";
import type { ResultsModel } from "../../../src/core/results/reader";
import { nullLogger } from "../../../src/core/util/logger";

export function testSession(model: ResultsModel, sent: ToWebview[], deps: Partial<SessionDeps> = {}): ResultsSession {
	return new ResultsSession(model, {
		post: (m) => sent.push(m),
		strings: defaultStrings,
		logger: nullLogger,
		thumbnailUri: () => undefined,
		embedTexts: async () => ({ embeddings: [] }),
		onAction: async () => undefined,
		hasNpy: false,
		...deps,
	});
}
