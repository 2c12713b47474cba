/**
 * What a search has done, on disk in its run directory:
 *
 *   search-state.json  every trial so far: its hyperparameters, state, rung reports and result.
 *                      Replaced atomically after every event; a restarted coordinator resumes
 *                      the search from it (and each unfinished trial from its own checkpoint).
 *   search.jsonl       one line per event (trial started, rung judged, trial ended), append-only:
 *                      the search's log for people and scripts.
 *
 * Pure data plus the two writers; hyper-search.ts decides.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../run/outputs.js';
import type { TrialParams, TrialState } from './sampler.js';
import { SearchStateError } from './errors.js';

export const STATE_FILE = 'search-state.json';
export const LOG_FILE = 'search.jsonl';

export interface RungReport {
  step: number;
  /** The trial's validation metric at the evaluation that reached the rung. */
  value: number;
  decision: 'continue' | 'prune';
}

export interface TrialRecord {
  trial: number;
  params: TrialParams;
  state: TrialState;
  rungs: RungReport[];
  /** Best validation metric over the trial's evaluations (finished trials). */
  value?: number;
  /** Step of that evaluation. */
  best_step?: number;
  steps?: number;
  epochs?: number;
  /** Why it ended (its stop reason). */
  reason?: string;
  wall_time_s?: number;
  /** Relative to the search's run directory. */
  dir: string;
}

export interface SearchStateFile {
  /** The search block's fingerprint: a state written for another search is refused. */
  search: string;
  trials: TrialRecord[];
  retrain?: { state: 'running' | 'done' | 'failed'; trial: number; dir: string };
}

export function readSearchState(runDir: string, fingerprint: string): SearchStateFile | undefined {
  const file = join(runDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  let state: SearchStateFile;
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as SearchStateFile;
  } catch (e) {
    throw new SearchStateError(`${file} is not readable JSON (${(e as Error).message}); it is replaced atomically, so this is damage from outside`);
  }
  if (state.search !== fingerprint) throw new SearchStateError(`${file} was written by a different search block; start the changed search in a new run directory (--fresh)`);
  return state;
}

export function writeSearchState(runDir: string, state: SearchStateFile): void {
  writeAtomic(join(runDir, STATE_FILE), `${JSON.stringify(state, null, 1)}\n`);
}

export function logSearchEvent(runDir: string, event: Record<string, unknown>): void {
  appendFileSync(join(runDir, LOG_FILE), `${JSON.stringify({ ...event, time: Date.now() })}\n`);
}
