/**
 * `workers.data: local`: the worker builds the job's dataset itself, from the job's `data:`
 * config, through the coordinator's own code path (prepareJobData), and refuses to train unless
 * the bytes it got hash to the coordinator's fingerprint: a worker never trains on other data.
 */
import { workerDataPolicy } from '../shared/security/paths.js';
import type { Logger } from '../shared/log.js';
import type { Dataset } from '../shared/data/dataset.js';
import { prepareJobData } from '../shared/data/job-dataset.js';
import { datasetFingerprint } from '../shared/data/fingerprint.js';
import type { DatasetMeta, LocalDataSpec } from '../shared/cluster/job-wire.js';

/** The dataset this worker read differs from the one the coordinator built. */
export class DatasetFingerprintError extends Error {
  override name = 'DatasetFingerprintError';
}

/**
 * Loads the dataset `spec` describes, relative paths against `dataRoot` when given (the shared
 * volume mounted elsewhere) and the coordinator's base folder otherwise; checks it against the
 * metadata's shape and the coordinator's SHA-256.
 *
 * The coordinator is not trusted with this machine's files: every path must lie under the
 * worker's own roots (`dataRoot`, `allowDirs`, $GRADFLEET_ALLOWED_DIRS, /usr/share/datasets;
 * shared/security/paths.ts workerDataPolicy), whatever base folder or absolute paths the
 * coordinator sent. Anything else is a PathPolicyError naming the field and the path.
 */
export async function loadLocalDataset(spec: LocalDataSpec, meta: DatasetMeta, dataRoot: string | undefined, log: Logger, allowDirs: readonly string[] = []): Promise<Dataset> {
  const paths = workerDataPolicy(dataRoot, spec.baseDir, allowDirs);
  const baseDir = paths.base;
  const started = Date.now();
  let dataset: Dataset;
  try {
    ({ dataset } = await prepareJobData(spec.config, { baseDir, paths }, spec.seed));
  } catch (e) {
    if ((e as Error).name === 'PathPolicyError') log.error({ baseDir, roots: paths.roots, err: (e as Error).message }, "the coordinator's data config names a file outside this worker's data roots: refusing to read it");
    throw e;
  }
  const sha256 = datasetFingerprint(dataset);
  const width = meta.featureShape.reduce((a, x) => a * x, 1);
  const labelType = dataset.labels instanceof Int32Array ? 'int32' : 'float32';
  const sameShape = dataset.size === meta.size && dataset.features.length === meta.size * width && dataset.labels.length === meta.size * meta.targetWidth && labelType === meta.labels;
  if (sha256 !== spec.sha256 || !sameShape) {
    const message =
      `the dataset read from ${baseDir} differs from the coordinator's: SHA-256 fingerprint ${sha256} (${dataset.size} samples, ${labelType} labels), ` +
      `the coordinator built ${spec.sha256} (${meta.size} samples, ${meta.labels} labels) from ${spec.baseDir}; refusing to train on different data ` +
      `(check the files on this worker${dataRoot === undefined ? ', or point --data-root at the shared volume' : ` under --data-root ${dataRoot}`})`;
    log.error({ baseDir, sha256, expected: spec.sha256, samples: dataset.size, expectedSamples: meta.size }, 'local dataset fingerprint mismatch: refusing to train');
    throw new DatasetFingerprintError(message);
  }
  log.info({ baseDir, sha256, samples: dataset.size, ms: Date.now() - started }, 'dataset read locally; fingerprint matches the coordinator\'s');
  return { ...dataset, featureShape: [...meta.featureShape] };
}
