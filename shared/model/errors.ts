/** Errors raised while reading, validating or building a model spec. */

/** One thing wrong with a spec, at a field path such as `layers[2].units`. */
export interface SpecIssue {
  /** Field path in the spec, e.g. ['layers', 2, 'units']. */
  readonly path: readonly (string | number)[];
  /** Full sentence naming the field and the bad value. */
  readonly message: string;
  /** 1-based line and column in the source file, where known. */
  readonly line?: number;
  readonly column?: number;
}

/** The model spec is invalid: each issue names the field path and the bad value. */
export class ModelSpecError extends Error {
  override name = 'ModelSpecError';
  constructor(
    readonly issues: readonly SpecIssue[],
    /** The file the spec came from, when it came from one. */
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(formatIssues(issues, file), options);
  }
}

/** `layers[2].units` from ['layers', 2, 'units']. */
export function formatPath(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s || 'the spec';
}

function formatIssues(issues: readonly SpecIssue[], file?: string): string {
  const where = (i: SpecIssue) => (file ? `${file}${i.line !== undefined ? `:${i.line}:${i.column}` : ''}: ` : i.line !== undefined ? `${i.line}:${i.column}: ` : '');
  if (issues.length === 1) return `invalid model spec: ${where(issues[0]!)}${issues[0]!.message}`;
  return `invalid model spec (${issues.length} problems):\n${issues.map((i) => `  - ${where(i)}${i.message}`).join('\n')}`;
}
