/**
 * `coordinator start`'s exit codes, which the coordinator Job's podFailurePolicy keys on
 * (deploy/k8s/base/coordinator-job.yaml): 2 fails the Job at once (the job cannot run), 1 is
 * retried (the next pod resumes). Real `node bin/coordinator.mjs` processes for the cases a pod
 * meets: an invalid job file, one that cannot be read, a run directory of another job config,
 * a model op without a gradient rule, a bad command line, and a SIGTERM once training started.
 * The split between 2 and 1 for errors thrown out of the job (before or after training started)
 * is checked in process, with a stand-in for runCoordinator.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COORDINATOR_EXIT, main } from '../../coordinator/cli.js';

/** The line the coordinator prints once it listens (training has started). */
const LISTENING_LINE = /^coordinator listening on /;
import { parseJob } from '../../coordinator/job/load.js';
import { RunDirectoryError, writeIdentity } from '../../coordinator/run-dir/job-identity.js';
import { writeModel } from '../../shared/onnx/model.js';
import { NodeProto } from '../../shared/proto/gen/onnx.js';
import { mlp } from '../autodiff/compile-fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'coordinator.mjs');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function coordinator(...args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/** A small valid job (JSON is YAML). */
const job = (over: Record<string, unknown> = {}) => ({ name: 'exit-codes', seed: 7, data: { source: 'digits' }, epochs: 1, batch: { global: 128, micro: 32 }, ...over });

let dir: string;
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gradfleet-exit-codes-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('coordinator start: exit 2 when the job cannot run', () => {
  it('an invalid job file: exit 2, stderr names the field', async () => {
    const bad = file('bad.yaml', 'name: bad\nepochs: -3\nbatch: { global: 128, micro: 32 }\n');
    const r = await coordinator('start', '--config', bad, '--run-dir', join(dir, 'bad-run'));
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.cannotRun);
    expect(r.stderr).toContain('bad.yaml: invalid configuration');
    expect(r.stderr).toMatch(/epochs must be > 0, got -3/);
    expect(r.stdout).toBe('');
  });

  it('a job file that cannot be read: exit 2', async () => {
    const r = await coordinator('start', '--config', join(dir, 'absent.yaml'));
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.cannotRun);
    expect(r.stderr).toContain('cannot read the job file');
  });

  it('a run directory that belongs to another job config: exit 2, the differing field named', async () => {
    const runDir = join(dir, 'other-run');
    mkdirSync(runDir);
    writeIdentity(runDir, parseJob(job({ seed: 8 }), 'earlier job'), 'exit-codes-12345678');
    const r = await coordinator('start', '--config', file('job.yaml', job()), '--run-dir', runDir);
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.cannotRun);
    expect(r.stderr).toMatch(/belongs to job 'exit-codes-12345678' with a different config \(1 field differ: seed: 8 → 7\); refusing to resume it/);
  });

  it('a model with an op that has no gradient rule: exit 2, the op named', async () => {
    const withEinsum = mlp().model;
    withEinsum.graph!.node.push(NodeProto.fromPartial({ name: 'mix', opType: 'Einsum', input: ['logits', 'logits'], output: ['mixed'], domain: '' }));
    withEinsum.graph!.output.push({ ...withEinsum.graph!.output[0]!, name: 'mixed' });
    writeModel(join(dir, 'einsum.onnx'), withEinsum);
    const rows = Array.from({ length: 30 }, (_, i) => `${i % 7},${i % 5},${i % 3},${i % 2},${i % 3}`);
    file('tiny.csv', `a,b,c,d,y\n${rows.join('\n')}\n`);
    const einsumJob = job({ model: { onnx: 'einsum.onnx', logits: 'logits' }, data: { source: 'csv', path: 'tiny.csv', label_column: 'y' }, batch: { global: 8, micro: 4 } });
    const r = await coordinator('start', '--config', file('einsum-job.yaml', einsumJob), '--run-dir', join(dir, 'einsum-run'));
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.cannotRun);
    expect(r.stderr).toContain("unsupported op 'Einsum' (node 'mix')");
  });

  it('a bad command line: exit 2, not the 1 of a resumable stop', async () => {
    const r = await coordinator('start', '--port', 'seventy');
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.cannotRun);
    expect(r.stderr).toContain("--port must be an integer >= 0, got 'seventy'");
    const help = await coordinator('start', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes:\n {2}0 {4}every run is done[\s\S]*\n {2}2 {4}the job cannot run/);
  });
});

describe('coordinator start: exit 1 once training started', () => {
  it('SIGTERM after the coordinator listens: a final checkpoint, exit 1 (the Job retries and the next pod resumes)', async () => {
    const runDir = join(dir, 'stopped-run');
    const child = spawn(process.execPath, [BIN, 'start', '--config', file('stop-job.yaml', job()), '--port', '0', '--run-dir', runDir], { cwd: ROOT, env: { ...process.env, GRADFLEET_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${LISTENING_LINE} within 60 s:\n${stdout}\n${stderr}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.split('\n').some((l) => LISTENING_LINE.test(l))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await listening;
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(COORDINATOR_EXIT.stopped);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stdout).toContain(`start the coordinator again on ${runDir} to resume it`);
  }, 90_000);
});

describe('coordinator start: exit 3 when the job ended with a failed run', () => {
  it('a run whose gradients stay non-finite (SGD at lr 1e30) fails after max_consecutive_skips steps: exit 3, the run named', async () => {
    const diverging = job({
      name: 'diverge',
      data: { source: 'digits', limit: 1000, split: { validation: 100, test: 100 } },
      batch: { global: 128, micro: 64 },
      optimizer: { kind: 'sgd', lr: 1e30 },
      max_consecutive_skips: 3,
    });
    const runDir = join(dir, 'diverged-run');
    const r = await coordinator('start', '--config', file('diverge.yaml', diverging), '--port', '0', '--local-workers', '1', '--run-dir', runDir);
    expect(r.code, r.stderr).toBe(COORDINATOR_EXIT.runFailed);
    expect(r.stdout).toContain('job FAILED: every run is done (diverge); failed runs: diverge');
    expect(JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'))).toMatchObject({ status: 'failed', stop_reason: expect.stringMatching(/3 consecutive steps had non-finite gradients/) });
    // Started again on that directory: the failure is final, reported from its checkpoint, not trained again.
    const steps = () => readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"step"')).length;
    const stepsBefore = steps();
    const again = await coordinator('start', '--config', file('diverge.yaml', diverging), '--port', '0', '--run-dir', runDir);
    expect(again.code, again.stderr).toBe(COORDINATOR_EXIT.runFailed);
    expect(again.stdout).toContain(`every run in ${runDir} is already done (diverge); nothing to train; failed runs: diverge`);
    expect(steps()).toBe(stepsBefore);
  }, 90_000);
});

describe('coordinator main(): which errors out of the job are 2 and which are 1', () => {
  const quiet = () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    return { err, restore: () => (out.mockRestore(), err.mockRestore()) };
  };

  it('an error before the coordinator listens is exit 2; the same error after it is exit 1, both printed in one line', async () => {
    const config = file('main-job.yaml', job());
    const argv = ['node', 'coordinator', 'start', '--config', config];
    const handlers = process.listeners('SIGTERM').length;
    const io = quiet();
    try {
      const refused = await main(argv, async (o) => {
        throw new RunDirectoryError(o.runDir ?? 'run', 'it belongs to another job');
      });
      const diskFull = await main(argv, async (o) => {
        o.print('coordinator listening on 127.0.0.1:7070 (job exit-codes-1, 1,234 parameters in 6 tensors, 80 training samples)');
        o.onTrainingStarted?.();
        throw new Error('ENOSPC: no space left on device, write');
      });
      const notListeningYet = await main(argv, async (o) => {
        o.print('resumed run exit-codes from ckpt-0000000100.gfck (step 100)');
        throw new Error('cannot listen on 0.0.0.0:7070: address in use');
      });
      const returned = await main(argv, async () => COORDINATOR_EXIT.stopped);
      expect([refused, diskFull, notListeningYet, returned]).toEqual([COORDINATOR_EXIT.cannotRun, COORDINATOR_EXIT.stopped, COORDINATOR_EXIT.cannotRun, COORDINATOR_EXIT.stopped]);
      const lines = io.err.mock.calls.map(([s]) => String(s));
      expect(lines).toEqual([expect.stringMatching(/^coordinator: run directory .*it belongs to another job\n$/), 'coordinator: ENOSPC: no space left on device, write\n', 'coordinator: cannot listen on 0.0.0.0:7070: address in use\n']);
    } finally {
      io.restore();
    }
    // The command's signal handlers are gone once the job ended.
    expect(process.listeners('SIGTERM')).toHaveLength(handlers);
  });
});
