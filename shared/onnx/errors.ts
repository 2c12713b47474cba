/** Errors raised while reading, building or validating ONNX graphs. */
export class OnnxError extends Error {
  override name = 'OnnxError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The bytes or fields of a model are not what ONNX allows (or what gradfleet reads). */
export class OnnxFormatError extends OnnxError {
  override name = 'OnnxFormatError';
}

/** A node's inputs, attributes or shapes do not fit its op's contract. */
export class OnnxShapeError extends OnnxError {
  override name = 'OnnxShapeError';
  constructor(
    readonly nodeName: string,
    readonly opType: string,
    message: string,
  ) {
    super(`${opType} node '${nodeName}': ${message}`);
  }
}
