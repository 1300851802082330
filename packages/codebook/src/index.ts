/**
 * @tessera/codebook: vector quantization (VQ with EMA / k-means++ / dead-code restart / STE or
 * rotation trick), nearest-code search and k-means on every backend, codebook statistics.
 */
export { nearestCode, scores, l2normalize, NEAREST_CODE, type NearestCodeKernel, type Metric, type SearchOptions } from "./search";
export { kmeans, kmeansPlusPlus, lloydStep, type KMeansOptions } from "./kmeans";
export { straightThrough, rotationTrick } from "./estimators";
export { codebookStats, type CodebookStats } from "./metrics";
export { VectorQuantizer, type VectorQuantizerOptions, type VQOutput } from "./vq";
export { FSQ } from "./fsq";
export { LFQ, type LFQOptions } from "./lfq";
export { ResidualVQ, type ResidualVQOptions } from "./rvq";
export { CodebookFeatures, type CodebookFeaturesOptions } from "./features";
export { ProductQuantizer, type ProductQuantizerOptions } from "./pq";
export { weightVQ, dequantizeVQ, vqLinear, calibrateVQ4DiT, type WeightVQ, type WeightVQOptions, type VQ4DiTOptions } from "./weight-vq";
export { GroupedVQ, type GroupedVQOptions } from "./grouped";
export { SimVQ, type SimVQOptions } from "./simvq";
