import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultConvertOptions } from "../../../src/core/dicom/types";
import { ResumeKeys } from "../../../src/core/results/resumeKey";

const sha = "ab".repeat(32);

void describe("resume keys", () => {
	void it("differ between two real endpoints, and between deployments of one", () => {
		const a = new ResumeKeys(defaultConvertOptions, { url: "https://a.westeurope.inference.ml.azure.com/score" });
		const b = new ResumeKeys(defaultConvertOptions, { url: "https://b.westeurope.inference.ml.azure.com/score" });
		const aBlue = new ResumeKeys(defaultConvertOptions, { url: "https://a.westeurope.inference.ml.azure.com/score", deployment: "blue" });
		assert.notEqual(a.key(sha), b.key(sha));
		assert.notEqual(a.key(sha), aBlue.key(sha));
		assert.notEqual(a.config, b.config);
	});

	void it("are the same for the built-in simulation on another port (it starts on a free port each time)", () => {
		const first = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:40001/score" }, true);
		const second = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:40999/score" }, true);
		assert.equal(first.key(sha), second.key(sha));
		assert.equal(first.config, second.config);
	});

	void it("never match a real endpoint's, even at the simulation's URL", () => {
		const simulated = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:40001/score" }, true);
		const real = new ResumeKeys(defaultConvertOptions, { url: "http://127.0.0.1:40001/score" }, false);
		assert.notEqual(simulated.key(sha), real.key(sha));
	});

	void it("ignore credentials in the URL and settings that do not change the pixels sent", () => {
		const plain = new ResumeKeys(defaultConvertOptions, { url: "https://a.example/score" });
		const withUser = new ResumeKeys({ ...defaultConvertOptions, pngCompressionLevel: 9, thumbnailSize: 64 }, { url: "https://user:pw@a.example/score" });
		assert.equal(plain.key(sha), withUser.key(sha));
		assert.notEqual(plain.key(sha), plain.key("cd".repeat(32)));
	});
});
