/**
 * A real Orthanc with its DICOMweb plugin (Debian's `orthanc` + `orthanc-dicomweb`) on a free
 * loopback port, started by the test and stopped by it (TESTING.md). Installs the packages when they
 * are missing and we are root; otherwise says what to install and returns undefined (the caller
 * skips loudly). Never the system service: a private config, storage folder and port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureDebianPackages, freePort, waitUntilServing } from "./debianPackage";

const orthancBin = "/usr/sbin/Orthanc";
const dicomwebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

export interface OrthancServer {
	/** http://127.0.0.1:<port> */
	url: string;
	/** The DICOMweb root: <url>/dicom-web */
	dicomweb: string;
	/** Stores one DICOM file (POST /instances); returns Orthanc's instance id. */
	upload(bytes: Uint8Array): Promise<string>;
	stop(): Promise<void>;
}

function installed(): boolean {
	return fs.existsSync(orthancBin) && fs.existsSync(dicomwebPlugin);
}

/** Installs Orthanc when missing (root only); false with a message when it cannot. */
export function ensureOrthanc(): boolean {
	return ensureDebianPackages(installed, ["orthanc", "orthanc-dicomweb"], "Orthanc");
}

export interface OrthancOptions {
	/** Enables HTTP basic authentication with these users. */
	users?: Record<string, string>;
}

/** Starts a private Orthanc; undefined (with a loud message) when it cannot be installed. */
export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer | undefined> {
	if (!ensureOrthanc()) {
		console.warn("\n!!!!!! SKIPPING the DICOMweb tests against Orthanc: Orthanc is not installed !!!!!!\n");
		return undefined;
	}
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-orthanc-"));
	const port = await freePort();
	const config = {
		Name: "mii-test",
		StorageDirectory: path.join(dir, "db"),
		IndexDirectory: path.join(dir, "db"),
		HttpPort: port,
		HttpBindAddress: "127.0.0.1",
		DicomServerEnabled: false,
		RemoteAccessAllowed: false,
		AuthenticationEnabled: !!options.users,
		...(options.users ? { RegisteredUsers: options.users } : {}),
		Plugins: [dicomwebPlugin],
		DicomWeb: { Enable: true, Root: "/dicom-web/" },
	};
	fs.writeFileSync(path.join(dir, "orthanc.json"), JSON.stringify(config));
	const log = fs.openSync(path.join(dir, "orthanc.log"), "w");
	const child: ChildProcess = spawn(orthancBin, [path.join(dir, "orthanc.json")], { stdio: ["ignore", log, log] });
	fs.closeSync(log);
	const url = `http://127.0.0.1:${port}`;
	const auth = options.users ? { authorization: `Basic ${Buffer.from(Object.entries(options.users)[0]!.join(":")).toString("base64")}` } : undefined;
	let exited = false;
	child.once("exit", () => (exited = true));
	const stop = async () => {
		if (!exited) {
			const done = new Promise((r) => child.once("exit", r));
			child.kill("SIGTERM");
			const t = setTimeout(() => child.kill("SIGKILL"), 5000);
			await done;
			clearTimeout(t);
		}
		fs.rmSync(dir, { recursive: true, force: true });
	};
	try {
		await waitUntilServing(
			"Orthanc",
			async () => {
				try {
					return (await fetch(`${url}/system`, auth ? { headers: auth } : {})).ok;
				} catch {
					return false; // not listening yet
				}
			},
			() => (exited ? fs.readFileSync(path.join(dir, "orthanc.log"), "utf8").slice(-2000) : undefined),
		);
	} catch (e) {
		await stop();
		throw e;
	}
	return {
		url,
		dicomweb: `${url}/dicom-web`,
		async upload(bytes) {
			const r = await fetch(`${url}/instances`, { method: "POST", body: bytes, headers: { "content-type": "application/dicom", ...auth } });
			const body = (await r.json()) as { ID?: string; Status?: string };
			if (!r.ok || !body.ID) throw new Error(`Orthanc refused an upload: HTTP ${r.status} ${JSON.stringify(body)}`);
			return body.ID;
		},
		stop,
	};
}
