/**
 * What the helpers that start a Debian service for a test (redis-server, Orthanc) share: installing
 * the packages when they are missing (as root, without letting the package start its system service),
 * a free loopback port, and waiting until the started server answers.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createServer } from "node:net";

/** Installs `packages` when `installed()` says they are missing (root only); false with a message when it cannot. */
export function ensureDebianPackages(installed: () => boolean, packages: string[], what: string): boolean {
	if (installed()) return true;
	if (process.getuid?.() !== 0) {
		console.warn(`${what} is missing. Install it with: sudo apt-get install -y ${packages.join(" ")}`);
		return false;
	}
	const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
	spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
	// policy-rc.d 101 keeps the package from starting the system service.
	const policy = "/usr/sbin/policy-rc.d";
	const hadPolicy = fs.existsSync(policy);
	if (!hadPolicy) fs.writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
	try {
		spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], { stdio: "inherit", env });
	} finally {
		if (!hadPolicy) fs.rmSync(policy, { force: true });
	}
	return installed();
}

/** A port nothing listens on at 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.once("error", reject);
		s.listen(0, "127.0.0.1", () => {
			const port = (s.address() as { port: number }).port;
			s.close(() => resolve(port));
		});
	});
}

/**
 * Waits until a server started for a test answers (`answers()`), polling every 100 ms. Fails at once,
 * with the reason, when the process has exited (`exitedWith()` returns a text). Otherwise it waits:
 * the bound is a hang guard for a server that runs but never answers, ten minutes, so that a loaded
 * machine is slow, never failed.
 */
export async function waitUntilServing(what: string, answers: () => Promise<boolean>, exitedWith: () => string | undefined, hangGuardMs = 600_000): Promise<void> {
	const deadline = Date.now() + hangGuardMs;
	for (;;) {
		const exited = exitedWith();
		if (exited !== undefined) throw new Error(`${what} exited at start:\n${exited}`);
		if (await answers()) return;
		if (Date.now() > deadline) throw new Error(`${what} is running but did not answer within ${hangGuardMs / 60_000} minutes (hang guard)`);
		await new Promise((r) => setTimeout(r, 100));
	}
}
