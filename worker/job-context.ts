/**
 * What a worker holds for one job: the metadata, the dataset (in shared memory, which the
 * compute thread reads), the compute thread with its sessions (created once, reused for every
 * task), and the layout of weights and results.
 */
import type { Logger } from '../shared/log.js';
import type { Dataset } from '../shared/data/dataset.js';
import type { DeviceKind } from '../shared/engine/device.js';
import { paramsLayout, type JobMetadata } from '../shared/cluster/job-wire.js';
import type { ExpectedTensor } from '../shared/cluster/tensor-stream.js';
import { JobMetadataError } from '../shared/cluster/errors.js';
import type { CoordinatorConnection } from './client.js';
import { loadLocalDataset } from './local-data.js';
import { COMPUTE_THREAD } from './compute/compute-thread.js';
import type { Compute, ComputeProvider } from './compute/compute.js';
import type { SharedDataset } from './compute/messages.js';

export interface JobContext {
  jobId: string;
  meta: JobMetadata;
  thread: Compute;
  /** Layout of a parameter transfer (params then buffers). */
  paramLayout: ExpectedTensor[];
  /** Tensor sizes of weights and of a training result alike: params (or their gradients), then buffers. */
  pieceSizes: number[];
  release(): Promise<void>;
}

export interface JoinSettings {
  device: DeviceKind;
  /** Threads asked on the command line; the job's count otherwise. */
  threads: number | undefined;
  log: Logger;
  /** With `workers.data: local`: the folder relative data paths resolve against instead of the coordinator's. */
  dataRoot?: string;
  /** With `workers.data: local`: more folders the data may lie in (--allow-dir; shared/security/paths.ts). */
  allowDirs?: readonly string[];
  /** What computes tasks (default: the compute thread). */
  compute?: ComputeProvider;
}

/** Downloads the job and its dataset (or reads the dataset locally, when the job says so), and starts the compute thread. */
export async function loadJobContext(conn: CoordinatorConnection, workerId: string, jobId: string, s: JoinSettings): Promise<JobContext> {
  const pkg = await conn.getJob(workerId, jobId);
  const meta = pkg.metadata;
  if (meta.jobId !== jobId) throw new JobMetadataError(`the coordinator sent job '${meta.jobId}' when asked for '${jobId}'`);
  for (const n of meta.eval.params) if (!meta.train.params.some((p) => p.name === n)) throw new JobMetadataError(`the eval graph reads parameter '${n}', which the training graph does not have`);
  for (const n of meta.eval.buffers) if (!meta.train.buffers.some((b) => b.name === n)) throw new JobMetadataError(`the eval graph reads buffer '${n}', which the training graph does not have`);

  const d = meta.dataset;
  const compute = s.compute ?? COMPUTE_THREAD;
  const dataset = !compute.needsData ? emptyDataset(meta) : d.readLocally ? await loadLocalDataset(d.readLocally, d, s.dataRoot, s.log, s.allowDirs) : await downloadDataset(conn, workerId, jobId, meta);

  const threads = s.threads ?? meta.threads;
  if (s.threads !== undefined && s.threads !== meta.threads)
    s.log.warn({ threads: s.threads, jobThreads: meta.threads }, "thread count differs from the job's: results may differ in the last bits from workers using the job's count");
  const thread = await compute.start(
    {
      trainModel: pkg.trainModel,
      evalModel: pkg.evalModel,
      train: meta.train,
      eval: meta.eval,
      device: s.device,
      threads,
      dataset: shareDataset(dataset, d.labels),
      microbatchesPerStep: meta.microbatchesPerStep,
      ...(meta.augment ? { augment: meta.augment } : {}),
      ...(meta.adversarial ? { adversarial: meta.adversarial } : {}),
      ...(meta.attack && pkg.attackModel ? { attack: meta.attack, attackModel: pkg.attackModel } : {}),
    },
    (reason) => s.log.warn({ device: s.device }, reason),
    meta,
  );
  const sizes = (shape: number[]) => shape.reduce((a, n) => a * n, 1);
  // Counts say what they count: parameter values, and the tensors that hold them.
  const paramValues = meta.train.params.reduce((a, p) => a + sizes(p.shape), 0);
  s.log.info({ job: meta.name, jobId, parameters: paramValues, paramTensors: meta.train.params.length, samples: d.size, device: thread.device }, 'job loaded');
  return {
    jobId,
    meta,
    thread,
    paramLayout: paramsLayout(meta.train),
    pieceSizes: [...meta.train.params.map((p) => sizes(p.shape)), ...meta.train.buffers.map((b) => sizes(b.shape))],
    release: () => thread.close(),
  };
}

/** The dataset copied once into shared memory, which the compute thread reads without another copy. */
function shareDataset(ds: Dataset, labelType: 'int32' | 'float32'): SharedDataset {
  const share = (a: Float32Array | Int32Array): SharedArrayBuffer => {
    const sab = new SharedArrayBuffer(a.byteLength);
    new Uint8Array(sab).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return sab;
  };
  return { name: ds.name, size: ds.size, featureShape: ds.featureShape, numClasses: ds.numClasses, targetWidth: ds.targetWidth, features: share(ds.features), labels: share(ds.labels), labelType };
}

/** No samples: for a compute that needs none (simulated workers). */
function emptyDataset(meta: JobMetadata): Dataset {
  const d = meta.dataset;
  return { name: d.name, size: 0, featureShape: d.featureShape, numClasses: d.numClasses ?? undefined, features: new Float32Array(0), labels: new Int32Array(0), targetWidth: d.targetWidth };
}

/** The dataset as GetData streams it (`workers.data: stream`). */
async function downloadDataset(conn: CoordinatorConnection, workerId: string, jobId: string, meta: JobMetadata): Promise<Dataset> {
  const d = meta.dataset;
  const width = d.featureShape.reduce((a, x) => a * x, 1);
  const features = await conn.getData(workerId, jobId, 'features', d.size * width);
  const labelValues = await conn.getData(workerId, jobId, 'labels', d.size * d.targetWidth);
  // Labels travel as their 4-byte values; the metadata says whether they are class indices.
  const labels = d.labels === 'int32' ? new Int32Array(labelValues.buffer, labelValues.byteOffset, labelValues.length) : labelValues;
  return { name: d.name, size: d.size, featureShape: d.featureShape, numClasses: d.numClasses ?? undefined, features, labels, targetWidth: d.targetWidth };
}
