/** Errors of the reduction tree: nodes that do not belong to a step's tree, or arrive twice. */
export class ReductionError extends Error {
  override name = 'ReductionError';
}
