import { describe, it, expect } from 'vitest';
import { parseSearch } from '../../coordinator/search/space.js';
import { SearchConfigError } from '../../coordinator/search/errors.js';
import { ConfigError } from '../../shared/config/validation.js';

const lr = { log_uniform: [1e-4, 1e-1] };

function problemsOf(raw: unknown): string[] {
  try {
    parseSearch(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SearchConfigError);
    return (e as SearchConfigError).problems;
  }
  throw new Error('parsed without error');
}

describe('search block', () => {
  it('parses a bayesian block and fills the defaults', () => {
    const s = parseSearch({
      method: 'bayesian',
      trials: 20,
      params: {
        'optimizer.lr': lr,
        'optimizer.weight_decay': { uniform: [0, 0.01] },
        'batch.global': { choice: [64, 128, 256] },
        hidden: { int: [32, 256], step: 32 },
        'optimizer.kind': { choice: ['adam', 'adamw', 'sgd'] },
      },
      asha: { min_steps: 100, max_steps: 2700 },
    });
    expect(s.objective).toEqual({ metric: 'val_loss', mode: 'min' });
    expect(s.parallel).toBe(2);
    expect(s.seed).toBeUndefined();
    expect(s.startup_trials).toBe(5);
    expect(s.asha).toEqual({ min_steps: 100, reduction_factor: 3, max_steps: 2700 });
    expect(s.params).toEqual([
      { path: 'optimizer.lr', kind: 'log_uniform', low: 1e-4, high: 1e-1 },
      { path: 'optimizer.weight_decay', kind: 'uniform', low: 0, high: 0.01 },
      { path: 'batch.global', kind: 'choice', values: [64, 128, 256] },
      { path: 'hidden', kind: 'int', low: 32, high: 256, step: 32, log: false },
      { path: 'optimizer.kind', kind: 'choice', values: ['adam', 'adamw', 'sgd'] },
    ]);
  });

  it('maximises val_accuracy and minimises val_loss unless the mode is given', () => {
    const base = { method: 'random', trials: 4, params: { 'optimizer.lr': lr } };
    expect(parseSearch({ ...base, objective: { metric: 'val_accuracy' } }).objective.mode).toBe('max');
    expect(parseSearch({ ...base, objective: { metric: 'val_loss' } }).objective.mode).toBe('min');
    expect(parseSearch({ ...base, objective: { metric: 'val_accuracy', mode: 'min' } }).objective.mode).toBe('min');
  });

  it('gives a grid the size of its product as budget, and keeps a larger one at that size', () => {
    const params = { a: { choice: [1, 2] }, b: { int: [0, 5], step: 2 } };
    expect(parseSearch({ method: 'grid', params }).trials).toBe(6);
    expect(parseSearch({ method: 'grid', params, trials: 100 }).trials).toBe(6);
  });

  it('caps the default startup at 10 trials and at a quarter of the budget', () => {
    const block = (trials: number) => ({ method: 'bayesian', trials, params: { 'optimizer.lr': lr } });
    expect(parseSearch(block(100)).startup_trials).toBe(10);
    expect(parseSearch(block(20)).startup_trials).toBe(5);
    expect(parseSearch({ ...block(20), startup_trials: 3 }).startup_trials).toBe(3);
  });

  const random = (params: unknown) => ({ method: 'random', trials: 10, params });
  const invalid: [string, unknown, string][] = [
    ['a param with no kind', random({ hidden: {} }), 'search.params.hidden: needs exactly one of choice, uniform, log_uniform, int'],
    ['a param with two kinds', random({ x: { uniform: [0, 1], int: [0, 1] } }), 'search.params.x: needs exactly one'],
    ['an empty range', random({ x: { uniform: [1, 1] } }), 'search.params.x.uniform: low must be < high'],
    ['a reversed int range', random({ hidden: { int: [256, 32] } }), 'search.params.hidden.int: low must be < high'],
    ['a log range reaching 0', random({ 'optimizer.lr': { log_uniform: [0, 0.1] } }), 'search.params.optimizer.lr.log_uniform: a log range needs low > 0'],
    ['a log int range from 0', random({ hidden: { int: [0, 64], log: true } }), 'search.params.hidden.int: a log range needs low > 0'],
    ['a log int range with a step', random({ hidden: { int: [1, 64], log: true, step: 2 } }), 'search.params.hidden.step: a log-scale int range takes no step'],
    ['a float int bound', random({ hidden: { int: [1.5, 64] } }), 'search.params.hidden.int[0]: must be an integer, got 1.5'],
    ['a step on a float range', random({ x: { uniform: [0, 1], step: 2 } }), 'search.params.x.step: only an int range takes a step'],
    ['an empty choice list', random({ 'optimizer.kind': { choice: [] } }), 'search.params.optimizer.kind.choice: must list at least one value'],
    ['a choice that is a mapping', random({ 'optimizer.kind': { choice: [{ a: 1 }] } }), 'search.params.optimizer.kind.choice[0]: must be a number, a string or a boolean'],
    ['a repeated choice', random({ 'optimizer.kind': { choice: ['adam', 'adam'] } }), 'search.params.optimizer.kind.choice: lists "adam" twice'],
    ['an unknown param field', random({ x: { uniform: [0, 1], scale: 2 } }), "search.params.x: has unknown field 'scale'"],
    ['a path that is not dotted names', random({ 'optimizer..lr': lr }), 'search.params.optimizer..lr: must be a dotted path'],
    ['no params', random({}), 'search.params: must name at least one parameter'],
    ['a float range in a grid', { method: 'grid', params: { 'optimizer.lr': lr } }, 'search.params.optimizer.lr: grid search needs a choice list or an int range, not log_uniform'],
    ['a grid budget below its size', { method: 'grid', trials: 5, params: { a: { choice: [1, 2] }, b: { int: [1, 3] } } }, 'search.trials: the grid has 6 points (2 × 3)'],
    ['random search with no budget', { method: 'random', params: { 'optimizer.lr': lr } }, 'search.trials: random search needs a trial budget'],
    ['startup trials outside bayesian search', { ...random({ 'optimizer.lr': lr }), startup_trials: 3 }, 'search.startup_trials: only bayesian search uses startup_trials'],
    ['startup trials using the whole budget', { method: 'bayesian', trials: 10, startup_trials: 10, params: { 'optimizer.lr': lr } }, 'search.startup_trials: must be < trials (10)'],
    ['an unknown method', { method: 'hyperband', trials: 3, params: { 'optimizer.lr': lr } }, 'search.method: must be one of "grid", "random", "bayesian", got "hyperband"'],
    ['an unknown metric', { ...random({ 'optimizer.lr': lr }), objective: { metric: 'accuracy' } }, 'search.objective.metric: must be one of'],
    ['no trials running at once', { ...random({ 'optimizer.lr': lr }), parallel: 0 }, 'search.parallel: must be > 0, got 0'],
    ['an unknown top-level field', { ...random({ 'optimizer.lr': lr }), budget: 3 }, "search: has unknown field 'budget'"],
    ['an ASHA ladder ending where it starts', { ...random({ 'optimizer.lr': lr }), asha: { min_steps: 100, max_steps: 100 } }, 'search.asha.max_steps: must be > min_steps'],
    ['an ASHA reduction factor of 1', { ...random({ 'optimizer.lr': lr }), asha: { min_steps: 1, max_steps: 9, reduction_factor: 1 } }, 'search.asha.reduction_factor: must be >= 2, got 1'],
    ['a block that is not a mapping', 'bayesian', 'search: must be a mapping'],
  ];

  it.each(invalid)('rejects %s, naming the field', (_, raw, expected) => {
    expect(problemsOf(raw).join('\n')).toContain(expected);
  });

  it('throws a ConfigError whose message lists every problem', () => {
    const raw = { method: 'grid', trials: 0, params: { 'optimizer.lr': lr, x: { uniform: [2, 1] } } };
    expect(() => parseSearch(raw, 'job.yaml')).toThrow(ConfigError);
    expect(() => parseSearch(raw, 'job.yaml')).toThrow(/^job\.yaml: invalid configuration:\n {2}- search\.trials: must be > 0, got 0/);
  });
});
