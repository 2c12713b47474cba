/** `gradfleet train` and `gradfleet bench` as a user runs them: real processes, real output. */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/gradfleet.mjs', import.meta.url));

function gradfleet(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('gradfleet train', () => {
  it('trains the default model for one epoch, printing loss and accuracy as it goes', () => {
    const r = gradfleet(['train', '--epochs', '1', '--batch', '100', '--seed', '3']);
    expect(r.stderr).not.toMatch(/gradfleet:/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^training mlp-784-256-128-10 \(235,146 parameters in 6 tensors\) on 8000 samples \(validation 1000, test 1000\), 1 epoch\(s\) × 80 steps of 100, cpu \(1 thread\)$/);
    expect(lines.filter((l) => /^epoch 1\/1 step \d+\/80 {2}loss \d+\.\d{4}/.test(l)).length).toBeGreaterThanOrEqual(4);
    const epoch = lines.find((l) => l.startsWith('epoch 1/1 done:'));
    expect(epoch).toMatch(/train loss \d\.\d{4} {2}train acc 0\.\d{4} {2}val loss \d\.\d{4} {2}val acc 0\.\d{4}/);
    const test = /^test: loss (\d\.\d{4}) {2}accuracy (0\.\d{4}) on 1000 samples$/.exec(lines.find((l) => l.startsWith('test:')) ?? '');
    expect(test, r.stdout).not.toBeNull();
    expect(Number(test![2])).toBeGreaterThan(0.85);
    expect(lines.at(-1)).toMatch(/^done in \d+\.\d s: 80 steps, test accuracy 0\.\d{4}$/);
  }, 60_000);

  it('rejects a bad option value with a one-line message and exit code 2', () => {
    const r = gradfleet(['train', '--batch', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("gradfleet: --batch must be an integer ≥ 1, got '0'");
  });

  it('rejects a micro-batch larger than the batch before training', () => {
    const r = gradfleet(['train', '--batch', '32', '--micro-batch', '64']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('gradfleet: --micro-batch (64) must not exceed --batch (32)');
  });
});

describe('gradfleet bench', () => {
  it('measures the gradient step of both models and describes the machine', () => {
    const r = gradfleet(['bench', '--section', 'step', '--runs', '1', '--warmup', '0', '--min-run', '0.01', '--threads', '1', '--batch', '8']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^machine: .+, \d+ cores, .*Node v\d+\.\d+\.\d+, onnxruntime-node \d+\.\d+\.\d+$/m);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('| step |'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^\| step \| MLP 784-256-128-10 \(235,146 params\), batch 8 \| 1 \| [\d,.]+ \| samples\/s \|/);
    expect(rows[1]).toMatch(/^\| step \| CNN conv8-pool-conv16-pool-dense10 \([\d,]+ params\), batch 8 \| 1 \| [\d,.]+ \| samples\/s \|/);
  }, 60_000);

  it('skips the PyTorch sections with a note, at once, when torch cannot be imported', () => {
    const started = Date.now();
    // Without the dataset, gradfleet's own time-to-accuracy run skips too, naming the file.
    const r = gradfleet(['bench', '--section', 'torch', '--section', 'ddp', '--section', 'fashion', '--runs', '1'], { GRADFLEET_BENCH_PYTHON: '/nonexistent/python3', GRADFLEET_FASHION_DIR: '/nonexistent/fashion' });
    expect(r.status, r.stderr).toBe(0);
    for (const section of ['torch', 'ddp', 'fashion']) {
      expect(r.stdout).toMatch(new RegExp(`^\\| ${section} \\| skipped: \`\\/nonexistent\\/python3 -c 'import torch'\` failed \\(.+\\); scripts\\/install-torch\\.sh installs Debian's python3-torch \\|`, 'm'));
    }
    expect(r.stdout).toContain('| fashion | skipped: Fashion-MNIST file /nonexistent/fashion/train-images-idx3-ubyte.gz not found; `apt-get install dataset-fashion-mnist` installs it |');
    // The interpreter that does not exist is not waited for (the probe's timeout is 120 s).
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('names the sections when asked for one that does not exist', () => {
    const r = gradfleet(['bench', '--section', 'nope']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('gradfleet: unknown bench section(s) nope; sections: step, torch, ddp, local, augment, aggregate, cluster, scale, fashion');
  });
});
