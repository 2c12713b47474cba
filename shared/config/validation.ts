/**
 * Turns zod issues into messages that name the field and the bad value:
 * "optimizer.lr must be > 0, got -1". With a YAML source, the line and column are added.
 */
import type { z } from 'zod';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

function pathString(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function describe(issue: z.core.$ZodIssue): string {
  const i = issue as z.core.$ZodIssue & { minimum?: number | bigint; maximum?: number | bigint; inclusive?: boolean; keys?: string[]; values?: unknown[]; expected?: string };
  switch (i.code) {
    case 'too_small':
      return `must be ${i.inclusive ? '>=' : '>'} ${i.minimum}`;
    case 'too_big':
      return `must be ${i.inclusive ? '<=' : '<'} ${i.maximum}`;
    case 'unrecognized_keys':
      return `has unknown field${i.keys!.length > 1 ? 's' : ''} ${i.keys!.map((k) => `'${k}'`).join(', ')}`;
    case 'invalid_value':
      return `must be one of ${i.values!.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return `must be ${i.expected === 'number' ? 'a number' : i.expected === 'object' ? 'a mapping' : i.expected === 'array' ? 'a list' : `a ${i.expected}`}`;
    default:
      return i.message;
  }
}

/** Position of a path in YAML source text, as "line:col". */
function yamlPosition(text: string, path: readonly PropertyKey[]): string | undefined {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  let node: Node | null | undefined = doc.contents as Node;
  for (const k of path) {
    if (isMap(node)) node = node.get(k as string, true) as Node | undefined;
    else if (isSeq(node)) node = node.get(k as number, true) as Node | undefined;
    else break;
  }
  if (!node?.range) return undefined;
  const p = lc.linePos(node.range[0]);
  return `${p.line}:${p.col}`;
}

/** Parses `input` with `schema`, or throws ConfigError listing every problem by field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, source: string, yamlText?: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    const field = pathString(issue.path) || '(top level)';
    const got = issue.code === 'unrecognized_keys' ? '' : `, got ${show(valueAt(input, issue.path))}`;
    const where = yamlText ? yamlPosition(yamlText, issue.path) : undefined;
    return `${field} ${describe(issue)}${got}${where ? ` (line ${where})` : ''}`;
  });
  throw new ConfigError(source, problems);
}
