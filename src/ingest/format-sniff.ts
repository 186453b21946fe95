/**
 * Checks that a file holds the format it is read as, from its first and last bytes, before anything else reads it:
 * DuckDB's own answer to a CSV file read as Parquet is "No magic bytes found at end of file", and a JSON Lines file
 * read as CSV becomes one column per key-value pair. It runs before an existing snapshot of the same bytes is reused,
 * so a wrong format is reported whether or not the bytes were ingested before.
 */
import fs from 'node:fs/promises';
import { mlopsError } from '../errors';
import type { FileFormat } from './source-uri';

/** A Parquet file starts and ends with these four bytes. */
const parquetMagic = 'PAR1';
/** Bytes enough to hold the first line of any sensible CSV header or JSON object. */
const headBytes = 64 * 1024;

export interface FormatClaim {
  uri: string;
  format: FileFormat;
  localPath: string;
  bytes: number;
  /** Whether the format was given (`dataset.format`) rather than taken from the name. */
  given: boolean;
}

export async function checkFileFormat(claim: FormatClaim): Promise<void> {
  if (claim.bytes === 0) return; // reported as empty by the reader
  const { head, tail } = await ends(claim.localPath, claim.bytes);
  const problem = mismatch(claim, head, tail);
  if (problem === undefined) return;
  if (problem.truncated) throw mlopsError('MLOPS_ERR_DATA_UNREADABLE', { source: claim.uri, reason: problem.reason });
  throw mlopsError('MLOPS_ERR_DATA_FORMAT_MISMATCH', {
    source: claim.uri,
    format: claim.format,
    claim: claim.given ? `dataset.format is "${claim.format}"` : `its name ends in .${claim.format}`,
    reason: problem.reason,
  });
}

function mismatch(claim: FormatClaim, head: Buffer, tail: Buffer): { reason: string; truncated?: boolean } | undefined {
  const parquetStart = head.subarray(0, 4).toString('latin1') === parquetMagic;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  if (claim.format === 'parquet') {
    if (parquetStart && tail.toString('latin1') !== parquetMagic)
      return {
        truncated: true,
        reason: `it starts like a Parquet file but does not end like one (${parquetMagic}): it is cut short, as by an interrupted copy or download`,
      };
    if (parquetStart) return undefined;
    return { reason: `it does not start with Parquet's magic bytes ${parquetMagic}; ${looksLike(head, gzip)}` };
  }
  if (parquetStart) return { reason: 'it is a Parquet file (it starts with the magic bytes PAR1)' };
  if (gzip && !claim.localPath.endsWith('.gz'))
    return { reason: 'it is gzip-compressed, and only a name ending in .gz is read decompressed' };
  if (gzip) return undefined;
  const line = firstLine(head);
  if (claim.format === 'jsonl' && line !== undefined && !line.trimStart().startsWith('{'))
    return { reason: `its first line is not a JSON object; ${looksLike(head, gzip)}` };
  if (claim.format === 'csv' && line !== undefined && isJsonObject(line))
    return { reason: 'its first line is a JSON object, not a header of column names: it looks like JSON Lines' };
  return undefined;
}

/** What the start of a file looks like, for a message. */
function looksLike(head: Buffer, gzip: boolean): string {
  if (gzip) return 'it is gzip-compressed (a .csv.gz or .jsonl.gz file?)';
  const line = firstLine(head);
  if (line === undefined) return 'it is not text either';
  if (isJsonObject(line)) return 'its first line is a JSON object: it looks like JSON Lines';
  return 'it is text: a CSV file?';
}

/**
 * The first line that is not blank, without a byte order mark, when it is UTF-8 text; else undefined. A line longer
 * than the head is cut there.
 */
function firstLine(head: Buffer): string | undefined {
  let start = head.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? 3 : 0;
  while (start < head.length && [0x20, 0x09, 0x0d, 0x0a].includes(head[start]!)) start++;
  const end = head.indexOf(0x0a, start);
  const text = new TextDecoder().decode(head.subarray(start, end >= 0 ? end : head.length));
  return text.includes('\uFFFD') || text.includes('\u0000') ? undefined : text.replace(/\r$/, '');
}

function isJsonObject(line: string): boolean {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

async function ends(file: string, bytes: number): Promise<{ head: Buffer; tail: Buffer }> {
  const handle = await fs.open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(headBytes, bytes));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(4, bytes));
    await handle.read(tail, 0, tail.length, bytes - tail.length);
    return { head, tail };
  } finally {
    await handle.close();
  }
}
