/**
 * Checks an ONNX model from outside (a job's `model.onnx`, `gradfleet compile <file>`) before
 * anything uses it (docs/security-inputs.md, "ONNX models"):
 *
 *   - the file is no larger than a limit (default 2 GiB, protobuf's own; $GRADFLEET_MAX_MODEL_BYTES
 *     or an option sets another), checked before it is read;
 *   - it decodes as a ModelProto that has a graph and an IR version;
 *   - it imports the default (ai.onnx) opset, once, at a version gradfleet compiles (MIN_OPSET..MAX_OPSET);
 *   - its graph is well formed: every node input is a graph input, an initializer or the output
 *     of an EARLIER node (topological order; subgraphs may also read the names visible where
 *     they are used); every graph output is produced; no name is produced twice (graph inputs,
 *     initializers, node outputs), no input, initializer or output is listed twice; at least one output;
 *   - no initializer keeps its data in an external file (a path the model would choose).
 *
 * Each failure is one OnnxFormatError that names the problem and the value, node or field.
 */
import { statSync } from 'node:fs';
import { TensorProto_DataLocation, type GraphProto, type ModelProto } from '../proto/gen/onnx.js';
import { OnnxFormatError } from './errors.js';

/** The largest model file read unless configured otherwise: 2 GiB, the protobuf message limit. */
export const DEFAULT_MAX_MODEL_BYTES = 2 * 1024 ** 3;
/** Environment variable with another limit, in bytes. */
export const MAX_MODEL_BYTES_ENV = 'GRADFLEET_MAX_MODEL_BYTES';

export interface ModelCheckOptions {
  /** Largest file accepted, in bytes (default: $GRADFLEET_MAX_MODEL_BYTES, else DEFAULT_MAX_MODEL_BYTES). */
  maxBytes?: number;
  /** Accepted default-domain opsets (inclusive). */
  minOpset: number;
  maxOpset: number;
}

/** The size limit in force: the option, else the environment's, else the default. */
export function maxModelBytes(option?: number, env: NodeJS.ProcessEnv = process.env): number {
  if (option !== undefined) return option;
  const raw = env[MAX_MODEL_BYTES_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_MODEL_BYTES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new OnnxFormatError(`${MAX_MODEL_BYTES_ENV} must be a positive whole number of bytes, got '${raw}'`);
  return n;
}

/** Refuses a file larger than `limit` bytes (before reading it), or one that is not a regular file. */
export function checkModelFileSize(path: string, limit: number): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new OnnxFormatError(`cannot read ONNX model '${path}': not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof OnnxFormatError) throw e;
    throw new OnnxFormatError(`cannot read ONNX model '${path}': ${(e as Error).message}`, { cause: e });
  }
  if (size > limit) throw new OnnxFormatError(`${path}: the model file is ${size} bytes, larger than the limit of ${limit} bytes (set ${MAX_MODEL_BYTES_ENV} to allow more)`);
  if (size === 0) throw new OnnxFormatError(`${path}: not an ONNX model: the file is empty`);
}

/** Checks a decoded model as the header says; throws OnnxFormatError naming the first problem. */
export function checkModel(model: ModelProto, o: ModelCheckOptions): void {
  if (!model.graph) throw new OnnxFormatError('not an ONNX model: it has no graph');
  if (!model.irVersion || model.irVersion < 3) throw new OnnxFormatError(`the model has no valid ir_version (got ${model.irVersion}); ONNX files written by an exporter have one (3 or later)`);
  const defaults = model.opsetImport.filter((op) => op.domain === '' || op.domain === 'ai.onnx');
  if (defaults.length === 0) throw new OnnxFormatError(`the model has no opset_import for the default domain (ai.onnx); gradfleet compiles opsets ${o.minOpset} to ${o.maxOpset}`);
  if (defaults.length > 1) throw new OnnxFormatError(`the model imports the default domain (ai.onnx) opset ${defaults.length} times (${defaults.map((d) => d.version).join(', ')})`);
  const version = defaults[0]!.version;
  if (!Number.isInteger(version) || version < o.minOpset || version > o.maxOpset)
    throw new OnnxFormatError(`the model imports ai.onnx opset ${version}, which is unsupported: gradfleet compiles opsets ${o.minOpset} to ${o.maxOpset} (re-export with opset_version=${o.maxOpset})`);
  if (model.graph.output.length === 0) throw new OnnxFormatError('the graph has no outputs');
  checkGraph(model.graph, new Set(), 'the graph');
}

/**
 * One graph: `outer` holds the names visible from enclosing graphs (for the subgraphs of If,
 * Loop, Scan); `where` says which graph, for messages.
 */
function checkGraph(graph: GraphProto, outer: ReadonlySet<string>, where: string): void {
  const once = (names: string[], what: string) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (n === '') throw new OnnxFormatError(`${where}: a ${what} has an empty name`);
      if (seen.has(n)) throw new OnnxFormatError(`${where}: duplicate ${what} name '${n}'`);
      seen.add(n);
    }
  };
  once(graph.input.map((v) => v.name), 'graph input');
  once(graph.initializer.map((t) => t.name), 'initializer');
  once(graph.output.map((v) => v.name), 'graph output');

  for (const t of graph.initializer) {
    if (t.dataLocation === TensorProto_DataLocation.EXTERNAL || t.externalData.length > 0) {
      const location = t.externalData.find((e) => e.key === 'location')?.value;
      throw new OnnxFormatError(`${where}: initializer '${t.name}' keeps its data in an external file${location === undefined ? '' : ` ('${location}')`}; gradfleet reads self-contained models only (save with save_as_external_data=False)`);
    }
  }

  // Who produced each name: for messages about a name produced twice.
  const producer = new Map<string, string>();
  for (const v of graph.input) producer.set(v.name, 'a graph input');
  // An initializer may also be listed as a graph input (IR < 4, keep_initializers_as_inputs).
  for (const t of graph.initializer) if (!producer.has(t.name)) producer.set(t.name, 'an initializer');
  for (const s of graph.sparseInitializer) {
    const name = s.values?.name;
    if (name) {
      if (producer.has(name) && producer.get(name) !== 'a graph input') throw new OnnxFormatError(`${where}: duplicate initializer name '${name}' (a sparse initializer)`);
      producer.set(name, 'a sparse initializer');
    }
  }
  const visible = (n: string) => producer.has(n) || outer.has(n);

  graph.node.forEach((node, i) => {
    const label = `node ${i}${node.name ? ` '${node.name}'` : ''} (${node.opType || 'no op_type'})`;
    if (!node.opType) throw new OnnxFormatError(`${where}: ${label} has no op_type`);
    for (const input of node.input) {
      // '' is an optional input left out.
      if (input !== '' && !visible(input)) throw new OnnxFormatError(`${where}: ${label} reads '${input}', which no earlier node, initializer or graph input produces (a dangling input, or nodes out of topological order)`);
    }
    for (const a of node.attribute) {
      const subs = [...(a.g ? [a.g] : []), ...a.graphs];
      if (subs.length === 0) continue;
      const scope = new Set<string>([...outer, ...producer.keys()]);
      subs.forEach((g, k) => checkGraph(g, scope, `${where}, ${label} attribute '${a.name}'${subs.length > 1 ? ` [${k}]` : ''}`));
    }
    for (const output of node.output) {
      if (output === '') continue; // an optional output left out
      const before = producer.get(output);
      if (before !== undefined) throw new OnnxFormatError(`${where}: ${label} outputs '${output}', a name already produced by ${before} (duplicate name)`);
      producer.set(output, label);
    }
  });

  for (const out of graph.output) {
    if (!visible(out.name)) throw new OnnxFormatError(`${where}: graph output '${out.name}' is produced by no node, initializer or graph input`);
  }
}
