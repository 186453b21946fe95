import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** A header longer than this is not a header: the file is probably not CSV (or a quote is never closed). */
const maxHeaderChars = 1 << 20;

/**
 * The fields of a CSV file's first record (RFC 4180: `,` separated, `"` quoted, `""` inside quotes), read without
 * loading the file: DuckDB's reader needs the column list up front to report malformed rows by line number instead of
 * guessing a different dialect. Undefined when the file has no characters.
 */
export async function readCsvHeader(file: string): Promise<string[] | undefined> {
  const [first] = await readRecords(file, 1);
  return first === undefined ? undefined : splitRecord(first);
}

/** Whether the file has a record after its header (line breaks inside quotes do not end one). */
export async function hasDataRecord(file: string): Promise<boolean> {
  return (await readRecords(file, 2)).length > 1;
}

/** What a spreadsheet may separate values with instead of the comma, with its name for messages. */
const otherSeparators: readonly { char: string; name: string }[] = [
  { char: ';', name: 'semicolons' },
  { char: '\t', name: 'tabs' },
  { char: '|', name: 'vertical bars (|)' },
];

/** Data rows looked at to tell whether a file agrees on another separator than the comma. */
const separatorSampleRows = 100;

/**
 * The separator a file seems to use instead of the comma: its header is one column (read with commas) holding it, and
 * each of its first data rows splits by it into as many fields as the header does. Undefined for any other file.
 */
export async function otherSeparator(
  file: string,
  header: string[],
): Promise<{ name: string; fields: number; rows: number } | undefined> {
  if (header.length !== 1) return undefined;
  const candidates = otherSeparators.filter((s) => header[0]!.includes(s.char));
  if (candidates.length === 0) return undefined;
  const [first = '', ...rows] = await readRecords(file, separatorSampleRows + 1);
  if (rows.length === 0) return undefined;
  for (const { char, name } of candidates) {
    const fields = splitRecord(first, char).length;
    // One field: the character is only inside quotes (a one-column file whose values hold it).
    if (fields > 1 && rows.every((row) => splitRecord(row, char).length === fields))
      return { name, fields, rows: rows.length };
  }
  return undefined;
}

/**
 * The file's first `count` records (line breaks inside quotes do not end one; empty lines after the first are
 * skipped), without loading the file; a record longer than {@link maxHeaderChars} ends there. None for a file without
 * characters.
 */
async function readRecords(file: string, count: number): Promise<string[]> {
  const raw = createReadStream(file, { highWaterMark: 64 * 1024 });
  const text: Readable = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  text.setEncoding('utf8');
  const records: string[] = [];
  let buffered = '';
  const take = (record: string) => {
    if (records.length === 0) records.push(record.replace(/^\uFEFF/, ''));
    else if (record !== '') records.push(record);
  };
  try {
    for await (const chunk of text) {
      buffered += chunk as string;
      for (;;) {
        const end = recordEnd(buffered) ?? (buffered.length > maxHeaderChars ? maxHeaderChars : undefined);
        if (end === undefined) break;
        take(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        if (records.length >= count) return records;
      }
    }
  } finally {
    raw.destroy();
  }
  if (records.length > 0 || buffered.replace(/^\uFEFF/, '') !== '') take(buffered);
  return records;
}

/** Index of the first line break outside quotes, if the buffer has one. */
function recordEnd(text: string): number | undefined {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) return i;
  }
  return undefined;
}

function splitRecord(record: string, separator = ','): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  const text = record.replace(/^\uFEFF/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * Which field of a line a quoting error is in: the first quoted field whose closing quote is not followed by a
 * delimiter, or the field whose quote is never closed. Undefined when the line shows no such problem.
 */
export function misquotedField(line: string): number | undefined {
  let index = 0;
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= line.length) return index;
        if (line[j] === '"' && line[j + 1] === '"') j += 2;
        else if (line[j] === '"') break;
        else j++;
      }
      const after = line[j + 1];
      if (after !== undefined && after !== ',' && after !== '\n' && after !== '\r') return index;
      i = j + 1;
    } else {
      while (i < line.length && line[i] !== ',') i++;
    }
    if (i >= line.length) return undefined;
    i++;
    index++;
  }
  return undefined;
}
