/**
 * What a worker holds for one job: the metadata, the cached dataset, one training session and
 * one eval session (created once, reused for every task), and the parameters it fetched.
 */
import type { Logger } from '../shared/log.js';
import type { Dataset } from '../shared/data/dataset.js';
import { TrainingRunner, EvalRunner } from '../shared/engine/runner.js';
import { deviceFor } from '../shared/engine/registry.js';
import type { DeviceKind } from '../shared/engine/device.js';
import { evalGraphFrom, paramsLayout, trainingGraphFrom, type JobMetadata } from '../shared/cluster/job-wire.js';
import type { ExpectedTensor } from '../shared/cluster/tensor-stream.js';
import { JobMetadataError } from '../shared/cluster/errors.js';
import type { CoordinatorConnection } from './client.js';
import { loadLocalDataset } from './local-data.js';

export interface Weights {
  runId: number;
  version: number;
  params: Float32Array[];
  buffers: Float32Array[];
}

export interface JobContext {
  jobId: string;
  meta: JobMetadata;
  dataset: Dataset;
  train: TrainingRunner;
  evaluate: EvalRunner;
  /** Layout of a parameter transfer (params then buffers). */
  paramLayout: ExpectedTensor[];
  /** Positions of the eval graph's params/buffers in the training graph's lists. */
  evalParamIndex: number[];
  evalBufferIndex: number[];
  release(): Promise<void>;
}

export interface JoinSettings {
  device: DeviceKind;
  /** Threads asked on the command line; the job's count otherwise. */
  threads: number | undefined;
  log: Logger;
  /** With `workers.data: local`: the folder relative data paths resolve against instead of the coordinator's. */
  dataRoot?: string;
}

/** Downloads the job and its dataset (or reads the dataset locally, when the job says so), and opens the sessions. */
export async function loadJobContext(conn: CoordinatorConnection, workerId: string, jobId: string, s: JoinSettings): Promise<JobContext> {
  const pkg = await conn.getJob(workerId, jobId);
  const meta = pkg.metadata;
  if (meta.jobId !== jobId) throw new JobMetadataError(`the coordinator sent job '${meta.jobId}' when asked for '${jobId}'`);
  const trainGraph = trainingGraphFrom(meta.train, pkg.trainModel);
  const evalGraph = evalGraphFrom(meta.eval, pkg.evalModel);

  const d = meta.dataset;
  const dataset = d.readLocally ? await loadLocalDataset(d.readLocally, d, s.dataRoot, s.log) : await downloadDataset(conn, workerId, jobId, meta);

  const threads = s.threads ?? meta.threads;
  if (s.threads !== undefined && s.threads !== meta.threads)
    s.log.warn({ threads: s.threads, jobThreads: meta.threads }, 'thread count differs from the job\'s: results may differ in the last bits from workers using the job\'s count');
  const device = deviceFor(s.device, { threads });
  const onFallback = (reason: string) => s.log.warn({ device: s.device }, reason);
  const train = await TrainingRunner.open(trainGraph, device, onFallback);
  const shapes = new Map<string, number[]>([...trainGraph.params.map((p) => [p.name, p.shape] as const), ...trainGraph.buffers.map((b) => [b.name, b.shape] as const)]);
  const evaluate = await EvalRunner.open(evalGraph, device, shapes, onFallback);

  const indexOf = (names: readonly string[], list: readonly { name: string }[], what: string) =>
    names.map((n) => {
      const i = list.findIndex((x) => x.name === n);
      if (i < 0) throw new JobMetadataError(`the eval graph reads ${what} '${n}', which the training graph does not have`);
      return i;
    });

  s.log.info({ job: meta.name, jobId, params: trainGraph.params.length, samples: d.size, device: train.device.describe() }, 'job loaded');
  return {
    jobId,
    meta,
    dataset,
    train,
    evaluate,
    paramLayout: paramsLayout(meta.train),
    evalParamIndex: indexOf(evalGraph.params, trainGraph.params, 'parameter'),
    evalBufferIndex: indexOf(evalGraph.buffers, trainGraph.buffers, 'buffer'),
    release: async () => {
      await train.release();
      await evaluate.release();
    },
  };
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
