/**
 * Inference export: the forward model with trained values written back into its initializers,
 * in eval mode (dropout off, batch norm on running statistics). No loss, no labels, no gradient:
 * a stock onnxruntime (or any ONNX runtime) loads it as it loaded the original.
 *
 * A quantization-aware model (shared/quantize/fake-quant.ts) exports as the plain float model:
 * its fake-quantization nodes are removed and the trained weights kept, so `gradfleet quantize`
 * quantizes it as any other.
 */
import type { ModelProto, TensorProto } from '../proto/gen/onnx.js';
import { DT, float32Tensor, tensorSize } from '../onnx/tensor.js';
import { toEvalMode } from './training-mode.js';
import { cloneModel } from './forward-model.js';
import { CompileError } from './errors.js';
import { hasFakeQuant, withoutFakeQuant } from '../quantize/fake-quant.js';

/**
 * Returns a copy of `forward` whose initializers named in `params` and `buffers` hold the given
 * values. Every name must be a float initializer of the model with the same number of values
 * (a typo would otherwise export untrained weights silently); initializers not named keep their
 * values (frozen weights, constants). Fake quantization is dropped (withoutFakeQuant).
 */
export function exportInference(forward: ModelProto, params: Map<string, Float32Array>, buffers: Map<string, Float32Array> = new Map()): ModelProto {
  const model = cloneModel(forward);
  const graph = model.graph;
  if (!graph) throw new CompileError('the model has no graph');
  const byName = new Map(graph.initializer.map((t, i) => [t.name, i]));
  for (const [what, values] of [['parameter', params], ['buffer', buffers]] as const) {
    for (const [name, data] of values) {
      const i = byName.get(name);
      if (i === undefined) throw new CompileError(`${what} '${name}' is not an initializer of the model`);
      graph.initializer[i] = replaced(graph.initializer[i]!, data, what);
    }
  }
  toEvalMode(graph);
  return hasFakeQuant(model) ? withoutFakeQuant(model) : model;
}

function replaced(t: TensorProto, data: Float32Array, what: string): TensorProto {
  if (t.dataType !== DT.FLOAT) throw new CompileError(`${what} '${t.name}' is a ${DT[t.dataType] ?? t.dataType} initializer; only float32 ones take trained values`);
  if (tensorSize(t) !== data.length) throw new CompileError(`${what} '${t.name}' has ${tensorSize(t)} values in the model ([${t.dims}]), got ${data.length}`);
  return float32Tensor(t.name, t.dims, data);
}
