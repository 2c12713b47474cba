/** Errors of the hyperparameter search: a bad `search:` block, and a saved state that does not fit. */
import { ConfigError } from '../../shared/config/validation.js';

/**
 * The job file's `search:` block is invalid. A ConfigError like every other job-file problem,
 * so whoever reports those reports this one too; each problem starts with the field's path,
 * e.g. `search.params.optimizer.lr: grid search needs a choice list or an int range, not log_uniform`.
 */
export class SearchConfigError extends ConfigError {
  override name = 'SearchConfigError';
}

/** A snapshot handed to `restore` was not taken from a scheduler with the same rungs. */
export class SearchStateError extends Error {
  override name = 'SearchStateError';
}
