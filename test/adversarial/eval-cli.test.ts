/**
 * `gradfleet eval` on a run directory trained by a real cluster: it prints the clean figures
 * (equal to the run's own test score), FGSM and PGD accuracy and loss at ε (adversarial ≤ clean,
 * PGD at least as strong as FGSM), writes them as JSON, and exits 2 with a line naming the bad
 * option for a bad --epsilon, --attack or --range. An averaging ensemble of the run's model is
 * attacked through log(probabilities) and scores as the model does; a vote ensemble and a model
 * with an integer input are refused, saying why.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runCluster, tinyJob } from '../cluster/harness.js';
import { NODE_FLAGS } from '../../shared/node-flags.js';
import { decodeModel, encodeModel } from '../../shared/onnx/model.js';
import { exportEnsemble } from '../../shared/autodiff/ensemble-export.js';
import { buildForwardModel } from '../../shared/model/index.js';
import { runEval, type EvalCommandOptions, type EvalReport } from '../../shared/cli/eval.js';

const GRADFLEET_BIN = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));
const gradfleet = (...args: string[]) => spawnSync(process.execPath, [...NODE_FLAGS, GRADFLEET_BIN, ...args], { encoding: 'utf8' });

const JOB = tinyJob({ data: { source: 'digits', limit: 1500, split: { validation: 100, test: 300 } }, epochs: 3 } as never);
const DEFAULTS: EvalCommandOptions = { split: 'test', randomStart: true, batch: 500, device: 'cpu', threads: 1 };

let runDir: string;
let tmp: string;

beforeAll(async () => {
  const r = await runCluster({ job: JOB, workers: 1, timeoutMs: 120_000 });
  expect(r.exitCode).toBe(0);
  runDir = r.runDir;
  tmp = mkdtempSync(join(tmpdir(), 'gradfleet-eval-'));
}, 180_000);

describe('gradfleet eval', () => {
  it('prints clean, FGSM and PGD accuracy on the run directory, adversarial below clean', () => {
    const json = join(tmp, 'eval.json');
    const out = gradfleet('eval', runDir, '--epsilon', '0.1', '--json', json);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain("cross-entropy of logits 'logits', 300 test samples, cpu (1 thread)");
    expect(out.stdout).toMatch(/^clean +0\.\d{4} +\d+\.\d{4}$/m);
    expect(out.stdout).toMatch(/^FGSM \(ε=0\.1, range \[0, 1\]\) +0\.\d{4} +\d+\.\d{4} +-\d+\.\d\d$/m);
    expect(out.stdout).toMatch(/^PGD-10 \(ε=0\.1, α=0\.025, random start, range \[0, 1\]\) +0\.\d{4} +\d+\.\d{4} +-\d+\.\d\d$/m);
    const report = JSON.parse(readFileSync(json, 'utf8')) as EvalReport;
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { test: { accuracy: number; loss: number; count: number } };
    // Clean figures are the run's own test score: the attack graph is the eval graph plus grad:x.
    expect(report.count).toBe(summary.test.count);
    expect(report.clean.accuracy).toBe(summary.test.accuracy);
    expect(report.clean.loss).toBeCloseTo(summary.test.loss, 5);
    expect(summary.test.accuracy).toBeGreaterThan(0.6);
    const [fgsm, pgd] = report.attacks;
    expect(fgsm).toMatchObject({ method: 'fgsm', epsilon: 0.1, steps: 1, range: [0, 1] });
    expect(pgd).toMatchObject({ method: 'pgd', epsilon: 0.1, steps: 10, alpha: 0.025, random_start: true, range: [0, 1] });
    expect(fgsm!.accuracy).toBeLessThan(report.clean.accuracy);
    expect(fgsm!.loss).toBeGreaterThan(report.clean.loss);
    expect(pgd!.accuracy).toBeLessThanOrEqual(fgsm!.accuracy);
    expect(pgd!.loss).toBeGreaterThan(fgsm!.loss);
  });

  it('runs one attack with its options, stronger with a larger ε', async () => {
    const quiet = () => {};
    const small = await runEval(runDir, { ...DEFAULTS, attack: 'pgd', epsilon: 0.05, steps: 5, randomStart: false }, quiet);
    const large = await runEval(runDir, { ...DEFAULTS, attack: 'pgd', epsilon: 0.2, steps: 5, alpha: 0.05, range: 'none' }, quiet);
    expect(small.attacks).toHaveLength(1);
    expect(small.attacks[0]).toMatchObject({ method: 'pgd', epsilon: 0.05, steps: 5, alpha: 0.025, random_start: false, range: [0, 1] });
    expect(large.attacks[0]).toMatchObject({ method: 'pgd', epsilon: 0.2, steps: 5, alpha: 0.05, random_start: true, range: null });
    expect(large.attacks[0]!.accuracy).toBeLessThan(small.attacks[0]!.accuracy);
    expect(small.attacks[0]!.accuracy).toBeLessThan(small.clean.accuracy);
  });

  it('exits 2 naming the bad option', () => {
    for (const [args, message] of [
      [['--epsilon', '0'], "gradfleet: --epsilon must be a number > 0, got '0'"],
      [['--epsilon', 'abc'], "gradfleet: --epsilon must be a number > 0, got 'abc'"],
      [['--attack', 'cw'], "gradfleet: --attack must be fgsm or pgd, got 'cw'"],
      [['--range', '1,0'], "gradfleet: --range must be LOW,HIGH with LOW < HIGH (e.g. 0,1), or none; got '1,0'"],
      [['--attack', 'fgsm', '--steps', '3'], 'gradfleet: --steps applies to pgd; fgsm takes one step of size ε'],
    ] as const) {
      const out = gradfleet('eval', runDir, ...args);
      expect(out.status, args.join(' ')).toBe(2);
      expect(out.stderr.trim()).toBe(message);
    }
  });

  it('attacks an averaging ensemble through log(probabilities), and refuses a vote ensemble', async () => {
    const model = decodeModel(readFileSync(join(runDir, 'model.onnx')));
    const heads = [{ name: 'logits', logits: 'logits', loss: 'cross-entropy' as const }];
    const config = join(tmp, 'job.yaml');
    writeFileSync(config, stringify(JOB));
    const average = join(tmp, 'average.onnx');
    writeFileSync(average, encodeModel(exportEnsemble([model, model], { predict: 'average', heads }).model));
    const lines: string[] = [];
    const ens = await runEval(average, { ...DEFAULTS, config, attack: 'fgsm' }, (l) => lines.push(l));
    const single = await runEval(runDir, { ...DEFAULTS, attack: 'fgsm' }, () => {});
    expect(lines[0]).toContain("cross-entropy of log of 'probabilities' (an averaging ensemble)");
    // Two identical members: the ensemble's probabilities are the member's, so are its figures.
    expect(ens.clean.accuracy).toBe(single.clean.accuracy);
    expect(ens.clean.loss).toBeCloseTo(single.clean.loss, 4);
    expect(Math.abs(ens.attacks[0]!.accuracy - single.attacks[0]!.accuracy)).toBeLessThanOrEqual(0.01);

    const vote = join(tmp, 'vote.onnx');
    writeFileSync(vote, encodeModel(exportEnsemble([model, model], { predict: 'vote', heads }).model));
    await expect(runEval(vote, { ...DEFAULTS, config }, () => {})).rejects.toThrow(/majority-vote ensemble .*votes have no gradient to attack/);
  });

  it('refuses a model whose input is not float', async () => {
    const tokens = buildForwardModel({ input: { name: 'tokens', shape: [784], type: 'int64' }, layers: [{ type: 'embedding', vocab: 256, dim: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 }], loss: 'cross-entropy', seed: 1 });
    const file = join(tmp, 'tokens.onnx');
    writeFileSync(file, encodeModel(tokens.model));
    const config = join(tmp, 'job.yaml');
    writeFileSync(config, stringify(JOB));
    const out = gradfleet('eval', file, '--config', config);
    expect(out.status).toBe(2);
    expect(out.stderr.trim()).toBe("gradfleet: an attack perturbs a float input; the model's input 'tokens' is INT64 (token ids and other integer inputs have no gradient)");
  });
});
