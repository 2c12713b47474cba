/**
 * CSV source: a header row, one or more label columns and numeric feature columns.
 * Classification (one label column): labels that are all non-negative integers are class
 * indices; otherwise each distinct string is a class, numbered in sorted order (classNames).
 * Regression: the label columns are float targets (targetWidth = their count).
 * Bad rows fail with the file and line: wrong field count, a non-numeric or empty value.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Dataset } from './dataset.js';
import { dataPath, type DatasetSource, type LoadedData, type SourceEnv } from './source.js';
import { parseCsv, type CsvRecord } from './csv-parse.js';
import { DataFormatError } from './errors.js';
import { pathField, shapeField, splitField } from './fields.js';
import { withFeatureShape } from './reshape.js';

const columnName = z.string({ error: 'must be a column name' }).min(1, { error: 'must be a column name' });

export const csvConfigSchema = z
  .strictObject({
    source: z.literal('csv'),
    path: pathField,
    /** A separate test file with the same header. */
    test_path: pathField.optional(),
    /** The target column (classification), or one or more (regression). */
    label_column: z.union([columnName, z.array(columnName).min(1, { error: 'must list at least one column' })], { error: 'must be a column name or a list of them' }),
    /** Default: every column that is not a label. */
    feature_columns: z.array(columnName, { error: 'must be a list of column names' }).min(1, { error: 'must list at least one column' }).optional(),
    task: z.enum(['classification', 'regression'], { error: "must be 'classification' or 'regression'" }).default('classification'),
    delimiter: z.string({ error: 'must be one character' }).length(1, { error: 'must be one character' }).default(','),
    shape: shapeField,
    split: splitField,
  })
  .refine((c) => c.task === 'regression' || typeof c.label_column === 'string' || c.label_column.length === 1, {
    error: 'classification takes one label column; use task: regression for several targets',
    path: ['label_column'],
  });
export type CsvConfig = z.output<typeof csvConfigSchema>;

interface Table {
  file: string;
  header: string[];
  rows: CsvRecord[];
}

async function readTable(file: string, delimiter: string): Promise<Table> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DataFormatError(file, undefined, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  const records = parseCsv(text, file, delimiter);
  if (records.length === 0) throw new DataFormatError(file, undefined, 'the file is empty; expected a header row');
  const header = records[0]!.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new DataFormatError(file, records[0]!.line, `column '${h}' appears twice in the header`);
    seen.add(h);
  }
  const rows = records.slice(1);
  if (rows.length === 0) throw new DataFormatError(file, undefined, 'the file has a header but no data rows');
  for (const r of rows) {
    if (r.fields.length !== header.length) throw new DataFormatError(file, r.line, `expected ${header.length} fields (as the header), got ${r.fields.length}`);
  }
  return { file, header, rows };
}

function columnIndex(t: Table, name: string, role: string): number {
  const i = t.header.indexOf(name);
  if (i < 0) throw new DataFormatError(t.file, 1, `${role} column '${name}' is not in the header (columns: ${t.header.join(', ')})`);
  return i;
}

function number(t: Table, r: CsvRecord, col: number): number {
  const s = r.fields[col]!.trim();
  const v = s === '' ? Number.NaN : Number(s);
  if (!Number.isFinite(v)) throw new DataFormatError(t.file, r.line, `column '${t.header[col]}' ${s === '' ? 'is empty' : `is not a number: '${s}'`}`);
  return v;
}

/** Class coding for the label column: integer indices, or sorted distinct strings. */
interface Classes {
  numClasses: number;
  index: (t: Table, r: CsvRecord, col: number) => number;
  names?: string[];
}

function classCoding(tables: Table[], labelCols: number[]): Classes {
  const values = new Set<string>();
  tables.forEach((t, k) => t.rows.forEach((r) => values.add(r.fields[labelCols[k]!]!.trim())));
  if ([...values].every((v) => /^\d+$/.test(v))) {
    const max = Math.max(...[...values].map(Number));
    return { numClasses: max + 1, index: (_t, r, col) => Number(r.fields[col]!.trim()) };
  }
  const emptyAt = tables.flatMap((t, k) => t.rows.filter((r) => r.fields[labelCols[k]!]!.trim() === '').map((r) => ({ t, r })))[0];
  if (emptyAt) throw new DataFormatError(emptyAt.t.file, emptyAt.r.line, `label column '${emptyAt.t.header[labelCols[0]!]}' is empty`);
  const names = [...values].sort();
  const code = new Map(names.map((n, i) => [n, i]));
  return { numClasses: names.length, names, index: (_t, r, col) => code.get(r.fields[col]!.trim())! };
}

function toDataset(name: string, t: Table, featureCols: number[], labelCols: number[], classes: Classes | undefined): Dataset {
  const size = t.rows.length;
  const width = featureCols.length;
  const features = new Float32Array(size * width);
  const labels = classes ? new Int32Array(size) : new Float32Array(size * labelCols.length);
  t.rows.forEach((r, i) => {
    for (let j = 0; j < width; j++) features[i * width + j] = number(t, r, featureCols[j]!);
    if (classes) labels[i] = classes.index(t, r, labelCols[0]!);
    else for (let j = 0; j < labelCols.length; j++) labels[i * labelCols.length + j] = number(t, r, labelCols[j]!);
  });
  return {
    name,
    size,
    featureShape: [width],
    numClasses: classes?.numClasses,
    features,
    labels,
    targetWidth: classes ? 1 : labelCols.length,
    ...(classes?.names ? { classNames: classes.names } : {}),
  };
}

export const csvSource: DatasetSource<CsvConfig> = {
  kind: 'csv',
  async load(config: CsvConfig, env: SourceEnv): Promise<LoadedData> {
    const files = [dataPath(env, 'path', config.path), ...(config.test_path ? [dataPath(env, 'test_path', config.test_path)] : [])];
    const tables = await Promise.all(files.map((f) => readTable(f, config.delimiter)));
    const labelNames = typeof config.label_column === 'string' ? [config.label_column] : config.label_column;
    const layout = tables.map((t) => {
      const labelCols = labelNames.map((n) => columnIndex(t, n, 'label'));
      const featureNames = config.feature_columns ?? t.header.filter((h) => !labelNames.includes(h));
      if (featureNames.length === 0) throw new DataFormatError(t.file, 1, `no feature columns: every column is a label (${labelNames.join(', ')})`);
      const clash = featureNames.find((f) => labelNames.includes(f));
      if (clash) throw new DataFormatError(t.file, 1, `column '${clash}' is both a feature and a label`);
      return { labelCols, featureCols: featureNames.map((n) => columnIndex(t, n, 'feature')) };
    });
    const classes = config.task === 'classification' ? classCoding(tables, layout.map((l) => l.labelCols[0]!)) : undefined;
    const datasets = tables.map((t, k) => {
      const ds = toDataset(k === 0 ? 'csv-train' : 'csv-test', t, layout[k]!.featureCols, layout[k]!.labelCols, classes);
      return config.shape ? withFeatureShape(ds, config.shape) : ds;
    });
    return datasets.length > 1 ? { train: datasets[0]!, test: datasets[1]! } : { train: datasets[0]! };
  },
};
