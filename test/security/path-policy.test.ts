/**
 * Paths named by a job cannot escape the folders meant for them (shared/security/paths.ts):
 * relative `..` out of the job's folder, absolute paths outside the allowed roots and symlinks
 * pointing out are refused with an error naming the field and the path; paths inside (the job's
 * folder, --allow-dir, $GRADFLEET_ALLOWED_DIRS, /usr/share/datasets) are accepted. A worker with
 * `workers.data: local` reads only under its own data root, whatever the coordinator sends.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALLOWED_DIRS_ENV, PathPolicyError, confinePath, jobPathPolicy, workerDataPolicy } from '../../shared/security/paths.js';
import { prepareJobData } from '../../shared/data/job-dataset.js';
import { encodeIdx } from '../../shared/data/idx-format.js';
import { loadJob, parseJob } from '../../coordinator/job/load.js';
import { runDirectoryFor, runDirPolicy } from '../../coordinator/run-dir/default.js';
import { loadLocalDataset } from '../../worker/local-data.js';
import type { DatasetConfig } from '../../shared/data/schema.js';
import type { DatasetMeta, LocalDataSpec } from '../../shared/cluster/job-wire.js';
import { createLogger } from '../../shared/log.js';

const root = mkdtempSync(join(tmpdir(), 'gradfleet-paths-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// root/job/            the job file's folder, with data/ inside
// root/outside/        a folder no policy allows, holding a "secret"
// root/extra/          allowed only through --allow-dir / GRADFLEET_ALLOWED_DIRS
const jobDir = join(root, 'job');
const outside = join(root, 'outside');
const extra = join(root, 'extra');
for (const d of [join(jobDir, 'data'), outside, extra]) mkdirSync(d, { recursive: true });
writeFileSync(join(outside, 'secret.csv'), 'a,label\n1,0\n2,1\n');
writeFileSync(join(extra, 'iris.csv'), 'a,label\n1,0\n2,1\n3,0\n4,1\n');
writeFileSync(join(jobDir, 'data', 'iris.csv'), 'a,label\n1,0\n2,1\n3,0\n4,1\n');
symlinkSync(join(outside, 'secret.csv'), join(jobDir, 'data', 'link.csv'));
symlinkSync(outside, join(jobDir, 'data', 'linkdir'));
const noEnv = {};

describe('path policy: job files', () => {
  const policy = jobPathPolicy(jobDir, [], noEnv);

  it('accepts relative paths inside the job folder and absolute paths under an allowed root', () => {
    expect(confinePath('data.path', 'data/iris.csv', policy)).toBe(join(jobDir, 'data', 'iris.csv'));
    expect(confinePath('data.path', join(jobDir, 'data', 'iris.csv'), policy)).toBe(join(jobDir, 'data', 'iris.csv'));
    // `..` that stays inside is fine; a file that does not exist yet is judged by its folder.
    expect(confinePath('data.path', 'data/../data/iris.csv', policy)).toBe(join(jobDir, 'data', 'iris.csv'));
    expect(confinePath('run_dir', 'data/new/run', policy)).toBe(join(jobDir, 'data', 'new', 'run'));
    // Debian's dataset packages, as examples/*.yaml use them.
    expect(confinePath('data.train_images', '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz', policy)).toBe('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
  });

  it('refuses a relative path that climbs out with ..', () => {
    expect(() => confinePath('data.path', '../outside/secret.csv', policy)).toThrow(PathPolicyError);
    expect(() => confinePath('data.path', '../outside/secret.csv', policy)).toThrow(/^data\.path: '\.\.\/outside\/secret\.csv' climbs out of .*job .*outside the allowed directories/);
    expect(() => confinePath('model.spec', '../../../../etc/passwd', policy)).toThrow(/^model\.spec: '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd' climbs out/);
  });

  it('refuses an absolute path outside the allowed roots', () => {
    expect(() => confinePath('model.onnx', '/etc/passwd', policy)).toThrow(/^model\.onnx: '\/etc\/passwd' is outside the allowed directories \(.*job, \/usr\/share\/datasets\); pass --allow-dir/);
    expect(() => confinePath('data.path', join(outside, 'secret.csv'), policy)).toThrow(/is outside the allowed directories/);
    // A sibling whose name starts like an allowed root is not inside it.
    expect(() => confinePath('data.path', `${jobDir}-evil/x.csv`, policy)).toThrow(/is outside/);
  });

  it('refuses a symlink (to a file or a folder) that points out of the allowed roots', () => {
    expect(() => confinePath('data.path', 'data/link.csv', policy)).toThrow(/^data\.path: 'data\/link\.csv' resolves through a symbolic link to .*outside\/secret\.csv, outside the allowed directories/);
    expect(() => confinePath('data.path', 'data/linkdir/secret.csv', policy)).toThrow(/resolves through a symbolic link/);
    expect(() => confinePath('data.path', join(jobDir, 'data', 'link.csv'), policy)).toThrow(/resolves through a symbolic link/);
  });

  it('refuses a NUL byte', () => {
    expect(() => confinePath('data.path', 'data/iris.csv\0.png', policy)).toThrow(/^data\.path: .* contains a NUL byte/);
  });

  it('accepts --allow-dir and GRADFLEET_ALLOWED_DIRS folders, by .. or absolute path', () => {
    expect(confinePath('data.path', join(extra, 'iris.csv'), jobPathPolicy(jobDir, [extra], noEnv))).toBe(join(extra, 'iris.csv'));
    expect(confinePath('data.path', '../extra/iris.csv', jobPathPolicy(jobDir, [], { [ALLOWED_DIRS_ENV]: `/nowhere:${extra}` }))).toBe(join(extra, 'iris.csv'));
    expect(() => confinePath('data.path', '../outside/secret.csv', jobPathPolicy(jobDir, [extra], noEnv))).toThrow(PathPolicyError);
  });

  it('loadJob refuses a dataset, a model spec or an ONNX model outside, naming the field', async () => {
    const csv = (path: string) => parseJob({ data: { source: 'csv', path, label_column: 'label' } }, 'test');
    await expect(loadJob(csv('../outside/secret.csv'), 'test', jobDir)).rejects.toThrow(/^data\.path: '\.\.\/outside\/secret\.csv' climbs out/);
    await expect(loadJob(csv(join(outside, 'secret.csv')), 'test', jobDir)).rejects.toThrow(/^data\.path: '.*outside\/secret\.csv' is outside/);
    await expect(loadJob(csv('data/link.csv'), 'test', jobDir)).rejects.toThrow(/^data\.path: 'data\/link\.csv' resolves through a symbolic link/);
    await expect(loadJob(parseJob({ model: { spec: '../outside/spec.json' } }, 'test'), 'test', jobDir)).rejects.toThrow(/^model\.spec: '\.\.\/outside\/spec\.json' climbs out/);
    await expect(loadJob(parseJob({ model: { onnx: '/etc/passwd' } }, 'test'), 'test', jobDir)).rejects.toThrow(/^model\.onnx: '\/etc\/passwd' is outside/);
    // The same data, allowed by --allow-dir, loads.
    const allowed = parseJob({ model: { spec: { input: { name: 'x', shape: [1] }, layers: [{ type: 'dense', name: 'fc', units: 2 }], loss: 'cross-entropy' } }, data: { source: 'csv', path: join(extra, 'iris.csv'), label_column: 'label', split: { validation: 0 } } }, 'test');
    const loaded = await loadJob(allowed, 'test', jobDir, { allowDirs: [extra] });
    expect(loaded.dataset.size).toBe(4);
  });

  it("a job file's run_dir stays under runs/, the job folder or an allowed folder; --run-dir is the operator's", () => {
    const log = createLogger('test');
    const job = (run_dir: string) => parseJob({ run_dir }, 'test');
    const o = { log, print: () => {}, jobRunDirPolicy: runDirPolicy(jobDir, [], root) };
    expect(runDirectoryFor(job('runs/mine'), o)).toBe(join(root, 'runs', 'mine'));
    expect(runDirectoryFor(job(join(jobDir, 'out')), o)).toBe(join(jobDir, 'out'));
    expect(() => runDirectoryFor(job('../elsewhere'), o)).toThrow(/^run_dir: '\.\.\/elsewhere' climbs out/);
    expect(() => runDirectoryFor(job('/etc/cron.d'), o)).toThrow(/^run_dir: '\/etc\/cron\.d' is outside the allowed directories.*use --run-dir DIR/);
    expect(runDirectoryFor(job('/etc/cron.d'), { ...o, runDir: join(outside, 'run') })).toBe(join(outside, 'run'));
  });
});

describe('path policy: a worker with workers.data: local', () => {
  const log = createLogger('test');
  const spec = (config: DatasetConfig, baseDir: string): LocalDataSpec => ({ config, baseDir, seed: 1, sha256: 'x'.repeat(64) });
  const meta = { name: 'csv', size: 4, featureShape: [1], targetWidth: 1, labels: 'int32' } as unknown as DatasetMeta;
  const csv = (path: string) => ({ source: 'csv', path, label_column: 'label', split: { validation: 0 } }) as unknown as DatasetConfig;

  it("refuses a path outside its --data-root, whatever base folder the coordinator names", async () => {
    const dataRoot = join(jobDir, 'data');
    // Absolute path outside the data root, a `..` escape, and a base folder of '/' from the coordinator.
    await expect(loadLocalDataset(spec(csv(join(outside, 'secret.csv')), '/'), meta, dataRoot, log)).rejects.toThrow(/^data\.path: '.*outside\/secret\.csv' is outside the allowed directories \(.*job\/data, \/usr\/share\/datasets\); a worker reads only under its --data-root/);
    await expect(loadLocalDataset(spec(csv('../../outside/secret.csv'), '/'), meta, dataRoot, log)).rejects.toThrow(/^data\.path: '\.\.\/\.\.\/outside\/secret\.csv' climbs out of .*job\/data/);
    await expect(loadLocalDataset(spec(csv('link.csv'), '/'), meta, dataRoot, log)).rejects.toThrow(/^data\.path: 'link\.csv' resolves through a symbolic link/);
    await expect(loadLocalDataset(spec(csv('/etc/passwd'), '/'), meta, dataRoot, log)).rejects.toThrow(/^data\.path: '\/etc\/passwd' is outside/);
  });

  it("without --data-root it does not trust the coordinator's folder: only its own allowed folders", async () => {
    // The coordinator says its folder is `outside`: not one of this worker's roots.
    await expect(loadLocalDataset(spec(csv('secret.csv'), outside), meta, undefined, log)).rejects.toThrow(/^data\.path: 'secret\.csv' is outside the allowed directories .*start it with --data-root DIR/);
    // Inside the data root, the data loads (and reaches the fingerprint check, which this fake fails).
    await expect(loadLocalDataset(spec(csv('iris.csv'), '/'), meta, join(jobDir, 'data'), log)).rejects.toThrow(/differs from the coordinator's: SHA-256 fingerprint/);
    // An --allow-dir of the worker's own makes the coordinator's folder readable.
    await expect(loadLocalDataset(spec(csv('iris.csv'), extra), meta, undefined, log, [extra])).rejects.toThrow(/differs from the coordinator's/);
  });

  it('applies the same policy to the idx source', async () => {
    const dataRoot = join(jobDir, 'data');
    writeFileSync(join(outside, 'labels'), encodeIdx({ type: 'ubyte', dims: [2], data: new Uint8Array([0, 1]) }));
    const idx = { source: 'idx', train_images: 'images', train_labels: join(outside, 'labels'), split: { validation: 0 } } as unknown as DatasetConfig;
    await expect(prepareJobData(idx, { baseDir: dataRoot, paths: workerDataPolicy(dataRoot, '/', [], noEnv) }, 1)).rejects.toThrow(/^data\.train_labels: '.*outside\/labels' is outside/);
  });
});
