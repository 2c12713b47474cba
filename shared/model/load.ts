/**
 * Reading a model spec from an object, a JSON/YAML string or a file, and validating it: the zod
 * schema for each field, then planModel for what spans fields (shapes, shared weights, heads).
 * Errors name the field path and bad value; from text they also carry line:column (yaml's
 * LineCounter; JSON is read through the same YAML parser for positions only).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ModelSpecError, type SpecIssue } from './errors.js';
import { planModel, type ModelPlan } from './plan.js';
import { issuesFromZod, modelSpecSchema, type ModelSpec, type ModelSpecInput } from './spec.js';

/** Validates a spec object; returns it with defaults filled in. Throws ModelSpecError. */
export function parseModelSpec(raw: unknown): ModelSpec {
  return validateModelSpec(raw).spec;
}

/** Validates a spec object and returns its plan as well (build.ts uses both). */
export function validateModelSpec(raw: ModelSpecInput | ModelSpec | unknown): { spec: ModelSpec; plan: ModelPlan } {
  const r = modelSpecSchema.safeParse(raw);
  if (!r.success) throw new ModelSpecError(issuesFromZod(r.error, raw));
  return { spec: r.data, plan: planModel(r.data) };
}

export type SpecFormat = 'json' | 'yaml';

/** Parses and validates spec text; `file` names it in messages. */
export function parseModelSpecText(text: string, format: SpecFormat, file?: string): ModelSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  let raw: unknown;
  if (format === 'json') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ModelSpecError([{ path: [], message: `not valid JSON: ${(e as Error).message}` }], file, { cause: e });
    }
  } else {
    if (doc.errors.length > 0) {
      const issues = doc.errors.map((err): SpecIssue => {
        const pos = lines.linePos(err.pos[0]);
        return { path: [], message: `not valid YAML: ${err.message.split('\n')[0]}`, line: pos.line, column: pos.col };
      });
      throw new ModelSpecError(issues, file);
    }
    raw = doc.toJS();
  }
  try {
    return parseModelSpec(raw);
  } catch (e) {
    if (!(e instanceof ModelSpecError)) throw e;
    // JSON positions come from the YAML parse; a JSON file YAML cannot read just has none.
    const located = doc.errors.length === 0 ? e.issues.map((i) => locate(i, doc, lines)) : e.issues;
    throw new ModelSpecError(located, file, { cause: e });
  }
}

/** Reads a .json, .yaml or .yml model spec. Throws ModelSpecError naming file:line:column. */
export function loadModelSpec(path: string): ModelSpec {
  const ext = extname(path).toLowerCase();
  const format: SpecFormat | undefined = ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : undefined;
  if (!format) throw new ModelSpecError([{ path: [], message: `unknown model spec file type '${ext || '(none)'}': use .json, .yaml or .yml` }], path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ModelSpecError([{ path: [], message: `cannot read the file: ${(e as Error).message}` }], path, { cause: e });
  }
  return parseModelSpecText(text, format, path);
}

/** Adds the line:column of the deepest node on the issue's path that the document has. */
function locate(issue: SpecIssue, doc: Document, lines: LineCounter): SpecIssue {
  for (let n = issue.path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(issue.path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return { ...issue, line: pos.line, column: pos.col };
    }
  }
  return issue;
}
