/**
 * The job file's `search:` block: which hyperparameters to try (the space), how to pick them
 * (grid, random, bayesian), what "better" means (the objective) and, optionally, early stopping
 * of poor trials (ASHA). `parseSearch` validates it and gives back defaulted values with the
 * params as an ordered list; every error names the field, e.g. `search.params.optimizer.lr`.
 *
 * ```yaml
 * search:
 *   method: bayesian                            # grid | random | bayesian
 *   objective: { metric: val_accuracy }         # mode defaults to max for val_accuracy, min for val_loss
 *   trials: 20
 *   params:
 *     optimizer.lr: { log_uniform: [1.0e-4, 1.0e-1] }
 *     batch.global: { choice: [64, 128, 256] }
 *     hidden: { int: [32, 256], step: 32 }
 *   asha: { min_steps: 100, reduction_factor: 3, max_steps: 2700 }
 * ```
 */
import { z } from 'zod';
import { SearchConfigError } from './errors.js';

export type ParamValue = number | string | boolean;

/** One hyperparameter, keyed by its dotted path into the job config (`optimizer.lr`). */
export type ParamSpec =
  | { path: string; kind: 'choice'; values: ParamValue[] }
  | { path: string; kind: 'uniform'; low: number; high: number }
  | { path: string; kind: 'log_uniform'; low: number; high: number }
  /** Integers low, low+step, … up to high; with `log`, drawn evenly in log space (step is then 1). */
  | { path: string; kind: 'int'; low: number; high: number; step: number; log: boolean };

const KINDS = ['choice', 'uniform', 'log_uniform', 'int'] as const;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

const range = z.tuple([z.number(), z.number()], { error: 'must be a list [low, high] of two numbers' });
const intRange = z.tuple([z.number().int(), z.number().int()], { error: 'must be a list [low, high] of two integers' });

const paramSchema = z
  .object({
    choice: z.array(z.union([z.number(), z.string(), z.boolean()], { error: 'must be a number, a string or a boolean' }), { error: 'must be a list of numbers, strings or booleans' }).min(1, 'must list at least one value').optional(),
    uniform: range.optional(),
    log_uniform: range.optional(),
    int: intRange.optional(),
    step: z.number().int().positive().optional(),
    log: z.boolean().optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const given = KINDS.filter((k) => p[k] !== undefined);
    if (given.length !== 1) {
      const why = given.length === 0 ? 'nothing' : given.join(' and ');
      ctx.addIssue({ code: 'custom', message: `needs exactly one of ${KINDS.join(', ')}; got ${why}` });
      return;
    }
    const kind = given[0]!;
    if (kind !== 'int' && p.step !== undefined) ctx.addIssue({ code: 'custom', path: ['step'], message: `only an int range takes a step, not ${kind}` });
    if (kind !== 'int' && p.log !== undefined) ctx.addIssue({ code: 'custom', path: ['log'], message: `only an int range takes log (use log_uniform for floats), not ${kind}` });
    if (kind === 'choice') {
      const seen = new Set<ParamValue>();
      for (const v of p.choice!) {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: ['choice'], message: `lists ${JSON.stringify(v)} twice` });
        seen.add(v);
      }
      return;
    }
    const [low, high] = p[kind]!;
    if (!(low < high)) ctx.addIssue({ code: 'custom', path: [kind], message: `low must be < high, got [${low}, ${high}]` });
    const log = kind === 'log_uniform' || (kind === 'int' && p.log === true);
    if (log && !(low > 0)) ctx.addIssue({ code: 'custom', path: [kind], message: `a log range needs low > 0, got [${low}, ${high}]` });
    if (kind === 'int' && p.log === true && (p.step ?? 1) !== 1) ctx.addIssue({ code: 'custom', path: ['step'], message: `a log-scale int range takes no step, got ${p.step}` });
  });

type ParamInput = z.output<typeof paramSchema>;

function toSpec(path: string, p: ParamInput): ParamSpec {
  if (p.choice) return { path, kind: 'choice', values: p.choice };
  if (p.uniform) return { path, kind: 'uniform', low: p.uniform[0], high: p.uniform[1] };
  if (p.log_uniform) return { path, kind: 'log_uniform', low: p.log_uniform[0], high: p.log_uniform[1] };
  return { path, kind: 'int', low: p.int![0], high: p.int![1], step: p.step ?? 1, log: p.log ?? false };
}

/** How many values a grid walks for this param, or undefined when it is a continuous range. */
export function gridSize(p: ParamSpec): number | undefined {
  if (p.kind === 'choice') return p.values.length;
  if (p.kind === 'int') return Math.floor((p.high - p.low) / p.step) + 1;
  return undefined;
}

/**
 * Default `startup_trials`: Optuna's 10 random trials before TPE, but never more than a quarter
 * of the budget, so a 20-trial search still spends 15 trials learning from the first 5.
 */
export function defaultStartupTrials(trials: number): number {
  return Math.max(1, Math.min(10, Math.ceil(trials / 4)));
}

const objectiveSchema = z
  .object({
    metric: z.enum(['val_loss', 'val_accuracy']).default('val_loss'),
    mode: z.enum(['min', 'max']).optional(),
  })
  .strict()
  .transform((o) => ({ metric: o.metric, mode: o.mode ?? (o.metric === 'val_loss' ? ('min' as const) : ('max' as const)) }));

const ashaSchema = z
  .object({
    /** Steps every trial gets before its first judgement (the lowest rung). */
    min_steps: z.number().int().positive(),
    /** η: at each rung only the best 1/η go on; rungs sit at min_steps·η^k. */
    reduction_factor: z.number().int().min(2).default(3),
    /** A trial's full length: no rung at or past it (a trial that gets there is finished). */
    max_steps: z.number().int().positive(),
  })
  .strict()
  .refine((a) => a.min_steps < a.max_steps, { error: 'must be > min_steps', path: ['max_steps'] });

export const searchSchema = z
  .object({
    method: z.enum(['grid', 'random', 'bayesian']),
    objective: objectiveSchema.prefault({}),
    /** Trial budget. Required for random and bayesian; for grid, at least the grid's size (its default). */
    trials: z.number().int().positive().optional(),
    /** Trials running at once. */
    parallel: z.number().int().positive().default(2),
    /** Seed of the sampler (default: the job's seed, filled in by whoever runs the search). */
    seed: z.number().int().min(-(2 ** 31)).lt(2 ** 32).optional(),
    /** Bayesian only: trials drawn at random before TPE has results to learn from. */
    startup_trials: z.number().int().positive().optional(),
    params: z.record(z.string(), paramSchema).refine((ps) => Object.keys(ps).length > 0, 'must name at least one parameter'),
    asha: ashaSchema.optional(),
    /**
     * After the search: train the best trial's hyperparameters on training + validation data for
     * as many epochs as the best trial needed, and score the test split once (`--retrain-best`).
     */
    retrain_best: z.boolean().default(false),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const [path, p] of Object.entries(s.params)) {
      if (!PATH.test(path)) ctx.addIssue({ code: 'custom', path: ['params', path], message: 'must be a dotted path into the job config, like optimizer.lr' });
      const kind = KINDS.find((k) => p[k] !== undefined);
      if (s.method === 'grid' && (kind === 'uniform' || kind === 'log_uniform')) {
        ctx.addIssue({ code: 'custom', path: ['params', path], message: `grid search needs a choice list or an int range, not ${kind}` });
      }
    }
    if (s.method !== 'grid' && s.trials === undefined) ctx.addIssue({ code: 'custom', path: ['trials'], message: `${s.method} search needs a trial budget` });
    if (s.method !== 'bayesian' && s.startup_trials !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['startup_trials'], message: `only bayesian search uses startup_trials, not ${s.method}` });
    }
    if (s.method === 'bayesian' && s.startup_trials !== undefined && s.trials !== undefined && s.startup_trials >= s.trials) {
      ctx.addIssue({ code: 'custom', path: ['startup_trials'], message: `must be < trials (${s.trials}), or TPE never runs` });
    }
  })
  .transform((s, ctx) => {
    const params = Object.entries(s.params).map(([path, p]) => toSpec(path, p));
    let trials = s.trials ?? 0;
    if (s.method === 'grid') {
      const sizes = params.map((p) => gridSize(p)!);
      const points = sizes.reduce((a, b) => a * b, 1);
      if (s.trials !== undefined && s.trials < points) {
        ctx.addIssue({ code: 'custom', path: ['trials'], message: `the grid has ${points} points (${sizes.join(' × ')}); trials must be at least that, or left out, got ${s.trials}` });
      }
      // A grid runs each point once: a larger budget has nothing more to spend on.
      trials = points;
    }
    const startup_trials = s.startup_trials ?? defaultStartupTrials(trials);
    return { ...s, trials, startup_trials, params };
  });

export type SearchConfig = z.output<typeof searchSchema>;
export type SearchInput = z.input<typeof searchSchema>;
export type Objective = SearchConfig['objective'];
export type AshaConfig = NonNullable<SearchConfig['asha']>;

function pathString(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${String(k)}`), 'search');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

const TYPE_NAMES: Record<string, string> = { object: 'a mapping', array: 'a list', int: 'an integer', number: 'a number', string: 'a string', boolean: 'a boolean' };

/** zod's own messages reworded as the rest of the job file words them ("must be > 0, got 0"); ours pass through. */
function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const got = `, got ${JSON.stringify(valueAt(raw, issue.path)) ?? 'nothing'}`;
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'array' ? issue.message : `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}${got}`;
    case 'too_big':
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}${got}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`;
    case 'invalid_type':
      return issue.message.startsWith('Invalid input') ? `must be ${TYPE_NAMES[issue.expected] ?? `a ${issue.expected}`}${got}` : issue.message;
    case 'invalid_union':
      return `${issue.message}${got}`;
    default:
      return issue.message;
  }
}

/**
 * Validates a job file's `search:` block.
 * @param source where the block came from, for the message (a job file's path)
 * @throws SearchConfigError listing every problem as `search.<field>: <what is wrong>`
 */
export function parseSearch(raw: unknown, source = 'search'): SearchConfig {
  const r = searchSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new SearchConfigError(
    source,
    r.error.issues.map((issue) => `${pathString(issue.path)}: ${describe(issue, raw)}`),
  );
}
