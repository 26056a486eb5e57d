/**
 * The seed's own conversion stages after the DICOM read, timed in Python with the reference's
 * numpy and Pillow (numpy.percentile 10/90, clip, scale, astype(uint8), Image.fromarray, convert
 * to RGB, save as PNG at Pillow's defaults) on the float32 values our decoder produced: the same
 * input as the reference's. The DICOM read and decode (GDCM) is left out, so the time is a LOWER
 * bound of the reference's per image, and a speed-up computed from it a lower bound too.
 * Needs a python3 with numpy and Pillow (Debian: python3-numpy python3-pil); undefined without.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { npyHeader } from "../src/core/results/npy";

const script = `
import io, json, sys, time
import numpy as np
from PIL import Image
out = {}
for f in sys.argv[2:]:
    a = np.load(f)
    times = []
    for _ in range(int(sys.argv[1])):
        t = time.process_time()
        lo, hi = np.percentile(a, [10, 90])
        b = np.clip(a, lo, hi)
        b = (b - lo) * 255 / (hi - lo)
        u = b.astype(np.uint8)
        im = Image.fromarray(u)
        if im.mode != "RGB":
            im = im.convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "PNG")
        times.append(time.process_time() - t)
    times.sort()
    out[f] = times[len(times) // 2]
print(json.dumps(out))
`;

/** A python3 that has numpy and Pillow, or undefined. */
function python(): string | undefined {
	for (const exe of ["python3", "/usr/bin/python3"]) {
		const r = spawnSync(exe, ["-c", "import numpy, PIL"], { encoding: "utf8" });
		if (r.status === 0) return exe;
	}
	return undefined;
}

/** Median CPU seconds of the seed's stages for each image (float32 values, h×w or h×w×3), or undefined without Python. */
export function seedStageSeconds(images: { width: number; height: number; channels: 1 | 3; values: Float32Array }[], repeat: number): number[] | undefined {
	const exe = python();
	if (!exe) return undefined;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mii-seed-"));
	try {
		const files = images.map((im, i) => {
			const shape = im.channels === 3 ? [im.height, im.width, 3] : [im.height, im.width];
			const header = npyHeader(shape);
			const file = path.join(dir, `${i}.npy`);
			fs.writeFileSync(file, Buffer.concat([header, Buffer.from(im.values.buffer, im.values.byteOffset, im.values.byteLength)]));
			return file;
		});
		const r = spawnSync(exe, ["-c", script, String(repeat), ...files], { encoding: "utf8", maxBuffer: 1 << 24 });
		if (r.status !== 0) throw new Error(`seed stages in Python failed: ${r.stderr}`);
		const times = JSON.parse(r.stdout) as Record<string, number>;
		return files.map((f) => times[f] ?? Number.NaN);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}
