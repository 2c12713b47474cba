/** Errors of a relay (coordinator/relay/): what it cannot relay, and work it had to drop. */

export class RelayError extends Error {
  override name = 'RelayError';
}

/**
 * A task of a job the relay cannot serve: a job with `ensemble:` trains several runs over one
 * pool, and a relay serves exactly one run (its phases are one run's tasks, its parameters one
 * run's versions). Final for this job: the relay leaves, and the coordinator gives the task to
 * other workers.
 */
export class RelayRefusedError extends RelayError {
  override name = 'RelayRefusedError';
  constructor(
    readonly jobName: string,
    readonly runId: number,
  ) {
    super(
      `job '${jobName}' has more than one run (a task of run ${runId} came; a plain job has only run 0): it is an ensemble (\`ensemble:\` in the job file), and a relay serves jobs of one run only. ` +
        'Connect the workers of an ensemble job to the coordinator directly.',
    );
  }
}

/** The task in hand was dropped: the relay stopped, or the upstream handed it another task first. */
export class RelayTaskDroppedError extends RelayError {
  override name = 'RelayTaskDroppedError';
}
