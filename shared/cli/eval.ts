/**
 * `gradfleet eval <run-dir | model.onnx>`: clean and adversarial accuracy and loss of an inference
 * model (a run's model.onnx, a bagging ensemble's, a plain PyTorch export) on its job's split.
 * The attacks differentiate the model's cross-entropy with respect to its input
 * (shared/autodiff/compile-attack.ts) and perturb within an L∞ ball of radius ε
 * (shared/adversarial/perturb.ts). Without --attack both FGSM and PGD are run.
 *
 *   gradfleet eval runs/digits-mlp --epsilon 0.1 [--attack pgd --steps 20] [--json eval.json]
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from '@commander-js/extra-typings';
import { integerOption, positiveOption } from './train.js';
import { CliUsageError } from './errors.js';
import { deriveSeed, SeedStream } from '../../coordinator/plan/seeds.js';
import { deviceFor, DEVICE_KINDS } from '../engine/registry.js';
import type { DeviceKind } from '../engine/device.js';

export interface EvalCommandOptions {
  config?: string;
  split: string;
  attack?: string;
  epsilon?: number;
  steps?: number;
  alpha?: number;
  randomStart: boolean;
  range?: string;
  batch: number;
  logits?: string;
  seed?: number;
  device: DeviceKind;
  threads: number;
  json?: string;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description("clean and adversarial (FGSM, PGD) accuracy and loss of a trained model on its job's test split")
    .argument('<model>', "a run directory (its model.onnx and its job's data) or an inference model .onnx (with --config)")
    .option('--config <file>', "job file whose data scores the model (default: the run directory's job)")
    .option('--split <split>', 'split the model is scored on: test or validation', 'test')
    .option('--attack <method>', 'fgsm or pgd (default: both)')
    .option('--epsilon <e>', "L∞ radius of the attack, in input units (default: the job's adversarial.epsilon, else 0.1)", positiveOption('--epsilon'))
    .option('--steps <n>', "PGD iterations (default: the job's adversarial.eval_steps, else 10)", integerOption('--steps', 1))
    .option('--alpha <a>', 'PGD step size (default: 2.5·ε/steps)', positiveOption('--alpha'))
    .option('--no-random-start', 'PGD starts from the clean input instead of a uniform point of the ε-ball')
    .option('--range <lo,hi>', "clamp adversarial inputs to [lo, hi], or 'none' (default: the job's adversarial.range, else 0,1 for digits and IDX pixels, else none)")
    .option('--batch <n>', 'samples per graph run', integerOption('--batch', 1), 500)
    .option('--logits <name>', "the output the attack's cross-entropy reads (default: the job's model.logits, an ensemble's probabilities, or the only output)")
    .option('--seed <n>', "seed of PGD's random start (default: the one the run's own evaluations used, from the job's seed)", integerOption('--seed', 0))
    .addOption(new Option('--device <kind>', 'where the graphs run').choices(DEVICE_KINDS).default('cpu' as DeviceKind))
    .option('--threads <n>', 'onnxruntime intra-op threads on the CPU', integerOption('--threads', 1), 1)
    .option('--json <file>', 'also write the figures as JSON to this file')
    .action(async (target, opts) => {
      await runEval(target, opts, (line) => process.stdout.write(`${line}\n`));
    });
}

export interface EvalReport {
  model: string;
  split: string;
  count: number;
  /** What the attack's cross-entropy reads. */
  loss_of: string;
  seed: number;
  clean: { accuracy: number; loss: number };
  attacks: { attack: string; method: string; epsilon: number; steps: number; alpha: number; random_start: boolean; range: readonly [number, number] | null; accuracy: number; loss: number }[];
}

/** Scores the model as the options say, writing the table through `write`; returns the figures. */
export async function runEval(target: string, opts: EvalCommandOptions, write: (line: string) => void): Promise<EvalReport> {
  if (opts.split !== 'test' && opts.split !== 'validation') throw new CliUsageError(`--split must be test or validation, got '${opts.split}'`);
  if (opts.attack !== undefined && opts.attack !== 'fgsm' && opts.attack !== 'pgd') throw new CliUsageError(`--attack must be fgsm or pgd, got '${opts.attack}'`);
  if (opts.attack === 'fgsm' && opts.steps !== undefined) throw new CliUsageError('--steps applies to pgd; fgsm takes one step of size ε');
  if (opts.attack === 'fgsm' && opts.alpha !== undefined) throw new CliUsageError('--alpha applies to pgd; fgsm steps by ε');
  const range = opts.range === undefined ? undefined : parseRange(opts.range);
  const isDir = existsSync(target) && statSync(target).isDirectory();
  const modelFile = isDir ? join(target, 'model.onnx') : target;
  if (!existsSync(modelFile)) throw new CliUsageError(`${modelFile}: no such model file`);
  if (opts.device !== 'cpu' && opts.threads !== 1) write(`note: --threads applies to the CPU device only; ignored for ${opts.device}`);

  const [{ decodeModel }, { scoringSplit }, { attackSpec, describeAttack }, { classifierHead, evaluateAttacks, openModelAttack }] = await Promise.all([
    import('../onnx/model.js'),
    import('../data/model-job.js'),
    import('../adversarial/attack-spec.js'),
    import('../adversarial/evaluate.js'),
  ]);
  let model;
  try {
    model = decodeModel(readFileSync(modelFile));
  } catch (e) {
    throw new Error(`${modelFile}: ${(e as Error).message}`);
  }
  const { config, data, indices } = await scoringSplit({ modelFile, runDir: isDir ? target : undefined, configFile: opts.config }, opts.split);
  if (data.dataset.numClasses === undefined) throw new CliUsageError("gradfleet eval scores classifiers: the job's data has no classes (a regression target)");
  const adversarial = config.adversarial;
  const epsilon = opts.epsilon ?? adversarial?.epsilon ?? 0.1;
  const pixels = config.data.source === 'digits' || config.data.source === 'idx';
  const clamp = range !== undefined ? range : (adversarial?.range ?? (pixels ? ([0, 1] as const) : null));
  const methods = opts.attack ? [opts.attack] : ['fgsm', 'pgd'];
  const specs = methods.map((method) =>
    method === 'fgsm'
      ? attackSpec({ method, epsilon, ...(clamp ? { range: clamp } : {}) })
      : attackSpec({ method, epsilon, steps: opts.steps ?? adversarial?.eval_steps ?? 10, alpha: opts.alpha, randomStart: opts.randomStart, ...(clamp ? { range: clamp } : {}) }),
  );

  const outputs = new Set(model.graph?.output.map((o) => o.name) ?? []);
  const logits = opts.logits ?? (config.model.logits !== undefined && outputs.has(config.model.logits) ? config.model.logits : undefined);
  const { forward, head, describe } = classifierHead(model, { logits });
  const device = deviceFor(opts.device, { threads: opts.threads });
  const { graph, runner } = await openModelAttack(forward, head, device, (reason) => write(`warning: ${reason}`));
  try {
    const input = graph.inputs[0]!;
    const perSample = input.shape.slice(1);
    const width = data.dataset.featureShape.reduce((a, d) => a * d, 1);
    const inputWidth = perSample.every((d) => typeof d === 'number') ? (perSample as number[]).reduce((a, d) => a * d, 1) : undefined;
    if (inputWidth !== undefined && inputWidth !== width)
      throw new CliUsageError(`the model's input '${input.name}' takes [${perSample.join(', ')}] (${inputWidth} values) per sample; the job's data has [${data.dataset.featureShape.join(', ')}] (${width})`);
    // By default the seed the run's own evaluations drew PGD's random starts with, so that a run's
    // test figures come out again (coordinator/job/adversarial.ts, adversarialMeta).
    const seed = opts.seed ?? deriveSeed(config.seed, SeedStream.attack, 0);
    const started = performance.now();
    const r = await evaluateAttacks(runner, data.dataset, indices, specs, { batch: opts.batch, seed });
    const seconds = (performance.now() - started) / 1000;
    const report: EvalReport = {
      model: modelFile,
      split: opts.split,
      count: r.count,
      loss_of: describe,
      seed,
      clean: r.clean,
      attacks: r.attacks.map((a) => ({
        attack: describeAttack(a.spec),
        method: a.spec.method,
        epsilon: a.spec.epsilon,
        steps: a.spec.steps,
        alpha: a.spec.alpha,
        random_start: a.spec.randomStart,
        range: a.spec.range ?? null,
        accuracy: a.accuracy,
        loss: a.loss,
      })),
    };
    for (const line of reportLines(report, runner.device.describe(), seconds)) write(line);
    if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 1)}\n`);
    return report;
  } finally {
    await runner.release();
  }
}

/** `lo,hi` with lo < hi, or 'none' (null: unclamped). */
function parseRange(v: string): readonly [number, number] | null {
  if (v.trim() === 'none') return null;
  const parts = v.split(',').map((s) => s.trim());
  const [lo, hi] = parts.map(Number);
  if (parts.length !== 2 || parts.some((s) => s === '') || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo! < hi!)) throw new CliUsageError(`--range must be LOW,HIGH with LOW < HIGH (e.g. 0,1), or none; got '${v}'`);
  return [lo!, hi!];
}

function reportLines(r: EvalReport, device: string, seconds: number): string[] {
  const rows = [['clean', r.clean.accuracy.toFixed(4), r.clean.loss.toFixed(4), ''], ...r.attacks.map((a) => [a.attack, a.accuracy.toFixed(4), a.loss.toFixed(4), ((a.accuracy - r.clean.accuracy) * 100).toFixed(2)])];
  const header = ['inputs', `${r.split} accuracy`, 'loss', 'Δ points'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`${r.model}: cross-entropy of ${r.loss_of}, ${r.count} ${r.split} samples, ${device}, ${seconds.toFixed(1)} s`, row(header), ...rows.map(row)];
}
