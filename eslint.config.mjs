import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
	{ ignores: ["dist/**", "out/**", "node_modules/**", ".test-host/**", "esbuild.js", "scripts/**", "media/**"] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
		languageOptions: {
			parserOptions: { project: ["./tsconfig.json", "./tsconfig.webview.json"], tsconfigRootDir: import.meta.dirname },
		},
		rules: {
			"@typescript-eslint/no-floating-promises": "error",
			"@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }],
			"no-console": "error",
		},
	},
	{
		// The core is pure: no VS Code, no DOM, nothing from the shells.
		files: ["src/core/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: [
				{ group: ["vscode"], message: "src/core must not import vscode (keep the core pure)." },
				{ group: ["**/extension/**", "**/webview/**", "**/cli/**", "**/workers/**"], message: "src/core must not import the shells." },
				{ group: ["**/devtools/**"], message: "src/devtools (the DICOM writer, sample data) is test and demo code that does not ship." },
			] }],
		},
	},
	{
		// The webview sees only the shared protocol.
		files: ["src/webview/**/*.ts"],
		rules: {
			"no-restricted-imports": ["error", { patterns: [
				{ group: ["vscode", "node:*", "fs", "path"], message: "The webview runs in a browser." },
				{ group: ["**/core/!(protocol)/**", "**/extension/**", "**/cli/**"], message: "The webview may import src/core/protocol only." },
			] }],
		},
	},
	{
		// CLI, tests and benchmarks write to the console by design.
		files: ["src/cli/**/*.ts", "test/**/*.ts", "bench/**/*.ts"],
		rules: { "no-console": "off" },
	},
);
