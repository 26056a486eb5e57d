/**
 * The header of a NumPy .npy file, format version 1.0, for little-endian float32 in C order
 * (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): the magic string, the
 * version, a little-endian uint16 header length, then the header dict padded with spaces and ended
 * by "\n" so that the data starts at a multiple of 64 bytes.
 */
export function npyHeader(shape: readonly number[]): Buffer {
	for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) throw new Error(`Invalid .npy shape: ${shape.join("×")}`);
	const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
	const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
	const prefix = 10;
	const unpadded = prefix + dict.length + 1;
	const header = dict + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
	if (header.length > 0xffff) throw new Error("The .npy header is too long.");
	const out = Buffer.alloc(prefix + header.length);
	out.write("\x93NUMPY", 0, "latin1");
	out[6] = 1;
	out[7] = 0;
	out.writeUInt16LE(header.length, 8);
	out.write(header, prefix, "latin1");
	return out;
}
