/** Errors raised while differentiating a graph. */
import { OnnxError } from '../onnx/errors.js';

/** The graph uses an op that has no gradient rule (or no shape rule) in the registry. */
export class UnsupportedOpError extends OnnxError {
  override name = 'UnsupportedOpError';
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly domain: string,
    readonly supported: readonly string[],
  ) {
    super(
      `unsupported op '${domain ? domain + '.' : ''}${opType}' (node '${nodeName}'): gradfleet has no gradient rule for it. ` +
        `Supported ops: ${supported.join(', ')}`,
    );
  }
}

/** A gradient rule was asked for something it cannot differentiate (e.g. a non-constant exponent). */
export class GradientError extends OnnxError {
  override name = 'GradientError';
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    message: string,
  ) {
    super(`cannot differentiate ${opType} node '${nodeName}': ${message}`);
  }
}

/** The compile request does not fit the model (missing output, unknown parameter, bad loss). */
export class CompileError extends OnnxError {
  override name = 'CompileError';
}
