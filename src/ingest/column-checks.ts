/**
 * Checks every column of a snapshot's Parquet before it is published, mostly from the file's statistics:
 * - a text column that is mostly numbers with a few stray values (`12, 15, n/a`) fails: read as text it would
 *   silently become a categorical feature, so the error names the column, the first bad row and its value; one whose
 *   numbers are mostly written with thousands separators (`2,532`), which a reader takes for text, is a warning, and
 *   preprocessing refuses it as a feature or the target;
 * - NaN or ±Infinity in a floating-point column fails, naming the column and the first such row;
 * - so does a magnitude beyond the float32 range: a model could not take it, and a column's variance (profiling,
 *   preprocessing, the drift reference) overflows double precision from about 1e152 on;
 * - a column with no values at all is a warning: it is allowed in a snapshot (a dataset may carry unused columns),
 *   and the preprocessing step is where a feature without values is refused;
 * - a column named like the row number every step reads beside the snapshot's own (`__row`, and DuckDB's
 *   `file_row_number`, which it cannot add to a file that has one) fails: profiling and preprocessing could not read
 *   it. The names preprocessing alone adds are refused there (src/preprocessing/column-names.ts).
 * Rows count from 1 in source order (the header line of a CSV file is not a row).
 */
import { float32Max } from '../contracts/datasets';
import type { ColumnSchema, SnapshotWarning } from '../contracts/datasets';
import { mlopsError } from '../errors';
import type { DuckDb, Row } from '../warehouse/duckdb';
import { ident, literal } from '../warehouse/duckdb';
import { mergedOverColumnGroups } from '../warehouse/column-groups';
import { rowNumberColumn } from '../warehouse/warehouse';

const textTypes = new Set(['VARCHAR', 'JSON']);
/** The row number's names: the warehouses' (`rowNumberColumn`) and DuckDB's own. */
const rowNumberNames = new Set([rowNumberColumn, 'file_row_number']);
const floatTypes = new Set(['FLOAT', 'DOUBLE', 'REAL']);

/**
 * `quoteValues`: whether an error may show the offending cell; only for a local file inside a data root (see
 * `SourceFile.quoteLines`), otherwise it shows `…`. The column and row are always named.
 */
export async function checkColumns(
  db: DuckDb,
  parquetPath: string,
  source: string,
  columns: ColumnSchema[],
  quoteValues = false,
): Promise<SnapshotWarning[]> {
  const reserved = columns.filter((c) => rowNumberNames.has(c.name.toLowerCase())).map((c) => JSON.stringify(c.name));
  if (reserved.length)
    throw mlopsError('MLOPS_ERR_DATA_COLUMN_RESERVED', {
      source,
      columns: reserved.join(', '),
      reserved: [...rowNumberNames].join(', '),
    });
  const stats = await columnStats(db, `read_parquet(${literal(parquetPath)})`, columns);
  const warnings: SnapshotWarning[] = [];
  for (const [i, column] of columns.entries()) {
    const { values, numbers, grouped, nonFinite, outOfRange } = stats[i]!;
    if (values === 0) {
      warnings.push({
        kind: 'column-all-null',
        column: column.name,
        message: `Column "${column.name}" has no values (every row is null); it cannot be used as a feature or target.`,
      });
    } else if (grouped > 0 && (numbers + grouped) * 2 > values) {
      // A warning here: the column may be one no run uses; preprocessing refuses it as a feature or the target.
      const bad = await firstRow(db, parquetPath, groupedNumber(column), column);
      const detail = `row ${bad.row} has "${quoteValues ? bad.value : '…'}"; ${grouped} of its ${values} values are written so`;
      warnings.push({
        kind: 'column-number-grouping',
        column: column.name,
        detail,
        message:
          `Column "${column.name}" holds numbers written with thousands separators (${detail}): it is text in the ` +
          'snapshot, and cannot be a feature or the target until they are written without them (2532, not "2,532").',
      });
    } else if (numbers > 0 && numbers < values && numbers * 2 > values) {
      const bad = await firstRow(
        db,
        parquetPath,
        `${asText(column)} IS NOT NULL AND ${numeric(column)} IS NULL`,
        column,
      );
      throw mlopsError('MLOPS_ERR_DATA_MIXED_TYPES', {
        source,
        column: column.name,
        row: bad.row,
        value: !quoteValues ? '…' : column.type === 'JSON' ? jsonText(bad.value) : bad.value,
        numbers,
        values,
      });
    } else if (nonFinite > 0) {
      const col = ident(column.name);
      const bad = await firstRow(db, parquetPath, `isnan(${col}) OR isinf(${col})`, column);
      throw mlopsError('MLOPS_ERR_DATA_VALUE_NOT_FINITE', {
        source,
        column: column.name,
        row: bad.row,
        value: finiteName(bad.value),
        count: nonFinite,
      });
    } else if (outOfRange > 0) {
      const bad = await firstRow(db, parquetPath, `abs(${ident(column.name)}) > ${float32Max}`, column);
      throw mlopsError('MLOPS_ERR_DATA_VALUE_OUT_OF_RANGE', {
        source,
        column: column.name,
        row: bad.row,
        value: quoteValues ? bad.value : '…',
        limit: float32Max,
        count: outOfRange,
      });
    }
  }
  return warnings;
}

interface ColumnStats {
  values: number;
  numbers: number;
  /** Text values that are numbers written with thousands separators (`2,532`, `-1,234,567.5`). */
  grouped: number;
  nonFinite: number;
  outOfRange: number;
}

/**
 * Per column (`from` is a table expression whose columns have these names and types). On a Parquet file this reads
 * little: DuckDB answers a query of counts alone, or of minima and maxima alone, from the file's statistics where a row
 * group has them (one without NaN or ±Infinity), so those are separate queries. NaN sorts above every number, so a
 * floating-point column holds a non-finite value exactly when its minimum or maximum is not finite; only then are they
 * counted. Only text that starts like a number (a digit, sign, point, space, `inf` or `nan`) is converted: failed
 * conversions are what cost (1M values: 0.2 s → 0.025 s). Text columns are counted a group at a time
 * (../warehouse/column-groups.ts): one statement over 3,000 of them ran out of 512MB, and over 1,500 took 23 s, not 5.
 */
async function columnStats(db: DuckDb, from: string, columns: ColumnSchema[]): Promise<ColumnStats[]> {
  const indexes = (types: Set<string>) => columns.flatMap((c, i) => (types.has(c.type) ? [i] : []));
  const col = (i: number) => ident(columns[i]!.name);
  const one = async (items: string[]): Promise<Row> =>
    items.length ? ((await db.query(`SELECT ${items.join(', ')} FROM ${from}`))[0] ?? {}) : {};
  const [counts, bounds, texts] = await Promise.all([
    one(columns.map((_, i) => `count(${col(i)}) AS v${i}`)),
    one(
      indexes(floatTypes).flatMap((i) => [
        `isfinite(min(${col(i)})) AND isfinite(max(${col(i)})) AS finite${i}`,
        `greatest(abs(min(${col(i)})), abs(max(${col(i)}))) <= ${float32Max} AS bounded${i}`,
      ]),
    ),
    mergedOverColumnGroups(indexes(textTypes), (group) =>
      one(
        group.flatMap((i) => {
          const text = asText(columns[i]!);
          const startsLikeNumber = `ascii(${text}) < 58 OR ascii(${text}) IN (73, 78, 105, 110)`;
          return [
            `count(CASE WHEN ${startsLikeNumber} THEN ${numeric(columns[i]!)} END) AS n${i}`,
            `count_if((${startsLikeNumber}) AND ${groupedNumber(columns[i]!)}) AS g${i}`,
          ];
        }),
      ),
    ),
  ]);
  const counted = await one(
    indexes(floatTypes).flatMap((i) => [
      ...(bounds[`finite${i}`] === false ? [`count_if(NOT isfinite(${col(i)})) AS f${i}`] : []),
      ...(bounds[`bounded${i}`] === false ? [`count_if(abs(${col(i)}) > ${float32Max}) AS r${i}`] : []),
    ]),
  );
  return columns.map((_, i) => ({
    values: Number(counts[`v${i}`]),
    numbers: Number(texts[`n${i}`] ?? 0),
    grouped: Number(texts[`g${i}`] ?? 0),
    nonFinite: Number(counted[`f${i}`] ?? 0),
    outOfRange: Number(counted[`r${i}`] ?? 0),
  }));
}

async function firstRow(
  db: DuckDb,
  parquetPath: string,
  where: string,
  column: ColumnSchema,
): Promise<{ row: number; value: string }> {
  const [found] = await db.query<{ row: number; value: string }>(
    `SELECT file_row_number + 1 AS row, ${asText(column)} AS value ` +
      `FROM read_parquet(${literal(parquetPath)}, file_row_number = true) WHERE ${where} ORDER BY file_row_number LIMIT 1`,
  );
  return found ?? { row: 0, value: '' };
}

function asText(column: ColumnSchema): string {
  return `CAST(${ident(column.name)} AS VARCHAR)`;
}

/** A number with commas between groups of three digits, such as a spreadsheet's formatted cell: `2,532`, `-1,234.5`. */
function groupedNumber(column: ColumnSchema): string {
  return `regexp_full_match(trim(${asText(column)}), '[+-]?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]+)?')`;
}

function numeric(column: ColumnSchema): string {
  return `TRY_CAST(${asText(column)} AS DOUBLE)`;
}

function finiteName(value: string): string {
  const lower = value.toLowerCase();
  if (lower === 'nan' || lower === '-nan') return 'NaN';
  return lower.startsWith('-') ? '-Infinity' : 'Infinity';
}

/** A JSON string value without its JSON quotes, so the message shows `oops`, not `"oops"`. */
function jsonText(value: string): string {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}
