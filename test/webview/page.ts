// What scripts/test-webview.mjs needs to render the harness page exactly as the extension renders the panel.
export { renderHtml, contentSecurityPolicy } from "../../src/extension/webview/html";
export { defaultStrings } from "../../src/core/protocol/webview";
export { readResults } from "../../src/core/results/reader";
