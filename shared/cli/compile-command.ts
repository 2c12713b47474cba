/**
 * `gradfleet compile`: forward model → training graph file.
 *
 *   gradfleet compile model.onnx -o train.onnx --loss cross-entropy [--logits out] [--correct]
 *   gradfleet compile --model mlp.yaml -o train.onnx
 */
import { Option, type Command } from '@commander-js/extra-typings';
import { readModel, writeModel } from '../onnx/model.js';
import { compileTraining } from '../autodiff/compile.js';
import type { CompileOptions, HeadSpec, LossKind, TrainingGraph } from '../autodiff/compile-types.js';
import { loadModelSpec } from '../model/load.js';
import { buildForwardModel } from '../model/build.js';
import { CliUsageError } from './errors.js';

const LOSS_KINDS = ['cross-entropy', 'mse', 'bce'] as const satisfies readonly LossKind[];

export interface CompileCommandOptions {
  output: string;
  model?: string;
  loss?: LossKind;
  logits?: string;
  labels: string;
  labelSmoothing?: number;
  freeze?: string;
  reduction: 'mean' | 'sum';
  inputGrad: string[];
  correct?: boolean;
  dropout: 'mask-input' | 'native';
  seed?: number;
  /** Refuse forward ONNX files larger than this (default: $GRADFLEET_MAX_MODEL_BYTES, else 2 GiB). */
  maxModelBytes?: number;
}

export function registerCompileCommand(program: Command): void {
  program
    .command('compile')
    .description('compile a forward ONNX model (or a model spec) into a training graph that outputs the loss and grad:<param> for every parameter')
    .argument('[forward]', 'forward model (.onnx)')
    .requiredOption('-o, --output <file>', 'where to write the training graph (.onnx)')
    .option('--model <spec>', 'build the forward model from a model spec (.json, .yaml) instead of reading an ONNX file')
    .addOption(new Option('--loss <kind>', 'loss of the single head (required with an ONNX file)').choices(LOSS_KINDS))
    .option('--logits <name>', 'forward output the loss reads (default: the model\'s only output)')
    .option('--labels <name>', 'name of the labels input', 'labels')
    .option('--label-smoothing <eps>', 'cross-entropy label smoothing in [0, 1]', parseNumber('--label-smoothing'))
    .option('--freeze <regex>', 'initializers whose name matches stay fixed (no gradient)')
    .addOption(new Option('--reduction <kind>', "'mean' (PyTorch's default) or 'sum' over the batch").choices(['mean', 'sum'] as const).default('mean' as const))
    .option('--input-grad <name>', 'also output grad:<name> for this model input (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--correct', 'also output `correct`, the count of argmax(logits) == label')
    .addOption(new Option('--dropout <mode>', 'dropout masks as graph inputs (reproducible) or ONNX training dropout').choices(['mask-input', 'native'] as const).default('mask-input' as const))
    .option('--seed <n>', 'with --model: seed of the initial parameters (default: the spec\'s)', parseNumber('--seed'))
    .option('--max-model-bytes <n>', 'refuse a forward ONNX file larger than this (default: $GRADFLEET_MAX_MODEL_BYTES, else 2 GiB); the file is also checked: decodes, opset 13..17, well-formed graph', parseNumber('--max-model-bytes'))
    .action((forward, opts) => {
      const line = runCompile(forward, opts);
      process.stdout.write(`${line}\n`);
    });
}

/** Compiles as the options say, writes the training graph and returns the summary line. */
export function runCompile(forward: string | undefined, opts: CompileCommandOptions): string {
  if (opts.model !== undefined) return compileSpec(forward, opts.model, opts);
  if (forward === undefined) throw new CliUsageError('give a forward model file (compile <forward.onnx>) or --model <spec>');
  if (!opts.loss) throw new CliUsageError(`--loss is required with an ONNX file (one of ${LOSS_KINDS.join(', ')})`);
  const model = readModel(forward, opts.maxModelBytes === undefined ? {} : { maxBytes: opts.maxModelBytes });
  const outputs = model.graph!.output.map((o) => o.name);
  const logits = opts.logits ?? onlyOutput(outputs);
  const head: HeadSpec = { name: logits, logits, labels: opts.labels, loss: opts.loss, labelSmoothing: opts.labelSmoothing };
  const compiled = compileTraining(model, toCompileOptions([head], opts));
  writeModel(opts.output, compiled.model);
  return summary(forward, opts.output, compiled);
}

/** `--model <spec>`: the forward model and its heads come from the spec. */
function compileSpec(forward: string | undefined, specPath: string, opts: CompileCommandOptions): string {
  if (forward !== undefined) throw new CliUsageError(`give either a forward model file or --model, not both (got '${forward}' and --model ${specPath})`);
  const headFlags = (['loss', 'logits', 'labelSmoothing'] as const).filter((k) => opts[k] !== undefined);
  if (headFlags.length > 0) throw new CliUsageError(`--${headFlags.map(kebab).join(', --')}: with --model the heads (loss, logits, labels) come from the spec`);
  const built = buildForwardModel(loadModelSpec(specPath), opts.seed === undefined ? {} : { seed: opts.seed });
  const compiled = compileTraining(built.model, toCompileOptions(built.heads, opts));
  writeModel(opts.output, compiled.model);
  return summary(specPath, opts.output, compiled);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function toCompileOptions(heads: HeadSpec[], opts: CompileCommandOptions): CompileOptions {
  return {
    heads,
    freeze: opts.freeze === undefined ? undefined : parseRegex(opts.freeze),
    reduction: opts.reduction,
    inputGradients: opts.inputGrad.length > 0 ? opts.inputGrad : undefined,
    correct: opts.correct ?? false,
    dropout: opts.dropout,
  };
}

function onlyOutput(outputs: string[]): string {
  if (outputs.length === 1) return outputs[0]!;
  throw new CliUsageError(`the model has ${outputs.length} outputs (${outputs.join(', ') || 'none'}); choose the one the loss reads with --logits`);
}

function parseRegex(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (e) {
    throw new CliUsageError(`--freeze: ${(e as Error).message}`);
  }
}

function parseNumber(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new CliUsageError(`${flag} must be a number, got '${v}'`);
    return n;
  };
}

/** One line: what was written, how many parameters, which outputs. */
function summary(from: string, to: string, g: TrainingGraph): string {
  const values = g.params.reduce((n, p) => n + p.init.length, 0);
  const heads = g.outputs.headLosses.map((h) => h.slice('loss:'.length)).join(', ');
  const outputs = [
    g.outputs.loss,
    ...g.outputs.headLosses,
    ...g.outputs.headNormalizers,
    ...(g.outputs.correct ? [g.outputs.correct] : []),
    `${g.params.length} × grad:<param>`,
    ...g.outputs.inputGrads,
    ...(g.buffers.length > 0 ? [`${g.buffers.length} × state:<buffer>`] : []),
  ];
  const masks = g.dropoutMasks.length > 0 ? `, ${g.dropoutMasks.length} dropout mask input(s)` : '';
  return `compiled ${from} → ${to}: ${g.params.length} params (${values.toLocaleString('en-US')} values), ${g.buffers.length} buffers${masks}; heads: ${heads}; outputs: ${outputs.join(', ')}; opset ${g.opset}`;
}
