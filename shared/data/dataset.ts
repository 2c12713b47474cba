/** The contract of dataset sources (bundled digits, IDX files, CSV). */

export interface Dataset {
  readonly name: string;
  readonly size: number;
  /** Shape of one sample's features, e.g. [784] or [1, 28, 28]. */
  readonly featureShape: number[];
  /** Number of classes for classification data; undefined for regression targets. */
  readonly numClasses: number | undefined;
  /** Row-major features, size × prod(featureShape), scaled as the source defines (pixels to [0,1]). */
  readonly features: Float32Array;
  /** Class indices (classification) or targets (regression), size × targetWidth. */
  readonly labels: Int32Array | Float32Array;
  readonly targetWidth: number;
  /** Class names by index, where the source has them (CSV string labels). */
  readonly classNames?: readonly string[];
}

/** A batch gathered from a dataset in the given sample order. */
export interface Batch {
  x: Float32Array;
  /** int64 class indices for classification, float32 targets otherwise. */
  y: BigInt64Array | Float32Array;
  count: number;
}
