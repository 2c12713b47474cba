/**
 * Errors of the coordinator's service logic (dispatcher, worker registry). They say what was
 * wrong in domain terms; coordinator/dispatch/server.ts alone maps them to gRPC status codes.
 */

export class CoordinatorError extends Error {
  override name = 'CoordinatorError';
}

/** A call from a worker id the registry does not know (never registered, expired, or from before a restart). */
export class UnknownWorkerError extends CoordinatorError {
  override name = 'UnknownWorkerError';
  constructor(readonly workerId: string) {
    super(`worker '${workerId}' is not registered with this coordinator (lease expired or coordinator restarted): register again`);
  }
}

/** A message naming another job than the one this coordinator runs. */
export class WrongJobError extends CoordinatorError {
  override name = 'WrongJobError';
  constructor(
    readonly got: string,
    readonly expected: string,
  ) {
    super(`job '${got}' is not the job this coordinator runs ('${expected}')`);
  }
}

export class UnknownRunError extends CoordinatorError {
  override name = 'UnknownRunError';
  constructor(readonly runId: number) {
    super(`run ${runId} does not exist in this job`);
  }
}

/** Parameters asked at a version the run does not hold (it moved on, or not there yet). */
export class ParamsVersionError extends CoordinatorError {
  override name = 'ParamsVersionError';
  constructor(
    readonly runId: number,
    readonly asked: number,
    readonly held: number,
  ) {
    super(`run ${runId} holds parameters at version ${held}; version ${asked} is ${asked < held ? 'no longer available (stale task)' : 'not there yet'}`);
  }
}

/** A result whose header or tensors do not fit the task it names. */
export class MalformedResultError extends CoordinatorError {
  override name = 'MalformedResultError';
}

/** A result computed from other parameters than the task needs. */
export class StaleResultError extends CoordinatorError {
  override name = 'StaleResultError';
}

/** A request that does not make sense on its own (bad data part, missing header). */
export class BadRequestError extends CoordinatorError {
  override name = 'BadRequestError';
}

/** GetData on a job whose workers read the dataset themselves (workers.data: local). */
export class DataNotStreamedError extends CoordinatorError {
  override name = 'DataNotStreamedError';
}

/**
 * A request over one of the coordinator's limits (a result stream longer than the model's
 * tensors, more workers than the registry takes): RESOURCE_EXHAUSTED.
 */
export class LimitExceededError extends CoordinatorError {
  override name = 'LimitExceededError';
}
