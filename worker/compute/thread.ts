/**
 * The worker's compute thread: it owns the onnxruntime sessions (a run blocks the thread that
 * calls it, so it must not be the one that answers heartbeats and streams) and computes tasks:
 *
 *   train: each leaf (micro-batch) of the task's node — batch gathered, dropout masks drawn,
 *          gradients written by onnxruntime straight into a vector of a fixed arena — added over
 *          the reduction tree (shared/reduction/reduce-node.ts) into the node's one vector
 *   eval:  each shard evaluated, its sums reported
 *
 * Memory is fixed from the start: one arena of (weights + tree depth + 1 leaves) vectors, a
 * batch buffer that is reused, and result buffers that come back after their upload. A step
 * allocates nothing parameter-sized.
 */
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { TrainingRunner, EvalRunner } from '../../shared/engine/runner.js';
import { deviceFor } from '../../shared/engine/registry.js';
import { computeLeaf, type LeafStats } from '../../shared/engine/leaf.js';
import { attackGraphFrom, evalGraphFrom, trainingGraphFrom } from '../../shared/cluster/job-wire.js';
import { gatherBatch, type BatchMemory } from '../../shared/data/batch.js';
import type { Dataset } from '../../shared/data/dataset.js';
import { Arena, type FlatVector } from '../../shared/kernels/index.js';
import { reduceNode, rootLevel, vectorsForLevel } from '../../shared/reduction/index.js';
import type { FromThread, InitMessage, TaskMessage, ToThread } from './messages.js';
import { Augmenter, planAugmentation } from '../../shared/augment/augment.js';
import type { AdversarialScratch, AdversarialTraining } from '../../shared/engine/adversarial-batch.js';
import { AttackRunner } from '../../shared/engine/attack-runner.js';
import type { AttackSpec } from '../../shared/adversarial/attack-spec.js';

interface Engine {
  runner: TrainingRunner;
  evaluator: EvalRunner;
  dataset: Dataset;
  arena: Arena;
  /** The weights the sessions read (params then buffers), refreshed in place for each version. */
  weights: FlatVector;
  loaded: { runId: number; version: number } | undefined;
  pieceSizes: number[];
  batchMemory: BatchMemory;
  /** Result buffers handed back after their upload, by byte length. */
  spare: ArrayBuffer[];
  /** The job's augmentation of training samples. */
  augmenter?: Augmenter;
  /** Adversarial training's attack, and its memory. */
  adversarial?: { training: AdversarialTraining; scratch: AdversarialScratch };
  /** Adversarial evaluation: the attack graph's runner, the attacks (FGSM, PGD) and their seed. */
  attacks?: { runner: AttackRunner; specs: AttackSpec[]; seed: number };
}

const port = parentPort;
if (!port) throw new Error('worker/compute/thread.ts runs only as a worker thread (worker/compute/compute-thread.ts starts it)');

function send(m: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

let engine: Engine | undefined;
// Tasks run one after another, in the order they were posted.
let queue: Promise<void> = Promise.resolve();

port.on('message', (m: ToThread) => {
  if (m.type === 'recycle') {
    engine?.spare.push(m.buffer);
    return;
  }
  queue = queue.then(() => handle(m));
});

async function handle(m: ToThread): Promise<void> {
  try {
    if (m.type === 'init') {
      engine = await start(m);
      send({ type: 'ready', device: engine.runner.device.describe() });
    } else if (m.type === 'task') {
      if (!engine) throw new Error('a task arrived before the job was loaded');
      await runTask(engine, m);
    } else if (m.type === 'close') {
      await engine?.runner.release();
      await engine?.evaluator.release();
      await engine?.attacks?.runner.release();
      engine = undefined;
      port!.close();
    }
  } catch (e) {
    const err = e as Error;
    send({ type: 'failed', id: m.type === 'task' ? m.id : null, message: err.message, stack: err.stack });
  }
}

async function start(m: InitMessage): Promise<Engine> {
  const trainGraph = trainingGraphFrom(m.train, m.trainModel);
  const evalGraph = evalGraphFrom(m.eval, m.evalModel);
  const device = deviceFor(m.device, { threads: m.threads });
  const warn = (message: string) => send({ type: 'warning', message });
  const runner = await TrainingRunner.open(trainGraph, device, warn);
  const shapes = new Map<string, number[]>([...trainGraph.params.map((p) => [p.name, p.shape] as const), ...trainGraph.buffers.map((b) => [b.name, b.shape] as const)]);
  const evaluator = await EvalRunner.open(evalGraph, runner.device, shapes, warn);
  const d = m.dataset;
  const dataset: Dataset = {
    name: d.name,
    size: d.size,
    featureShape: d.featureShape,
    numClasses: d.numClasses,
    targetWidth: d.targetWidth,
    features: new Float32Array(d.features),
    labels: d.labelType === 'int32' ? new Int32Array(d.labels) : new Float32Array(d.labels),
  };
  const pieceSizes = [...trainGraph.params.map((p) => p.init.length), ...trainGraph.buffers.map((b) => b.init.length)];
  const arena = Arena.fixedFor([{ sizes: pieceSizes, count: 1 + vectorsForLevel(rootLevel(Math.max(1, m.microbatchesPerStep))) }]);
  const weights = arena.vector(pieceSizes);
  const p = trainGraph.params.length;
  // The sessions keep reading these views; new versions are copied into them.
  runner.setParams(weights.parts.slice(0, p));
  runner.setBuffers(weights.parts.slice(p));
  const index = (names: readonly string[], list: readonly { name: string }[]) => names.map((n) => list.findIndex((x) => x.name === n));
  evaluator.setWeights(
    index(evalGraph.params, trainGraph.params).map((i) => weights.parts[i]!),
    index(evalGraph.buffers, trainGraph.buffers).map((i) => weights.parts[p + i]!),
  );
  const engine: Engine = { runner, evaluator, dataset, arena, weights, loaded: undefined, pieceSizes, batchMemory: {}, spare: [] };
  if (m.augment) engine.augmenter = new Augmenter(planAugmentation(m.augment, dataset.featureShape));
  if (m.adversarial?.train) engine.adversarial = { training: m.adversarial.train, scratch: { perturb: {} } };
  if (m.adversarial && m.adversarial.evaluate.length > 0) {
    if (!m.attack || !m.attackModel) throw new Error('the job evaluates attacks but carries no attack graph');
    const attackGraph = attackGraphFrom(m.attack, m.attackModel);
    const attackRunner = await AttackRunner.open(attackGraph, runner.device, shapes, warn);
    attackRunner.setWeights(
      index(attackGraph.params, trainGraph.params).map((i) => weights.parts[i]!),
      index(attackGraph.buffers, trainGraph.buffers).map((i) => weights.parts[p + i]!),
    );
    engine.attacks = { runner: attackRunner, specs: m.adversarial.evaluate, seed: m.adversarial.seed };
  }
  return engine;
}

async function runTask(e: Engine, t: TaskMessage): Promise<void> {
  const t0 = performance.now();
  const w = t.weights;
  if (e.loaded?.runId !== w.runId || e.loaded.version !== w.version) {
    if (w.buffer.byteLength !== e.weights.padded * 4) throw new Error(`weights of run ${w.runId} take ${w.buffer.byteLength} bytes, the job's layout ${e.weights.padded * 4}`);
    e.weights.whole.set(new Float32Array(w.buffer));
    e.loaded = { runId: w.runId, version: w.version };
  }
  const leaves: LeafStats[] = [];
  if (t.kind === 'eval') {
    const attacked = e.attacks && (t.split === 'validation' || t.split === 'test') ? e.attacks : undefined;
    for (const leaf of t.leaves) {
      const batch = gatherBatch(e.dataset, leaf.indices, e.batchMemory);
      const r = await e.evaluator.evaluate(batch);
      const stats: LeafStats = { count: r.count, loss: r.lossSum, headLosses: r.headLossSums, headNormalizers: r.headNormalizers, correct: r.correct };
      if (attacked) {
        const a = await attacked.runner.attackAll(batch, attacked.specs, attacked.seed, leaf.indices);
        stats.attacks = a.attacks.map((s) => ({ correct: s.correct, loss: s.lossSum }));
      }
      leaves.push(stats);
    }
    send({ type: 'result', id: t.id, leaves, computeMs: performance.now() - t0 });
    return;
  }
  const first = t.node.index * 2 ** t.node.level;
  const root = await reduceNode(t.node, t.k, e.arena, e.pieceSizes, async (j, into) => {
    const leaf = t.leaves[j - first]!;
    leaves[j - first] = await computeLeaf(e.runner, gatherBatch(e.dataset, leaf.indices, e.batchMemory), leaf.indices, leaf.maskSeed, into, {
      ...(t.dropout !== undefined ? { dropout: t.dropout } : {}),
      ...(e.augmenter ? { augment: { augmenter: e.augmenter, seed: requiredAugmentSeed(t) } } : {}),
      ...(e.adversarial ? { adversarial: e.adversarial } : {}),
    });
  });
  const bytes = root.padded * 4;
  const at = e.spare.findIndex((b) => b.byteLength === bytes);
  const out = at >= 0 ? e.spare.splice(at, 1)[0]! : new ArrayBuffer(bytes);
  new Float32Array(out).set(root.whole);
  e.arena.release(root);
  send({ type: 'result', id: t.id, leaves, vector: out, computeMs: performance.now() - t0 }, [out]);
}

/** A training task of a job that augments must say with which seed: a missing one is the coordinator's bug, not a reason to train on other samples. */
function requiredAugmentSeed(t: TaskMessage): number {
  if (t.augmentSeed === undefined) throw new Error('a training task of a job with augmentation came without its augmentation seed');
  return t.augmentSeed;
}
