/**
 * Series and study embeddings (PRODUCT.md §10): a group's embedding is the L2-normalised mean of its
 * images' embeddings. The image embeddings are taken as the results reader holds them (each
 * L2-normalised, so every image weighs the same in the mean); the mean is accumulated in float64.
 * Images without the UID of the level are left out of every group and counted, never merged into a
 * group of "unknown" images.
 */
import type { ResultsRow } from "../results/reader";

export type GroupLevel = "series" | "study";

/** One series (or study) and the images it pools. */
export interface ImageGroup {
	/** The series' SeriesInstanceUID; for a study level group, "". */
	seriesInstanceUid: string;
	studyInstanceUid: string;
	/** Distinct modalities of its images, in order of appearance, joined by "/". */
	modality: string;
	/** The series description (study description for a study), the first non-empty one of its images. */
	description: string;
	/** Row indices of its images in the results model, ascending. */
	members: number[];
}

export interface GroupedEmbeddings {
	level: GroupLevel;
	groups: ImageGroup[];
	dim: number;
	/** groups.length × dim, row-major, each row the L2-normalised mean of its members. */
	vectors: Float32Array;
	/** Images left out because they carry no UID for this level. */
	withoutUid: number;
}

/**
 * Groups the rows by SeriesInstanceUID (or StudyInstanceUID), ordered by study UID then series UID so
 * that the same results give the same rows whatever order the images were embedded in.
 */
export function groupRows(rows: readonly ResultsRow[], level: GroupLevel): { groups: ImageGroup[]; withoutUid: number } {
	const byKey = new Map<string, { group: ImageGroup; modalities: string[] }>();
	let withoutUid = 0;
	for (let i = 0; i < rows.length; i++) {
		const r = rows[i];
		if (!r) continue;
		const key = level === "series" ? r.seriesInstanceUid : r.studyInstanceUid;
		if (!key) {
			withoutUid++;
			continue;
		}
		let entry = byKey.get(key);
		if (!entry) {
			entry = {
				group: { seriesInstanceUid: level === "series" ? key : "", studyInstanceUid: r.studyInstanceUid, modality: "", description: "", members: [] },
				modalities: [],
			};
			byKey.set(key, entry);
		}
		const g = entry.group;
		g.members.push(i);
		if (r.modality && !entry.modalities.includes(r.modality)) entry.modalities.push(r.modality);
		if (!g.studyInstanceUid && r.studyInstanceUid) g.studyInstanceUid = r.studyInstanceUid;
		const description = level === "series" ? r.seriesDescription : r.studyDescription;
		if (!g.description && description) g.description = description;
	}
	const groups = [...byKey.values()].map(({ group, modalities }) => ({ ...group, modality: modalities.join("/") }));
	groups.sort((a, b) => compare(a.studyInstanceUid, b.studyInstanceUid) || compare(a.seriesInstanceUid, b.seriesInstanceUid));
	return { groups, withoutUid };
}

function compare(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

/** The L2-normalised mean of the member rows of `vectors` (dim wide), one row per group. */
export function poolGroups(vectors: Float32Array, dim: number, groups: readonly { members: readonly number[] }[]): Float32Array {
	const n = dim === 0 ? 0 : vectors.length / dim;
	const out = new Float32Array(groups.length * dim);
	const sum = new Float64Array(dim);
	groups.forEach((g, gi) => {
		if (g.members.length === 0) throw new Error(`Group ${gi} has no images.`);
		sum.fill(0);
		for (const m of g.members) {
			if (!Number.isInteger(m) || m < 0 || m >= n) throw new Error(`Group ${gi} refers to image ${m}, but there are ${n}.`);
			const base = m * dim;
			for (let d = 0; d < dim; d++) sum[d] = (sum[d] as number) + (vectors[base + d] as number);
		}
		// The mean's norm is the sum's norm divided by the count: normalising the sum gives the same vector.
		let norm = 0;
		for (let d = 0; d < dim; d++) norm += (sum[d] as number) ** 2;
		const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
		const base = gi * dim;
		for (let d = 0; d < dim; d++) out[base + d] = (sum[d] as number) * inv;
	});
	return out;
}

/** Series (or study) embeddings of a results model. */
export function groupEmbeddings(model: { rows: readonly ResultsRow[]; vectors: Float32Array; dim: number }, level: GroupLevel): GroupedEmbeddings {
	const { groups, withoutUid } = groupRows(model.rows, level);
	return { level, groups, dim: model.dim, vectors: poolGroups(model.vectors, model.dim, groups), withoutUid };
}
