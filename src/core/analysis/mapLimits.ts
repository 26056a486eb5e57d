/** Fewer images than this get no UMAP map: the results view keeps the PCA map. */
export const minUmapPoints = 8;
