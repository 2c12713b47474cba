import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvSource, type CsvConfig } from '../../shared/data/csv.js';
import { parseCsv } from '../../shared/data/csv-parse.js';
import { DataFormatError } from '../../shared/data/errors.js';
import { csvConfigSchema } from '../../shared/data/csv.js';

const dir = mkdtempSync(join(tmpdir(), 'gradfleet-csv-'));
let fileNo = 0;
function csv(text: string): string {
  const file = join(dir, `t${fileNo++}.csv`);
  writeFileSync(file, text);
  return file;
}
const config = (c: Record<string, unknown>): CsvConfig => csvConfigSchema.parse(c);
const load = (c: Record<string, unknown>) => csvSource.load(config(c), { baseDir: dir });

describe('CSV reader', () => {
  it('handles quotes, escaped quotes, newlines inside quotes, CRLF, a BOM and blank lines, keeping start lines', () => {
    const recs = parseCsv('\ufeffa,b\r\n1,"x, ""y"""\r\n\r\n2,"two\nlines"\n3,\n', 'f.csv');
    expect(recs).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', 'x, "y"'] },
      { line: 4, fields: ['2', 'two\nlines'] },
      { line: 6, fields: ['3', ''] },
    ]);
    expect(parseCsv('a;b\n1;2', 'f.csv', ';')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });

  it('rejects an unclosed quote and text after a closing quote, with the line', () => {
    expect(() => parseCsv('a,b\n1,"open\n2,3\n', 'f.csv')).toThrow('f.csv:2: a quoted field is never closed');
    expect(() => parseCsv('a,b\n1,"x"y\n', 'f.csv')).toThrow('f.csv:2: unexpected "y" after a closing quote');
  });
});

describe('CSV source', () => {
  it('classification with integer labels: features in column order without the label, classes = max + 1', async () => {
    const path = csv('f1,label,f2\n0.5,2,1\n-1,0,2.5\n3,1,0\n');
    const { train, test } = await load({ source: 'csv', path, label_column: 'label' });
    expect(test).toBeUndefined();
    expect(train.size).toBe(3);
    expect(train.featureShape).toEqual([2]);
    expect(Array.from(train.features)).toEqual([0.5, 1, -1, 2.5, 3, 0]);
    expect(train.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(train.labels)).toEqual([2, 0, 1]);
    expect(train.numClasses).toBe(3);
    expect(train.classNames).toBeUndefined();
  });

  it('classification with string labels: sorted class names, shared with the test file', async () => {
    const path = csv('x,y,species\n1,2,versicolor\n3,4,setosa\n5,6,virginica\n7,8,setosa\n');
    const test_path = csv('x,y,species\n1,1,virginica\n2,2,setosa\n');
    const { train, test } = await load({ source: 'csv', path, test_path, label_column: 'species', feature_columns: ['y', 'x'] });
    expect(train.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(train.labels)).toEqual([1, 0, 2, 0]);
    expect(Array.from(train.features)).toEqual([2, 1, 4, 3, 6, 5, 8, 7]);
    expect(test!.classNames).toEqual(train.classNames);
    expect(Array.from(test!.labels)).toEqual([2, 0]);
  });

  it('regression with several target columns: float targets, targetWidth = column count', async () => {
    const path = csv('a,b,t1,t2\n1,2,0.5,10\n3,4,-0.5,20\n');
    const { train } = await load({ source: 'csv', path, label_column: ['t1', 't2'], task: 'regression' });
    expect(train.numClasses).toBeUndefined();
    expect(train.targetWidth).toBe(2);
    expect(train.labels).toBeInstanceOf(Float32Array);
    expect(Array.from(train.labels)).toEqual([0.5, 10, -0.5, 20]);
    expect(Array.from(train.features)).toEqual([1, 2, 3, 4]);
  });

  it('names file and line for a row with the wrong number of fields', async () => {
    const path = csv('a,b,label\n1,2,0\n3,4\n5,6,1\n');
    await expect(load({ source: 'csv', path, label_column: 'label' })).rejects.toThrow(`${path}:3: expected 3 fields (as the header), got 2`);
  });

  it('names file, line and column for a value that is not a number or is empty', async () => {
    const path = csv('a,b,label\n1,2,0\n3,"four",1\n');
    const err = await load({ source: 'csv', path, label_column: 'label' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect((err as DataFormatError).line).toBe(3);
    expect((err as Error).message).toBe(`${path}:3: column 'b' is not a number: 'four'`);
    await expect(load({ source: 'csv', path: csv('a,t\n1,2\n,3\n'), label_column: 't', task: 'regression' })).rejects.toThrow(/:3: column 'a' is empty/);
    await expect(load({ source: 'csv', path: csv('a,t\n1,2\n2,x\n'), label_column: 't', task: 'regression' })).rejects.toThrow(/:3: column 't' is not a number: 'x'/);
  });

  it('rejects a missing label column, a header-only file and duplicate header names', async () => {
    await expect(load({ source: 'csv', path: csv('a,b\n1,2\n'), label_column: 'y' })).rejects.toThrow(/:1: label column 'y' is not in the header \(columns: a, b\)/);
    await expect(load({ source: 'csv', path: csv('a,b\n'), label_column: 'b' })).rejects.toThrow(/the file has a header but no data rows/);
    await expect(load({ source: 'csv', path: csv('a,a,b\n1,2,3\n'), label_column: 'b' })).rejects.toThrow(/:1: column 'a' appears twice in the header/);
  });

  it('the config schema allows several label columns only for regression', () => {
    const r = csvConfigSchema.safeParse({ source: 'csv', path: 'x.csv', label_column: ['a', 'b'] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain('classification takes one label column');
  });
});
