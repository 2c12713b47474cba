/**
 * Initial weights of bagging members (`ensemble.init`; the seeds are planned in ensemble-plan.ts).
 *
 *   shared      every member starts from the job's initial values (the training graph's, drawn
 *               with the job's seed): nothing to redraw
 *   per_member  member k starts from the job's model spec built with init seed = its initSeed
 *               (buildForwardModel(spec, { seed })): the same layers, Xavier/He schemes, fans and
 *               constant biases and batch-norm statistics, other random draws
 *
 * The spec is the job loader's (coordinator/job/load.ts jobModelSpec): the default MLP, a spec
 * file relative to the job's folder, or the inline spec; its own `seed` does not matter, the init
 * seed overrides it. A model given as an ONNX file has no spec to draw from
 * (the job schema refuses `init: per_member` with `model.onnx`).
 *
 * Parameters frozen by `model.freeze` are not trained parameters but constants of the one training
 * graph every member shares, so they keep the job's initial values under both modes.
 */
import { buildForwardModel } from '../../shared/model/build.js';
import { toFloat32 } from '../../shared/onnx/tensor.js';
import type { BufferInfo, ParamInfo } from '../../shared/autodiff/compile-types.js';
import { jobModelSpec, type LoadedJob } from '../job/load.js';
import { EnsembleError } from './ensemble-errors.js';

/** A member's parameters and buffers with their initial values. */
export interface MemberInitials {
  params: ParamInfo[];
  buffers: BufferInfo[];
}

/**
 * Draws initial values for `job`'s parameters and buffers with a given init seed. The spec is
 * read once, here; each call builds the model again with its seed. Throws EnsembleError for a job
 * whose model is an ONNX file, or whose spec no longer gives the job's parameters (a spec file
 * changed after the job loaded).
 */
export function initialValuesDrawer(job: LoadedJob): (initSeed: number) => MemberInitials {
  const found = jobModelSpec(job.config, job.baseDir, job.paths);
  if (!found) throw new EnsembleError(`ensemble.init per_member needs a model spec to draw each member's weights from; model.onnx (${job.config.model.onnx}) brings its own initial weights (use init: shared)`);
  const { spec, from } = found;
  return (initSeed) => {
    const drawn = new Map((buildForwardModel(spec, { seed: initSeed }).model.graph?.initializer ?? []).map((t) => [t.name, t]));
    const redraw = <T extends { name: string; init: Float32Array }>(info: T): T => {
      const tensor = drawn.get(info.name);
      const values = tensor ? toFloat32(tensor) : undefined;
      if (values?.length !== info.init.length) {
        throw new EnsembleError(
          `ensemble.init per_member: the model spec (${from}) ${values ? `gives '${info.name}' ${values.length} values, the job's model ${info.init.length}` : `has no '${info.name}', which the job's model trains`}; was it changed after the job loaded?`,
        );
      }
      return { ...info, init: values };
    };
    return { params: job.training.params.map(redraw), buffers: job.training.buffers.map(redraw) };
  };
}
