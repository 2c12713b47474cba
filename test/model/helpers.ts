/** Running a built forward model in onnxruntime-node, reading its initializers back, and the error a bad spec gets. */
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { parseModelSpec } from '../../shared/model/load.js';
import { ModelSpecError } from '../../shared/model/errors.js';
import { encodeModel, type ModelProto } from '../../shared/onnx/model.js';
import { toFloat32 } from '../../shared/onnx/tensor.js';

export async function runModel(model: ModelProto, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

export function initializer(model: ModelProto, name: string): Float32Array {
  const t = model.graph!.initializer.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer '${name}' (have ${model.graph!.initializer.map((i) => i.name).join(', ')})`);
  return toFloat32(t);
}

export function initializerBytes(model: ModelProto): Map<string, Buffer> {
  return new Map(model.graph!.initializer.map((t) => [t.name, Buffer.from(t.rawData)]));
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

export function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return s / (a.length - 1);
}

/** Pearson correlation of the first n values of a and b. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>, n = Math.min(a.length, b.length)): number {
  const as = Array.from({ length: n }, (_, i) => a[i]!);
  const bs = Array.from({ length: n }, (_, i) => b[i]!);
  const ma = mean(as);
  const mb = mean(bs);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (as[i]! - ma) * (bs[i]! - mb);
    saa += (as[i]! - ma) ** 2;
    sbb += (bs[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The ModelSpecError `raw` is rejected with (fails the test when it is accepted). */
export function specError(raw: unknown): ModelSpecError {
  try {
    parseModelSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelSpecError);
    return e as ModelSpecError;
  }
  throw new Error('expected the spec to be rejected');
}
