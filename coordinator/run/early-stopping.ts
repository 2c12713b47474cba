/**
 * Early stopping as a pure decision: feed each evaluation's metric, get back whether it is the
 * best so far and whether to stop. State is plain data (it goes into checkpoints).
 */
export interface EarlyStoppingConfig {
  monitor: 'val_loss' | 'val_accuracy';
  mode: 'min' | 'max';
  patience: number;
  min_delta: number;
  restore_best: boolean;
}

export interface EarlyStoppingState {
  best: number | null;
  bestStep: number;
  /** Evaluations since the last improvement. */
  bad: number;
}

export interface EarlyStoppingDecision {
  state: EarlyStoppingState;
  improved: boolean;
  stop: boolean;
  reason?: string;
}

export const initialEarlyStopping = (): EarlyStoppingState => ({ best: null, bestStep: -1, bad: 0 });

export function decideEarlyStop(cfg: EarlyStoppingConfig, state: EarlyStoppingState, value: number, step: number): EarlyStoppingDecision {
  const better =
    state.best === null || (Number.isFinite(value) && (cfg.mode === 'min' ? value < state.best - cfg.min_delta : value > state.best + cfg.min_delta));
  if (better) return { state: { best: value, bestStep: step, bad: 0 }, improved: true, stop: false };
  const bad = state.bad + 1;
  const next = { ...state, bad };
  // As Keras: stop once `patience` evaluations in a row brought no improvement.
  if (bad >= cfg.patience)
    return {
      state: next,
      improved: false,
      stop: true,
      reason: `early stopping: ${cfg.monitor} did not improve by more than ${cfg.min_delta} for ${bad} evaluations (best ${state.best} at step ${state.bestStep})`,
    };
  return { state: next, improved: false, stop: false };
}
