// Finds Debian's chromium for the browser tests, installing it (and fonts) with apt-get when it is
// missing and we are root. Without root it says what to install and returns undefined.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean);

/** Debian packages the real-VS-Code and webview tests need. */
export const debianPackages = ["chromium", "fonts-dejavu-core", "libkrb5-dev", "pkg-config", "ripgrep"];

function missingPackages(pkgs) {
	return pkgs.filter((p) => spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" }).stdout?.includes("install ok installed") !== true);
}

/** Installs the missing Debian packages (root only). Returns true when all are present afterwards. */
export function ensureDebianPackages(pkgs = debianPackages) {
	const missing = missingPackages(pkgs);
	if (missing.length === 0) return true;
	if (process.getuid?.() !== 0) {
		console.error(`Missing Debian packages: ${missing.join(" ")}\nInstall them with: sudo apt-get install -y ${missing.join(" ")}`);
		return false;
	}
	console.log(`Installing Debian packages: ${missing.join(" ")}`);
	const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
	const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
	if (update.status !== 0) return false;
	const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
	return r.status === 0 && missingPackages(pkgs).length === 0;
}

/** Path of a usable chromium, installing Debian's when needed; undefined (with a message) when impossible. */
export function ensureChromium() {
	let found = candidates.find((p) => existsSync(p));
	if (found) return found;
	ensureDebianPackages(["chromium", "fonts-dejavu-core"]);
	found = candidates.find((p) => existsSync(p));
	if (!found) console.error("chromium not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.");
	return found;
}

/** Flags that work on these machines (see shared TESTING.md). */
export const chromiumArgs = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
];
