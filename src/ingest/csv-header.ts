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
  const raw = createReadStream(file, { highWaterMark: 64 * 1024 });
  const text: Readable = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  text.setEncoding('utf8');
  let buffered = '';
  try {
    for await (const chunk of text) {
      buffered += chunk as string;
      const end = recordEnd(buffered);
      if (end !== undefined) return splitRecord(buffered.slice(0, end));
      if (buffered.length > maxHeaderChars) return splitRecord(buffered.slice(0, maxHeaderChars));
    }
  } finally {
    raw.destroy();
  }
  return buffered.replace(/^\uFEFF/, '') === '' ? undefined : splitRecord(buffered);
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

function splitRecord(record: string): string[] {
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
    else if (c === ',' && !quoted) {
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
