/**
 * GraphBuilder: appends nodes and constants to a graph under fresh, readable names.
 * Gradient rules, losses and the model-spec compiler all emit ONNX through it, so naming and
 * constant handling live in one place.
 */
import { NodeProto, type TensorProto } from '../proto/gen/onnx.js';
import { makeAttributes, type AttrValue } from './attributes.js';
import { float32Tensor, int64Tensor } from './tensor.js';

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly constCache = new Map<string, string>();

  /** @param taken names already in the graph, so that nothing new collides with them. */
  constructor(taken: Iterable<string> = [], readonly prefix = '') {
    for (const n of taken) this.used.add(n);
  }

  /** A name not used before, derived from `base`. */
  fresh(base: string): string {
    let name = this.prefix + base;
    for (let i = 1; this.used.has(name); i++) name = `${this.prefix}${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Marks a name as taken (for outputs named by the caller). */
  reserve(name: string): string {
    this.used.add(name);
    return name;
  }

  /**
   * Appends a node and returns its output names. `outputs` may be a count (fresh names) or the
   * exact names to use. Empty-string inputs stand for omitted optional inputs, as in ONNX.
   */
  add(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {}, outputs: number | readonly string[] = 1, hint?: string): string[] {
    const base = hint ?? opType.toLowerCase();
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? base : `${base}_out${i}`)) : outputs.map((o) => this.reserve(o));
    this.nodes.push(
      NodeProto.fromPartial({
        name: this.fresh(`${base}_node`),
        opType,
        domain: '',
        input: [...inputs],
        output: outs,
        attribute: makeAttributes(attrs),
      }),
    );
    return outs;
  }

  /** Appends a single-output node and returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {}, hint?: string): string {
    return this.add(opType, inputs, attrs, 1, hint)[0]!;
  }

  /** An int64 constant (1-D unless dims given), shared between callers asking for the same values. */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('i64', dims, values, () => int64Tensor('', dims, values));
  }

  /** A float32 constant; a scalar when dims is []. */
  floats(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant('f32', dims, values, () => float32Tensor('', dims, values));
  }

  scalar(value: number): string {
    return this.floats([value], []);
  }

  private constant(kind: string, dims: readonly number[], values: readonly number[], make: () => TensorProto): string {
    const key = `${kind}:${dims.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const t = make();
    t.name = this.fresh(`const_${kind}`);
    this.initializers.push(t);
    this.constCache.set(key, t.name);
    return t.name;
  }

  /** Adds an initializer under a chosen name. */
  initializer(t: TensorProto): string {
    this.reserve(t.name);
    this.initializers.push(t);
    return t.name;
  }
}
