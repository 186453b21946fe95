/**
 * Reads a source file with DuckDB and writes it as the snapshot's Parquet, streaming (COPY … TO never holds the table
 * in memory). Malformed input becomes a catalogued error that names the file, the line and, where the parser tells,
 * the column.
 */
import type { ColumnSchema } from '../contracts/datasets';
import { ApplicationFailure } from '@temporalio/common';
import { mlopsError } from '../errors';
import { columnGroups } from '../warehouse/column-groups';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, literal } from '../warehouse/duckdb';
import { textDictionaryOption, textDictionaryOptionFor } from '../warehouse/parquet-write';
import { hasDataRecord, misquotedField, otherSeparator, readCsvHeader } from './csv-header';
import { firstNonUtf8Line } from './text-encoding';
import type { FileFormat } from './source-uri';

export interface SourceFile {
  /** The URI the user gave, used in messages. */
  uri: string;
  localPath: string;
  format: FileFormat;
  bytes: number;
  /**
   * Whether errors may quote the file's lines: only for a local file inside a data root. A downloaded file may hold
   * what its author could not read themselves (a private object read with the worker's credentials), and Temporal
   * keeps failure messages in plain text. @default false
   */
  quoteLines?: boolean;
}

export interface ParquetTable {
  rowCount: number;
  columns: ColumnSchema[];
  /**
   * Names of the file (CSV header names, JSON keys, Parquet column names) the reader changed: made unique, an empty one
   * named, trimmed (CSV); in column order.
   */
  renamed?: { from: string; to: string }[];
}

/** RFC 4180 dialect, set rather than sniffed: a sniffer that meets a bad row guesses another dialect instead of failing. */
const csvDialect = "header = true, delim = ',', quote = '\"', escape = '\"'";
/** Fail on the first malformed row instead of skipping it, padding it with NULLs or reading it some other way. */
const csvStrict = 'strict_mode = true, null_padding = false, ignore_errors = false';
/**
 * zstd level 2 rather than DuckDB's default 3: writing is the slowest part of ingesting a CSV file, and level 2 writes
 * 1M rows × 20 columns in 1.36 s instead of 1.47 s, for 0.5% more bytes. Snappy or LZ4 would save another 0.3 s but
 * write 65% or 53% more bytes (slower uploads to a remote store); zstd level 1 writes 60% more.
 */
const parquetFormat = 'FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 2';
/** The snapshot's Parquet options for a table of columns of these DuckDB types (../warehouse/parquet-write.ts). */
function parquetOptions(types: readonly string[]): string {
  return `${parquetFormat}${textDictionaryOption(types)}`;
}

/** The snapshot's Parquet options for what `reader` reads (its types detected from a sample where it is a file's). */
async function parquetOptionsFor(db: DuckDb, reader: string): Promise<string> {
  return `${parquetFormat}${await textDictionaryOptionFor(db, reader)}`;
}

/** Writes the snapshot's Parquet and describes it (the column checks then read it: `checkColumns`). */
export async function fileToParquet(db: DuckDb, source: SourceFile, parquetPath: string): Promise<ParquetTable> {
  if (source.bytes === 0) throw empty(source, 'the file is empty (0 bytes)');
  const file = literal(source.localPath);
  let written: ParquetTable | undefined;
  let header: string[] | undefined;
  if (source.format === 'csv') ({ written, header } = await csvToParquet(db, source, parquetPath));
  else if (source.format === 'parquet') {
    const reader = `read_parquet(${file})`;
    await copyToParquet(db, source, reader, parquetPath, await parquetOptionsFor(db, reader));
  }
  // Type detection over every row stays flat in memory for JSON (measured), and a sample would drop keys seen later.
  // DuckDB's default 16 MB line limit is kept: a larger maximum_object_size grows its read buffers with it. Objects of
  // more than 200 keys stay a column per key (DuckDB would read them as one MAP column). The write options count the
  // text columns of a sample (a quick read; a missed key changes only the dictionaries' share).
  else {
    const lines = `read_json(${file}, format = 'newline_delimited', map_inference_threshold = -1`;
    const options = await parquetOptionsFor(db, `${lines})`);
    await copyToParquet(db, source, `${lines}, sample_size = -1)`, parquetPath, options);
  }
  const table = written ?? (await describeParquet(db, parquetPath));
  refuseNulNames(
    source,
    table.columns.map((c) => c.name),
  );
  const names = header ?? (await sourceNames(db, source, table.columns));
  const renamed = names ? renamedColumns(names, table.columns) : [];
  if (renamed.length > 0) table.renamed = renamed;
  if (table.rowCount === 0)
    throw empty(
      source,
      `it has columns (${headerText(
        source,
        table.columns.map((c) => c.name),
      )}) but no rows`,
    );
  return table;
}

/**
 * SQL cannot name a column holding a NUL character (DuckDB reads SQL text as a C string): a CSV header, a JSON key or
 * a Parquet field named so is refused before any statement names it.
 */
function refuseNulNames(source: SourceFile, names: string[]): void {
  const nul = names.find((name) => name.includes('\0'));
  if (nul !== undefined)
    throw mlopsError('MLOPS_ERR_DATA_HEADER_NUL', { source: source.uri, column: JSON.stringify(nul) });
}

async function copyToParquet(
  db: DuckDb,
  source: SourceFile,
  reader: string,
  parquetPath: string,
  options: string,
): Promise<void> {
  await db.run(`COPY (SELECT * FROM ${reader}) TO ${literal(parquetPath)} (${options})`).catch(async (err: Error) => {
    throw await parseFailure(source, err, undefined);
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
 * A well-formed CSV file is read once ({@link readTyped}). When that read meets anything to look into, the file is read
 * again one way after the other ({@link readInTurn}), so the error reported is the one a strict text read finds first,
 * with its line.
 */
async function csvToParquet(
  db: DuckDb,
  source: SourceFile,
  parquetPath: string,
): Promise<{ written?: ParquetTable; header: string[] }> {
  const header = await readCsvHeader(source.localPath);
  if (!header) throw empty(source, 'the file has no header line');
  refuseNulNames(source, header);
  // Read with commas, such a file is one column of whole lines: nothing would fail until the target is looked up.
  const separator = await otherSeparator(source.localPath, header);
  if (separator) {
    const { name, rows, fields } = separator;
    throw mlopsError('MLOPS_ERR_DATA_CSV_SEPARATOR', { source: source.uri, separator: name, rows, fields });
  }
  const typed = await readTyped(db, source, header, parquetPath);
  if (typed) return { written: typed, header };
  // One thread from here on: the reads keep file order, and errors name the first bad line.
  await db.run('SET threads = 1');
  await readInTurn(db, source, header, parquetPath);
  return { header };
}

/**
 * The names a Parquet or JSON Lines file gives its columns, in column order, where the reader may have changed some:
 * DuckDB makes names unique regardless of case (`A`, `a` → `A`, `a_1`) and names an empty JSON key `C<position>`.
 * A Parquet file's names are in its footer. A JSON Lines file's keys are read again only when a column's name looks
 * like such a rename, and each such column is paired with the key it was made from.
 */
async function sourceNames(db: DuckDb, source: SourceFile, columns: ColumnSchema[]): Promise<string[] | undefined> {
  const file = literal(source.localPath);
  if (source.format === 'parquet') {
    const schema = await db.query<{ name: string; num_children: number | null }>(
      `SELECT name, num_children FROM parquet_schema(${file})`,
    );
    // Depth first: the root, then each column followed by the elements of its nested type.
    const after = (at: number): number => {
      let next = at + 1;
      for (let child = 0; child < Number(schema[at]?.num_children ?? 0); child++) next = after(next);
      return next;
    };
    const names: string[] = [];
    for (let at = 1; at < schema.length; at = after(at)) names.push(schema[at]!.name);
    return names;
  }
  if (source.format !== 'jsonl' || !columns.some((c) => /_\d+$|^C\d+$/.test(c.name))) return undefined;
  const rows = await db.query<{ key: string }>(
    `SELECT DISTINCT unnest(json_keys(json)) AS key FROM read_json_objects(${file}, format = 'newline_delimited')`,
  );
  const keys = new Set(rows.map((r) => r.key));
  const unused = new Set([...keys].filter((k) => !columns.some((c) => c.name === k)));
  // DuckDB keeps a repeated name and appends `_<n>`, and names an empty key `C<position>`.
  return columns.map(({ name }) => {
    if (keys.has(name)) return name;
    const base = /^(.*)_\d+$/s.exec(name)?.[1];
    if (base !== undefined && unused.has(base)) return base;
    return /^C\d+$/.test(name) && unused.has('') ? '' : name;
  });
}

/** The file's names that are not the columns' names, position by position (a list of another width: none). */
function renamedColumns(header: string[], columns: ColumnSchema[]): { from: string; to: string }[] {
  if (header.length !== columns.length) return [];
  return columns.flatMap((c, i) => (c.name === header[i] ? [] : [{ from: header[i]!, to: c.name }]));
}

function isConversionError(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Conversion Error');
}

/**
 * One strict read with the types DuckDB detects from the first 20,480 rows, straight into the Parquet. The dialect is
 * set, not sniffed, and strict mode fails on a ragged or mis-quoted row instead of guessing around it; a value after
 * the sample that does not fit its column's type fails the conversion. Integer columns are read as text and converted
 * here, because DuckDB's own conversion rounds a decimal (`3.7` becomes 4): a value that is not the integer it reads
 * as fails instead. Returns the Parquet's description, or undefined when the file needs a closer look.
 */
async function readTyped(
  db: DuckDb,
  source: SourceFile,
  header: string[],
  parquetPath: string,
): Promise<ParquetTable | undefined> {
  const described = await db
    .query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${typedCsv(source)}`)
    .catch(() => []);
  if (described.length !== header.length) return undefined;
  const integers = described.filter((c) => integerTypes.test(c.column_type));
  const asText = integers.map((c) => `${literal(c.column_name)}: 'VARCHAR'`);
  const select = described.map(({ column_name: name, column_type: type }) => {
    const c = ident(name);
    if (!integerTypes.test(type)) return c;
    const exact = `${c} IS NULL OR TRY_CAST(${c} AS ${type}) = TRY_CAST(${c} AS DOUBLE)`;
    return `CASE WHEN ${exact} THEN CAST(${c} AS ${type}) ELSE error(${literal(`not an integer in ${name}`)}) END AS ${c}`;
  });
  const reader = typedCsv(source, asText.length ? `types = {${asText.join(', ')}}` : undefined);
  const written = await db
    .run(
      `COPY (SELECT ${select.join(', ')} FROM ${reader}) TO ${literal(parquetPath)} ` +
        `(${parquetOptions(described.map((c) => c.column_type))})`,
    )
    .then(
      () => true,
      () => false,
    );
  if (!written) return undefined;
  const table = await describeParquet(db, parquetPath);
  if (table.rowCount === 0) throw await headerOnly(source, header);
  const sameTypes = table.columns.every(
    (c, i) => c.name === described[i]!.column_name && c.type === described[i]!.column_type,
  );
  return sameTypes ? table : undefined;
}

/**
 * 1. the text read, which throws the error of the first malformed row;
 * 2. the typed read;
 * 3. only when a later value does not fit the sampled types, with types detected from every row: that detection holds
 *    memory in proportion to the file. DuckDB reports most misfits ("Conversion Error"), but silently rounds a
 *    decimal into an integer column, so integer columns are checked against the counts of step 1.
 */
async function readInTurn(db: DuckDb, source: SourceFile, header: string[], parquetPath: string): Promise<void> {
  const { rows, nonIntegers } = await scanCsvText(
    db,
    source,
    header,
    header.map((_, i) => i),
  ).catch(async (err: Error) => {
    throw await parseFailure(source, err, header);
  });
  if (rows === 0) throw await headerOnly(source, header);
  const typed = typedCsv(source);
  // The sampled types size the dictionaries of both writes: a full detection changes only the misfits' types.
  const options = await parquetOptionsFor(db, typed);
  const sampledFits = await db.run(`COPY (SELECT * FROM ${typed}) TO ${literal(parquetPath)} (${options})`).then(
    async () => {
      const { columns } = await describeParquet(db, parquetPath);
      return columns.every((c, i) => !integerTypes.test(c.type) || nonIntegers[i] === 0);
    },
    async (err: Error) => {
      if (isConversionError(err)) return false;
      throw await parseFailure(source, err, header);
    },
  );
  if (!sampledFits) await copyToParquet(db, source, typedCsv(source, 'sample_size = -1'), parquetPath, options);
}

function typedCsv(source: SourceFile, extra?: string): string {
  const options = [csvDialect, 'auto_detect = true', csvStrict, ...(extra ? [extra] : [])];
  return `read_csv(${literal(source.localPath)}, ${options.join(', ')})`;
}

const integerTypes = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;

/**
 * The row count and, for each of the `checked` columns (by position), how many values are not plain integers. Every
 * statement parses every row (the first throws the first malformed one); wide files count a few hundred columns per
 * statement, one after another (../warehouse/column-groups.ts).
 */
async function scanCsvText(
  db: DuckDb,
  source: SourceFile,
  header: string[],
  checked: number[],
): Promise<{ rows: number; nonIntegers: number[] }> {
  const columns = header.map((_, i) => `${literal(`c${i}`)}: 'VARCHAR'`).join(', ');
  const from = `read_csv(${literal(source.localPath)}, ${csvDialect}, auto_detect = false, columns = {${columns}}, ${csvStrict})`;
  const counted: Record<string, unknown> = {};
  for (const { group } of columnGroups(checked, { atLeastOne: true })) {
    const counts = group.map((i) => `, count_if(NOT regexp_full_match(c${i}, '\\s*[+-]?[0-9]+\\s*')) AS f${i}`);
    const [row = {}] = await db.query(`SELECT count(*) AS n${counts.join('')} FROM ${from}`);
    Object.assign(counted, row);
  }
  return { rows: Number(counted.n), nonIntegers: header.map((_, i) => Number(counted[`f${i}`] ?? 0)) };
}

/**
 * DuckDB's error as a catalogued one. Text that is not UTF-8 is found again here, line by line: DuckDB's CSV reader
 * names the line but buries it in advice about options we set on purpose (ignore_errors), and its JSON reader
 * numbers lines off by one.
 */
async function parseFailure(source: SourceFile, err: Error, header: string[] | undefined): Promise<Error> {
  // Already catalogued (the read needed more memory than DuckDB may take: the file may be fine).
  if (err instanceof ApplicationFailure && err.type?.startsWith('MLOPS_ERR_')) return err;
  const { message } = err;
  if (/invalid unicode|invalid UTF-8/i.test(message)) {
    const found = await firstNonUtf8Line(source.localPath);
    if (found) return mlopsError('MLOPS_ERR_DATA_NOT_UTF8', { source: source.uri, ...found });
  }
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
  return mlopsError('MLOPS_ERR_DATA_UNREADABLE', { source: source.uri, reason: quotable(source, firstLines(message)) });
}

/**
 * A CSV header is the file's first line: it is quoted only where lines may be (a one-line file would otherwise be
 * shown whole). Elsewhere columns are named by position.
 */
function headerText(source: SourceFile, header: string[]): string {
  return source.quoteLines ? header.join(', ') : `${header.length} column${header.length === 1 ? '' : 's'}`;
}

function columnName(source: SourceFile, header: string[], index: number): string {
  return source.quoteLines && header[index] !== undefined ? `"${header[index]}"` : `#${index + 1}`;
}

/** The parser's words without the file's: its quoted line and quoted values go, unless the file may be quoted. */
function quotable(source: SourceFile, text: string): string {
  if (source.quoteLines) return text;
  return text
    .replace(/Original Line:.*$/s, '')
    .replace(/'[^']*'|"[^"]*"/g, '…')
    .trim();
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
        ? `the row has ${found} fields but the header has ${expected} (${headerText(source, header)}): ` +
          `an extra value after column ${columnName(source, header, expected - 1)}`
        : `the row has ${found} fields but the header has ${expected} (${headerText(source, header)}): ` +
          `column ${columnName(source, header, found)}${expected - found > 1 ? ` and the ${expected - found - 1} after it are` : ' is'} missing`;
  } else if (/unterminated quote/i.test(message)) {
    const field = misquotedField(original);
    const column = field === undefined ? 'a value' : `the value of column ${columnName(source, header, field)}`;
    problem = `${column} has a quote that is not closed, or text after its closing quote`;
  } else {
    problem = quotable(source, firstLines(message.split('\n').slice(2).join(' ')) || firstLines(message));
  }
  const quote = source.quoteLines ? ` (${JSON.stringify(original.slice(0, 120))})` : '';
  // A header read as one column holding semicolons: a file separated by semicolons whose rows also hold commas
  // (decimal commas), so the reader took the comma for the separator.
  const semicolons =
    header.length === 1 && header[0]!.includes(';')
      ? '; its header is one column holding semicolons: the file seems separated by semicolons, save it with commas (and decimal points)'
      : '';
  return mlopsError('MLOPS_ERR_DATA_ROW_MALFORMED', {
    source: source.uri,
    line,
    problem: `${problem}${quote}${semicolons}`,
  });
}

/**
 * The error for a CSV file DuckDB read no rows from. When the file does have rows after its header, the header holds a
 * line break inside quotes: DuckDB's reader (1.5) then reads nothing from a file with CRLF line ends.
 */
async function headerOnly(source: SourceFile, header: string[]): Promise<Error> {
  const broken = header.find((name) => /[\r\n]/.test(name));
  if (broken !== undefined && (await hasDataRecord(source.localPath)))
    return mlopsError('MLOPS_ERR_DATA_HEADER_LINE_BREAK', { source: source.uri, column: JSON.stringify(broken) });
  return empty(source, `the file has only a header line (${headerText(source, header)})`);
}

function empty(source: SourceFile, reason: string): Error {
  return mlopsError('MLOPS_ERR_DATA_EMPTY', { source: source.uri, reason });
}

function firstLines(message: string): string {
  return message.split('\n').slice(0, 3).join(' ').slice(0, 600);
}
