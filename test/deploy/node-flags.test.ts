/**
 * Every place that starts a gradfleet process passes shared/node-flags.ts's NODE_FLAGS and
 * PROCESS_ENV (why: see that file): `npm start` and `npm run bench`, both container image
 * definitions, and the workers that `coordinator start --local-workers` spawns (a real process:
 * each logs the flags and malloc settings it runs with). The Kubernetes commands are checked in
 * manifests.test.ts (their pods inherit the images' ENV), the test harness imports both.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE_FLAGS, PROCESS_ENV, processEnvWords } from '../../shared/node-flags.js';
import { parseLog, tinyJob } from '../cluster/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('NODE_FLAGS at every launch point', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradfleet-node-flags-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a non-empty list of V8 flags this node accepts', () => {
    expect(NODE_FLAGS.length).toBeGreaterThan(0);
    const script = 'process.stdout.write(JSON.stringify(process.execArgv))';
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '-e', script]);
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toEqual([...NODE_FLAGS, '-e', script]);
  });

  it('npm start runs the coordinator with them, and npm run bench the bench', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toContain(`${processEnvWords()} node ${NODE_FLAGS.join(' ')} bin/coordinator.mjs start`);
    expect(scripts.bench).toContain(`${processEnvWords()} node ${NODE_FLAGS.join(' ')} bin/gradfleet.mjs bench`);
  });

  it('PROCESS_ENV is set in both images', () => {
    const words = Object.entries(PROCESS_ENV).map(([k, v]) => `${k}=${v}`);
    expect(words.length).toBeGreaterThan(0);
    expect(read('deploy/docker/Dockerfile')).toContain(`ENV ${words.join(' ')}`);
    for (const w of words) expect(read('deploy/docker/build-image.sh')).toContain(`--change 'ENV ${w}'`);
  });

  it('both images run the coordinator with them by default', () => {
    const cmd = `CMD ${JSON.stringify(['node', ...NODE_FLAGS, '/app/bin/coordinator.mjs']).slice(0, -1).replaceAll(',', ', ')}`;
    expect(read('deploy/docker/Dockerfile')).toContain(cmd);
    expect(read('deploy/docker/build-image.sh')).toContain(cmd);
  });

  it('coordinator start --local-workers spawns its workers with them', () => {
    const jobFile = join(dir, 'job.json');
    writeFileSync(jobFile, JSON.stringify(tinyJob({ name: 'flags', epochs: 1 })));
    // The coordinator itself is started without PROCESS_ENV: the workers get it from the spawn.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in PROCESS_ENV)));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/coordinator.mjs'), 'start', '--config', jobFile, '--port', '0', '--local-workers', '1', '--run-dir', join(dir, 'run')], {
      env: { ...env, GRADFLEET_LOG_LEVEL: 'info' },
      timeout: 60_000,
    });
    const stderr = r.stderr.toString();
    expect(r.status, stderr).toBe(0);
    const registered = parseLog(stderr).filter((l) => l.component === 'worker' && l.msg === 'registered');
    expect(registered, stderr).toHaveLength(1);
    expect(registered[0]!.nodeFlags).toEqual(NODE_FLAGS);
    expect(registered[0]!.processEnv).toEqual(PROCESS_ENV);
  }, 90_000);
});
