// Installs (once, into the git-ignored .test-host/ folder) and starts code-server 4.100.3, the real
// VS Code the extension tests run in on machines that cannot download desktop VS Code. The recipe
// is the one in the shared TESTING.md: --ignore-scripts, rebuild the native modules, link Debian's
// ripgrep, link node_modules.asar, install the built-in extensions' dependencies.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, lstatSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const codeServerVersion = "4.100.3";

const root = resolve(import.meta.dirname, "..", "..");
export const hostDir = join(root, ".test-host");
const installDir = join(hostDir, `code-server-${codeServerVersion}`);
const pkgDir = join(installDir, "node_modules", "code-server");
const vscodeDir = join(pkgDir, "lib", "vscode");
const marker = join(installDir, ".installed");
export const codeServerBin = join(pkgDir, "out", "node", "entry.js");

const npmEnv = { ...process.env, npm_config_yes: "true", npm_config_unsafe_perm: "true", npm_config_fund: "false", npm_config_audit: "false" };

function npm(args, cwd) {
	const t = Date.now();
	console.log(`[code-server] npm ${args.join(" ")}  (in ${cwd.replace(root + "/", "")})`);
	const r = spawnSync("npm", args, { cwd, env: npmEnv, stdio: ["ignore", "inherit", "inherit"] });
	if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed in ${cwd} (exit ${r.status})`);
	console.log(`[code-server]   done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
}

/** Installs code-server when it is missing; returns the path of its entry script. */
export function ensureCodeServer() {
	if (existsSync(marker) && existsSync(codeServerBin)) return codeServerBin;
	const rg = spawnSync("sh", ["-c", "command -v rg"], { encoding: "utf8" }).stdout.trim();
	if (!rg) throw new Error("ripgrep (rg) is missing: apt-get install ripgrep");
	console.log(`[code-server] installing code-server@${codeServerVersion} into ${installDir.replace(root + "/", "")}`);
	mkdirSync(installDir, { recursive: true });
	if (!existsSync(join(installDir, "package.json"))) {
		writeFileSync(join(installDir, "package.json"), JSON.stringify({ name: "test-host", private: true }, null, "\t"));
	}
	npm(["install", "--no-save", "--ignore-scripts", "--no-package-lock", `code-server@${codeServerVersion}`], installDir);
	npm(["rebuild", "argon2"], installDir);
	npm(["install", "--omit=dev", "--ignore-scripts", "--no-package-lock"], vscodeDir);
	npm(["rebuild", "kerberos", "@parcel/watcher", "node-pty", "@vscode/spdlog", "native-watchdog", "@vscode/deviceid"], vscodeDir);
	const rgDir = join(vscodeDir, "node_modules", "@vscode", "ripgrep", "bin");
	mkdirSync(rgDir, { recursive: true });
	rmSync(join(rgDir, "rg"), { force: true });
	symlinkSync(rg, join(rgDir, "rg"));
	const asar = join(vscodeDir, "node_modules.asar");
	if (!existsSync(asar)) symlinkSync("node_modules", asar);
	const ext = join(vscodeDir, "extensions");
	if (existsSync(join(ext, "package.json"))) npm(["install", "--omit=dev", "--no-package-lock"], ext);
	writeFileSync(marker, new Date().toISOString());
	return codeServerBin;
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
	return new Promise((res, rej) => {
		const s = createServer();
		s.once("error", rej);
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => res(port));
		});
	});
}

/**
 * Starts code-server on 127.0.0.1:<free port> in its own process group with XDG and user dirs in a
 * temp folder; `keybindings` (an array as in keybindings.json) go into the user's keybindings.
 * Returns { url, port, extensionsDir, userDataDir, stop() }.
 */
export async function startCodeServer({ workspace, extensionsDir, keybindings, log = () => {} }) {
	const bin = ensureCodeServer();
	const tmp = mkdtempSync(join(tmpdir(), "mii-cs-"));
	const userDataDir = join(tmp, "user-data");
	const extDir = extensionsDir ?? join(tmp, "extensions");
	mkdirSync(join(userDataDir, "User"), { recursive: true });
	mkdirSync(extDir, { recursive: true });
	writeFileSync(
		join(userDataDir, "User", "settings.json"),
		JSON.stringify(
			{
				"workbench.startupEditor": "none",
				"workbench.tips.enabled": false,
				"security.workspace.trust.enabled": false,
				"telemetry.telemetryLevel": "off",
				"extensions.autoUpdate": false,
				"extensions.autoCheckUpdates": false,
				"update.mode": "none",
				"git.enabled": false,
				"window.restoreWindows": "none",
			},
			null,
			"\t",
		),
	);
	if (keybindings) writeFileSync(join(userDataDir, "User", "keybindings.json"), JSON.stringify(keybindings, null, "\t"));
	const port = await freePort();
	const env = { ...process.env, XDG_CONFIG_HOME: join(tmp, "config"), XDG_DATA_HOME: join(tmp, "data"), XDG_CACHE_HOME: join(tmp, "cache") };
	delete env.VSCODE_IPC_HOOK_CLI;
	const args = [
		bin,
		"--auth",
		"none",
		"--bind-addr",
		`127.0.0.1:${port}`,
		"--disable-telemetry",
		"--disable-update-check",
		"--disable-workspace-trust",
		"--disable-getting-started-override",
		"--user-data-dir",
		userDataDir,
		"--extensions-dir",
		extDir,
		workspace,
	];
	const child = spawn("setsid", [process.execPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	const onData = (d) => {
		output += d.toString();
		log(d.toString());
	};
	child.stdout.on("data", onData);
	child.stderr.on("data", onData);
	const url = `http://127.0.0.1:${port}/`;
	// A code-server that exits fails at once; one that runs but never answers is stopped by this hang
	// guard, generous so that a loaded machine is slow, never failed.
	const hangGuardMs = 600_000;
	const deadline = Date.now() + hangGuardMs;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${output}`);
		try {
			const r = await fetch(`${url}healthz`);
			if (r.ok) break;
		} catch {
			/* not up yet */
		}
		if (Date.now() > deadline) {
			stopGroup(child.pid);
			throw new Error(`code-server is running but did not answer within ${hangGuardMs / 60_000} minutes (hang guard):\n${output}`);
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	return {
		url,
		port,
		userDataDir,
		extensionsDir: extDir,
		tmp,
		output: () => output,
		async stop() {
			stopGroup(child.pid);
			await new Promise((r) => setTimeout(r, 300));
			try {
				rmSync(tmp, { recursive: true, force: true });
			} catch {
				/* a watcher may still hold a file; the folder is in tmp */
			}
		},
	};
}

/** Kills the process group started with setsid (its pid is the group id). */
function stopGroup(pid) {
	if (!pid) return;
	for (const sig of ["SIGTERM", "SIGKILL"]) {
		try {
			process.kill(-pid, sig);
		} catch {
			return;
		}
		if (sig === "SIGTERM") spawnSync("sleep", ["0.5"]);
	}
}

/** Installs a .vsix into an extensions folder with code-server's CLI. */
export function installVsix(vsix, extensionsDir) {
	const bin = ensureCodeServer();
	const tmp = mkdtempSync(join(tmpdir(), "mii-csx-"));
	const env = { ...process.env, XDG_CONFIG_HOME: join(tmp, "config"), XDG_DATA_HOME: join(tmp, "data") };
	const r = spawnSync(process.execPath, [bin, "--install-extension", vsix, "--extensions-dir", extensionsDir, "--user-data-dir", join(tmp, "ud")], {
		env,
		encoding: "utf8",
	});
	rmSync(tmp, { recursive: true, force: true });
	if (r.status !== 0) throw new Error(`installing ${vsix} failed:\n${r.stdout}\n${r.stderr}`);
	return r.stdout;
}

export function isSymlink(p) {
	try {
		return lstatSync(p).isSymbolicLink();
	} catch {
		return false;
	}
}

export function readJson(p) {
	return JSON.parse(readFileSync(p, "utf8"));
}

// `node scripts/lib/codeServer.mjs` installs the test host on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
	const { ensureDebianPackages } = await import("./chromium.mjs");
	ensureDebianPackages();
	const t = Date.now();
	ensureCodeServer();
	console.log(`code-server ready in ${((Date.now() - t) / 1000).toFixed(0)} s: ${codeServerBin}`);
}
