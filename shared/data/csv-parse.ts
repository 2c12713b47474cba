/**
 * A small RFC 4180 CSV reader: quoted fields ("" for a quote, newlines allowed inside quotes),
 * CRLF or LF line ends, a leading BOM, blank lines skipped. Each record keeps the line it
 * starts on, so errors can point at it.
 */
import { DataFormatError } from './errors.js';

export interface CsvRecord {
  /** 1-based line the record starts on. */
  line: number;
  fields: string[];
}

export function parseCsv(text: string, file: string, delimiter = ','): CsvRecord[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new DataFormatError(file, undefined, `delimiter must be one character other than a quote or a line end, got ${JSON.stringify(delimiter)}`);
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let start = line;
  let blank = true; // nothing on this record yet (a blank line is skipped, not a one-field record)
  const endRecord = () => {
    if (!blank) records.push({ line: start, fields: [...fields, field] });
    fields = [];
    field = '';
    blank = true;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (blank) start = line;
    if (ch === '"' && field === '') {
      blank = false;
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= text.length) throw new DataFormatError(file, quoteLine, 'a quoted field is never closed');
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n') line++;
        field += c;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') throw new DataFormatError(file, line, `unexpected ${JSON.stringify(next)} after a closing quote`);
      continue;
    }
    if (ch === delimiter) {
      blank = false;
      fields.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      endRecord();
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
    } else {
      blank = false;
      field += ch;
      i++;
    }
  }
  endRecord();
  return records;
}
