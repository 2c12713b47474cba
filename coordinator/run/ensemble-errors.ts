/** Errors of bagging ensembles: planning members, exporting and scoring the ensemble. */

export class EnsembleError extends Error {
  override name = 'EnsembleError';
}
