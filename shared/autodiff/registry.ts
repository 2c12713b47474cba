/**
 * One table: ONNX op type -> { shape rule, gradient rule }.
 * A gradient rule is a pure function that emits standard ONNX nodes through a GraphBuilder and
 * returns the gradient tensor name for each input (undefined where none flows). It never runs
 * anything. Ops listed with `grad: 'none'` produce values no gradient flows through (Shape,
 * comparisons, ArgMax); an op missing from the table fails compilation with its name, its node
 * and the supported list (see UnsupportedOpError).
 *
 * Rules live in rules/<family>.ts; this file only wires them together.
 */
import type { NodeProto } from '../proto/gen/onnx.js';
import type { GraphBuilder } from '../onnx/builder.js';
import type { TensorInfo } from '../onnx/shapes.js';
import { UnsupportedOpError } from './errors.js';

export interface InferContext {
  readonly node: NodeProto;
  readonly opset: number;
  /** Info of input i; undefined for an omitted optional input. */
  input(i: number): TensorInfo | undefined;
  /** Values of input i when it is a constant (initializer or Constant node), for Reshape etc. */
  constant(i: number): number[] | undefined;
}

export interface GradContext {
  readonly node: NodeProto;
  readonly b: GraphBuilder;
  readonly opset: number;
  /** Forward input name i ('' when omitted). */
  x(i: number): string;
  /** Forward output name i. */
  y(i: number): string;
  /** Gradient flowing into forward output i, or undefined when none does. */
  dy(i: number): string | undefined;
  /** Whether input i needs a gradient (lies between a parameter and the loss). */
  needs(i: number): boolean;
  /** Static info of any forward tensor by name. */
  info(name: string): TensorInfo;
  /** Values of a forward tensor when it is constant. */
  constant(name: string): number[] | undefined;
}

export type InferRule = (ctx: InferContext) => TensorInfo[];
export type GradRule = (ctx: GradContext) => (string | undefined)[];

export interface OpRule {
  infer: InferRule;
  /** 'none': no gradient flows through this op (its outputs are treated as constants). */
  grad: GradRule | 'none';
  /**
   * Inputs that never receive a gradient even when they are float (shape arguments, ratios,
   * constant exponents). The compiler never makes an initializer feeding only such slots a
   * trainable parameter, and the backward walk does not ask the rule for them.
   */
  nondiff?: readonly number[];
}

export type RuleTable = Record<string, OpRule>;

const table = new Map<string, OpRule>();

/** Adds a family's rules; a second registration of an op is a programming error. */
export function registerRules(rules: RuleTable): void {
  for (const [op, rule] of Object.entries(rules)) {
    if (table.has(op)) throw new Error(`gradient rule for ${op} registered twice`);
    table.set(op, rule);
  }
}

export function supportedOps(): string[] {
  return [...table.keys()].sort();
}

export function hasRule(opType: string, domain = ''): boolean {
  return (domain === '' || domain === 'ai.onnx') && table.has(opType);
}

/** The rule for a node, or UnsupportedOpError naming the op, the node and what is supported. */
export function ruleFor(node: NodeProto): OpRule {
  const rule = node.domain === '' || node.domain === 'ai.onnx' ? table.get(node.opType) : undefined;
  if (!rule) throw new UnsupportedOpError(node.opType, node.name, node.domain, supportedOps());
  return rule;
}
