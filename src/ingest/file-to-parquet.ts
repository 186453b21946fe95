/**
 * Reads a source file with DuckDB and writes it as the snapshot's Parquet, streaming (COPY … TO never holds the table
 * in memory). Malformed input becomes a catalogued error that names the file, the line and, where the parser tells,
 * the column.
 */
import type { ColumnSchema } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { DuckDb } from '../warehouse/duckdb';
import { literal } from '../warehouse/duckdb';
import { misquotedField, readCsvHeader } from './csv-header';
import type { FileFormat } from './source-uri';

export interface SourceFile {
  /** The URI the user gave, used in messages. */
  uri: string;
  localPath: string;
  format: FileFormat;
  bytes: number;
}

export interface ParquetTable {
  rowCount: number;
  columns: ColumnSchema[];
}

/** RFC 4180 dialect, set rather than sniffed: a sniffer that meets a bad row guesses another dialect instead of failing. */
const csvDialect = "header = true, delim = ',', quote = '\"', escape = '\"'";
/** Fail on the first malformed row instead of skipping it, padding it with NULLs or reading it some other way. */
const csvStrict = 'strict_mode = true, null_padding = false, ignore_errors = false';

export async function fileToParquet(db: DuckDb, source: SourceFile, parquetPath: string): Promise<ParquetTable> {
  if (source.bytes === 0) throw empty(source, 'the file is empty (0 bytes)');
  const file = literal(source.localPath);
  if (source.format === 'csv') await csvToParquet(db, source, parquetPath);
  else if (source.format === 'parquet') await copyToParquet(db, source, `read_parquet(${file})`, parquetPath);
  // Type detection over every row stays flat in memory for JSON (measured), and a sample would drop keys seen later.
  // DuckDB's default 16 MB line limit is kept: a larger maximum_object_size grows its read buffers with it.
  else
    await copyToParquet(db, source, `read_json(${file}, format = 'newline_delimited', sample_size = -1)`, parquetPath);
  const table = await describeParquet(db, parquetPath);
  if (table.rowCount === 0) throw empty(source, `it has columns (${names(table.columns)}) but no rows`);
  return table;
}

async function copyToParquet(db: DuckDb, source: SourceFile, reader: string, parquetPath: string): Promise<void> {
  await db
    .run(`COPY (SELECT * FROM ${reader}) TO ${literal(parquetPath)} (FORMAT parquet, COMPRESSION zstd)`)
    .catch((err: Error) => {
      throw parseFailure(source, err.message, undefined);
    });
}

export async function describeParquet(db: DuckDb, parquetPath: string): Promise<ParquetTable> {
  const described = await db.query<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM read_parquet(${literal(parquetPath)})`,
  );
  const [{ n } = { n: 0 }] = await db.query<{ n: number }>(
    `SELECT count(*) AS n FROM read_parquet(${literal(parquetPath)})`,
  );
  return { rowCount: n, columns: described.map((c) => ({ name: c.column_name, type: c.column_type })) };
}

/**
 * A CSV file is read three ways, each streaming:
 * 1. every field as text against the header's column count, so a ragged or mis-quoted row is reported with its line
 *    (and, per column, how many values are not plain integers);
 * 2. with types DuckDB detects from the first 20,480 rows, which can no longer misread the dialect;
 * 3. only when a later value does not fit those types, with types detected from every row: that detection holds
 *    memory in proportion to the file. DuckDB reports most misfits ("Conversion Error"), but silently rounds a
 *    decimal into an integer column, so integer columns are checked against the counts of pass 1.
 */
async function csvToParquet(db: DuckDb, source: SourceFile, parquetPath: string): Promise<void> {
  const header = await readCsvHeader(source.localPath);
  if (!header) throw empty(source, 'the file has no header line');
  const { rows, nonIntegers } = await scanCsvText(db, source, header);
  if (rows === 0) throw empty(source, `the file has only a header line (${header.join(', ')})`);
  const typed = `read_csv(${literal(source.localPath)}, ${csvDialect}, auto_detect = true, ${csvStrict}`;
  const sampledFits = await db
    .run(`COPY (SELECT * FROM ${typed})) TO ${literal(parquetPath)} (FORMAT parquet, COMPRESSION zstd)`)
    .then(
      async () => {
        const { columns } = await describeParquet(db, parquetPath);
        return columns.every((c, i) => !integerTypes.test(c.type) || nonIntegers[i] === 0);
      },
      (err: Error) => {
        if (err.message.startsWith('Conversion Error')) return false;
        throw parseFailure(source, err.message, header);
      },
    );
  if (!sampledFits) await copyToParquet(db, source, `${typed}, sample_size = -1)`, parquetPath);
}

const integerTypes = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;

async function scanCsvText(
  db: DuckDb,
  source: SourceFile,
  header: string[],
): Promise<{ rows: number; nonIntegers: number[] }> {
  const columns = header.map((_, i) => `${literal(`c${i}`)}: 'VARCHAR'`).join(', ');
  const counts = header.map((_, i) => `count_if(NOT regexp_full_match(c${i}, '\\s*[+-]?[0-9]+\\s*')) AS f${i}`);
  const [row = {}] = await db
    .query(
      `SELECT count(*) AS n, ${counts.join(', ')} FROM read_csv(${literal(source.localPath)}, ${csvDialect}, ` +
        `auto_detect = false, columns = {${columns}}, ${csvStrict})`,
    )
    .catch((err: Error) => {
      throw parseFailure(source, err.message, header);
    });
  return { rows: Number(row.n), nonIntegers: header.map((_, i) => Number(row[`f${i}`])) };
}

function parseFailure(source: SourceFile, message: string, header: string[] | undefined): Error {
  const csvLine = /CSV Error on Line: (\d+)/.exec(message);
  if (csvLine) return csvRowError(source, Number(csvLine[1]), message, header ?? []);
  const json = /Malformed JSON .*?at byte (\d+) in line (\d+): (.*?)\.?\s*$/m.exec(message);
  if (json) {
    // DuckDB 1.5 numbers these lines from 2 (a bad first line is "line 2"); the ingest tests pin the correction.
    return mlopsError('MLOPS_ERR_DATA_ROW_MALFORMED', {
      source: source.uri,
      line: Math.max(1, Number(json[2]) - 1),
      problem: `malformed JSON (${json[3]} at byte ${json[1]} of the line)`,
    });
  }
  return mlopsError('MLOPS_ERR_DATA_UNREADABLE', { source: source.uri, reason: firstLines(message) });
}

/** Turns DuckDB's CSV error into a sentence naming the column the row breaks at. */
function csvRowError(source: SourceFile, line: number, message: string, header: string[]): Error {
  const original = /Original Line: ([^\n]*)/.exec(message)?.[1] ?? '';
  const count = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  let problem: string;
  if (count) {
    const [expected, found] = [Number(count[1]), Number(count[2])];
    problem =
      found > expected
        ? `the row has ${found} fields but the header has ${expected} (${header.join(', ')}): ` +
          `an extra value after column "${header[expected - 1]}"`
        : `the row has ${found} fields but the header has ${expected} (${header.join(', ')}): ` +
          `column "${header[found]}"${expected - found > 1 ? ` and the ${expected - found - 1} after it are` : ' is'} missing`;
  } else if (/unterminated quote/i.test(message)) {
    const field = misquotedField(original);
    const column = field === undefined ? 'a value' : `the value of column "${header[field] ?? `#${field + 1}`}"`;
    problem = `${column} has a quote that is not closed, or text after its closing quote`;
  } else {
    problem = firstLines(message.split('\n').slice(2).join(' ')) || firstLines(message);
  }
  return mlopsError('MLOPS_ERR_DATA_ROW_MALFORMED', {
    source: source.uri,
    line,
    problem: `${problem} (${JSON.stringify(original.slice(0, 120))})`,
  });
}

function empty(source: SourceFile, reason: string): Error {
  return mlopsError('MLOPS_ERR_DATA_EMPTY', { source: source.uri, reason });
}

function names(columns: ColumnSchema[]): string {
  return columns.map((c) => c.name).join(', ');
}

function firstLines(message: string): string {
  return message.split('\n').slice(0, 3).join(' ').slice(0, 600);
}
