/**
 * The rules that pick the run directory of `coordinator start` without --run-dir
 * (coordinator/run-dir/choice.ts): which timestamped names are this job's, which candidate is
 * looked at (the newest of this job config only), and when it is resumed.
 */
import { describe, expect, it } from 'vitest';
import { newestOfThisConfig, resumeDecision, resumeLine, runDirNameTime, timestampedRunDirName, type ResumeFacts, type RunDirCandidate } from '../../coordinator/run-dir/choice.js';

describe('timestamped run directory names', () => {
  it('round-trips the time of a name it wrote, to the millisecond', () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    const name = timestampedRunDirName('digits-mlp', at);
    expect(name).toBe('digits-mlp-2026-03-04T05-06-07-089Z');
    expect(runDirNameTime('digits-mlp', name)).toBe(at.getTime());
  });

  it.each([
    ['another job', 'digits-cnn-2026-03-04T05-06-07-089Z'],
    ['a job whose name only starts the same', 'digits-mlp-big-2026-03-04T05-06-07-089Z'],
    ['a named directory', 'digits-mlp-best'],
    ['no dash after the name', 'digits-mlp2026-03-04T05-06-07-089Z'],
    ['a time without milliseconds', 'digits-mlp-2026-03-04T05-06-07Z'],
    ['an impossible date', 'digits-mlp-2026-13-45T05-06-07-089Z'],
  ])('is not this job\'s: %s', (_what, name) => {
    expect(runDirNameTime('digits-mlp', name)).toBeUndefined();
  });
});

describe('the candidate a rerun looks at', () => {
  const c = (path: string, createdMs: number, sameConfig: boolean): RunDirCandidate => ({ path, createdMs, sameConfig });

  it.each<[string, RunDirCandidate[], string | undefined]>([
    ['none', [], undefined],
    ['only other configs', [c('a', 1, false), c('b', 2, false)], undefined],
    ['the newest of this config, whatever the listing order', [c('old', 1, true), c('new', 3, true), c('mid', 2, true)], 'new'],
    ['a newer directory of another config does not hide this one', [c('mine', 1, true), c('theirs', 5, false)], 'mine'],
  ])('%s', (_what, candidates, expected) => {
    expect(newestOfThisConfig(candidates)?.path).toBe(expected);
  });
});

describe('whether the newest directory of this job config is resumed', () => {
  const ck = (run: string, step: number, over = false) => ({ run, step, over });
  const facts = (checkpoints: ResumeFacts['checkpoints'], finalOutputs = false): ResumeFacts => ({ checkpoints, finalOutputs });

  it.each<[string, ResumeFacts, number, ReturnType<typeof resumeDecision>]>([
    ['no checkpoint yet: nothing to resume', facts([]), 1, { action: 'new', why: 'no-checkpoint' }],
    ['no checkpoint, even with final-params.json', facts([], true), 1, { action: 'new', why: 'no-checkpoint' }],
    ['a run mid-training', facts([ck('tiny', 12)]), 1, { action: 'resume', why: 'training' }],
    ['a run mid-training with a stale final-params.json (a crash after an earlier coordinator failed)', facts([ck('tiny', 12)], true), 1, { action: 'resume', why: 'training' }],
    ['a run over and final outputs written: finished', facts([ck('tiny', 52, true)], true), 1, { action: 'new', why: 'finished' }],
    ['a run over, but the coordinator died before final-params.json', facts([ck('tiny', 52, true)]), 1, { action: 'resume', why: 'final-outputs' }],
    ['ensemble: one member still training', facts([ck('member-0', 20, true), ck('member-1', 8)], true), 2, { action: 'resume', why: 'training' }],
    ['ensemble: a member without any checkpoint starts over, so not over', facts([ck('member-0', 20, true), ck('member-1', 20, true)], true), 3, { action: 'resume', why: 'training' }],
    ['ensemble: every member over and final outputs written', facts([ck('member-0', 20, true), ck('member-1', 20, true)], true), 2, { action: 'new', why: 'finished' }],
  ])('%s', (_what, f, runCount, expected) => {
    expect(resumeDecision(f, runCount)).toEqual(expected);
  });
});

describe('the line printed on resume', () => {
  it('one run: its last checkpoint step and how to start afresh', () => {
    const f = { checkpoints: [{ run: 'tiny', step: 12, over: false }], finalOutputs: false };
    expect(resumeLine('runs/tiny-x', f, { action: 'resume', why: 'training' }, 1)).toBe(
      'resuming the unfinished run directory runs/tiny-x (same job config, last checkpoint at step 12); pass --fresh to start a new one',
    );
  });

  it('several runs: each run in member order, and how many have no checkpoint yet', () => {
    const f = { checkpoints: [{ run: 'member-10', step: 4, over: false }, { run: 'member-2', step: 9, over: true }], finalOutputs: false };
    expect(resumeLine('runs/e', f, { action: 'resume', why: 'training' }, 12)).toBe(
      'resuming the unfinished run directory runs/e (same job config, last checkpoints: member-2 at step 9 (over), member-10 at step 4; 10 of 12 runs have none yet); pass --fresh to start a new one',
    );
  });

  it('every run over: says only the final outputs are missing', () => {
    const f = { checkpoints: [{ run: 'tiny', step: 52, over: true }], finalOutputs: false };
    expect(resumeLine('runs/t', f, { action: 'resume', why: 'final-outputs' }, 1)).toContain('(same job config, every run is over, but its final outputs were not written)');
  });
});
