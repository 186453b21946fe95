/**
 * The labels join, in one DuckDB: the labels source's rows are checked (columns present, labels of the task's kind,
 * no prediction labelled twice with different labels), reduced to one label per (request id, instance), and joined
 * to the window's logged predictions. Only the labelled predictions' outputs and labels come back to Node.
 */
import { namesText } from '../contracts/message-text';
import { mlopsError } from '../errors';
import type { DuckDb } from '../warehouse/duckdb';
import { ident, isNumericType, literal, rowMajor } from '../warehouse/duckdb';
import { classProbability, predictedValue, relationLayout } from './log-columns';

export interface LabelsJoinSpec {
  /** The source's URI, for error messages. */
  uri: string;
  /** Table expression of the source's rows (src/monitoring/labels-source.ts). */
  relation: string;
  idColumn: string;
  labelColumn: string;
  instanceColumn?: string;
  task: 'classification' | 'regression';
  /** The model's classes, in output order (classification). */
  classes: string[];
}

export interface JoinedLabels {
  labelled: number;
  unlabelled: number;
  unknownIds: number;
  duplicateIds: number;
  /** Per labelled prediction: the class probabilities in class order (row-major) or the predicted value. */
  outputs: Float64Array;
  /** Per labelled prediction: the class index or the true value. */
  labels: Float64Array;
}

/** Conflicting ids named in the error; the count says how many there are in all. */
const namedConflicts = 10;

/**
 * @param log table expression of every logged row read (unknown ids are judged against it)
 * @param window the window's rows of the version (a subset of `log`)
 * @param folder where the log is, for errors
 */
export async function joinLabels(
  db: DuckDb,
  spec: LabelsJoinSpec,
  log: string,
  window: string,
  folder: string,
): Promise<JoinedLabels> {
  const types = await checkColumns(db, spec);
  await db.run(`CREATE OR REPLACE TEMP TABLE labels_raw AS ${rawLabelsSql(spec, types)}`);
  await checkLabelValues(db, spec, types[spec.labelColumn]!);
  await db.run(
    'CREATE OR REPLACE TEMP TABLE labels AS SELECT id, instance, min(y) AS y, count(*) AS n, count(DISTINCT y) AS k ' +
      'FROM labels_raw WHERE id IS NOT NULL AND y IS NOT NULL GROUP BY id, instance',
  );
  await checkConflicts(db, spec.uri);
  const [counts = {}] = await db.query(countsSql(log, window));
  const { outputs, labels } = await labelledRows(db, spec, window, folder);
  return {
    labelled: labels.length,
    unlabelled: Number(counts.window ?? 0) - Number(counts.labelled ?? 0),
    unknownIds: Number(counts.unknown ?? 0),
    duplicateIds: Number(counts.duplicates ?? 0),
    outputs,
    labels,
  };
}

/** The source's column types by name; a missing id, label or instance column is a catalogued error. */
async function checkColumns(db: DuckDb, spec: LabelsJoinSpec): Promise<Record<string, string>> {
  const described = await db.query<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM ${spec.relation}`,
  );
  const names = described.map((c) => c.column_name);
  if (await isEmptyFile(db, spec, names)) throw mlopsError('MLOPS_ERR_LABELS_SOURCE_EMPTY', { source: spec.uri });
  const wanted: [string, string | undefined][] = [
    ['id', spec.idColumn],
    ['label', spec.labelColumn],
    ['instance', spec.instanceColumn],
  ];
  for (const [role, column] of wanted) {
    if (column !== undefined && !names.includes(column))
      throw mlopsError('MLOPS_ERR_LABELS_COLUMN_MISSING', {
        source: spec.uri,
        role,
        column,
        columns: names.length ? namesText(names, 60) : '(none)',
      });
  }
  return Object.fromEntries(described.map((c) => [c.column_name, c.column_type]));
}

/**
 * DuckDB reads an empty CSV file (not even a header) as one column named `column0` and no rows: that is an empty
 * file, not a file whose id column is missing.
 */
async function isEmptyFile(db: DuckDb, spec: LabelsJoinSpec, names: string[]): Promise<boolean> {
  if (names.length !== 1 || names[0] !== 'column0' || spec.idColumn === 'column0') return false;
  const [row] = await db.query<{ n: bigint | number }>(`SELECT count(*) AS n FROM ${spec.relation}`);
  return Number(row?.n ?? 0) === 0;
}

/** A column's value as text: a JSON column (JSON lines with mixed types) as the scalar it holds, not its JSON text. */
function textOf(column: string, type: string | undefined): string {
  return type === 'JSON' ? `json_extract_string(${ident(column)}, '$')` : `CAST(${ident(column)} AS VARCHAR)`;
}

/**
 * One row per source row: its 1-based position, the id as text, the instance (0 without an instance column or value), the
 * label as written (`raw`, blank = not arrived) and as the model's label (`y`: class index or value, null when it
 * is not one).
 */
function rawLabelsSql(spec: LabelsJoinSpec, types: Record<string, string>): string {
  const text = `NULLIF(trim(${textOf(spec.labelColumn, types[spec.labelColumn])}), '')`;
  const y = spec.task === 'classification' ? classIndexSql(text, spec.classes) : numberSql(text);
  const rawInstance = spec.instanceColumn ? textOf(spec.instanceColumn, types[spec.instanceColumn]) : "'0'";
  // An empty instance is the request's first, as without an instance column.
  const instance = spec.instanceColumn
    ? `CASE WHEN ${rawInstance} IS NULL THEN 0 ELSE TRY_CAST(${rawInstance} AS INTEGER) END`
    : '0';
  return `SELECT row_number() OVER () AS row_no, NULLIF(${textOf(spec.idColumn, types[spec.idColumn])}, '') AS id,
    ${instance} AS instance, ${rawInstance} AS raw_instance, ${text} AS raw, CAST(${y} AS DOUBLE) AS y
    FROM ${spec.relation}`;
}

/**
 * The class index of a label's text. A model with classes false/true was trained on a boolean target (a CSV column of
 * yes/no or 1/0 is read as boolean at ingest), so its labels are read as booleans too: true/false, yes/no, y/n, t/f,
 * 1/0, in any case.
 */
function classIndexSql(text: string, classes: string[]): string {
  const boolean = classes.length === 2 && classes[0] === 'false' && classes[1] === 'true';
  const key = boolean ? `CAST(TRY_CAST(${text} AS BOOLEAN) AS VARCHAR)` : text;
  return `CASE ${key} ${classes.map((c, i) => `WHEN ${literal(c)} THEN ${i}`).join(' ')} END`;
}

function numberSql(text: string): string {
  return `CASE WHEN isfinite(TRY_CAST(${text} AS DOUBLE)) THEN TRY_CAST(${text} AS DOUBLE) END`;
}

/** A label that is present but not one of the task's (or an instance that is not a whole number) fails the check. */
async function checkLabelValues(db: DuckDb, spec: LabelsJoinSpec, columnType: string): Promise<void> {
  const wrongType =
    spec.task === 'regression' && !['VARCHAR', 'JSON'].includes(columnType) && !isNumericType(columnType);
  const [bad] = await db.query<{ row_no: number; raw: string; raw_instance: string | null; instance: number | null }>(
    `SELECT row_no, raw, raw_instance, instance FROM labels_raw
     WHERE (raw IS NOT NULL AND (y IS NULL OR ${wrongType})) OR (raw_instance IS NOT NULL AND instance IS NULL)
     ORDER BY row_no LIMIT 1`,
  );
  if (!bad) return;
  if (bad.raw_instance !== null && bad.instance === null)
    throw invalidLabel(spec, spec.instanceColumn!, bad.row_no, bad.raw_instance, 'the instance must be a whole number');
  const reason =
    spec.task === 'classification'
      ? `the classes are ${spec.classes.map((c) => JSON.stringify(c)).join(', ')}`
      : wrongType
        ? `the column's type is ${columnType}; a label must be a number`
        : 'a label must be a finite number';
  throw invalidLabel(spec, spec.labelColumn, bad.row_no, bad.raw, reason);
}

function invalidLabel(spec: LabelsJoinSpec, column: string, row: number, value: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_LABELS_INVALID', {
    source: spec.uri,
    column,
    row: Number(row),
    value: JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value),
    task: spec.task,
    reason,
  });
}

async function checkConflicts(db: DuckDb, uri: string): Promise<void> {
  const conflicts = await db.query<{ id: string; instance: number; total: number }>(
    `SELECT id, instance, count(*) OVER () AS total FROM labels WHERE k > 1 ORDER BY id, instance LIMIT ${namedConflicts}`,
  );
  if (!conflicts.length) return;
  const ids = conflicts.map((c) => (Number(c.instance) === 0 ? c.id : `${c.id} (instance ${c.instance})`));
  const total = Number(conflicts[0]!.total);
  throw mlopsError('MLOPS_ERR_LABELS_CONFLICT', {
    source: uri,
    count: total,
    ids: `${ids.map((id) => JSON.stringify(id)).join(', ')}${total > ids.length ? ', …' : ''}`,
  });
}

/**
 * Rows of the window and how many have a label; labelled ids (rows with an empty id included) matching no logged
 * row; ids labelled more than once alike.
 */
function countsSql(log: string, window: string): string {
  return `SELECT
    (SELECT count(*) FROM ${window} AS w) AS window,
    (SELECT count(*) FROM ${window} AS w JOIN labels AS l ON l.id = w.request_id AND l.instance = w.instance) AS labelled,
    (SELECT count(*) FROM labels AS l WHERE NOT EXISTS
      (SELECT 1 FROM ${log} AS g WHERE g.request_id = l.id AND g.instance = l.instance))
      + (SELECT count(*) FROM labels_raw WHERE id IS NULL AND y IS NOT NULL) AS unknown,
    (SELECT count(*) FROM labels WHERE n > 1) AS duplicates`;
}

/**
 * The labelled predictions' outputs and labels, in log order. A logged output without a probability of every class
 * (or without a value: another version's) is left out.
 */
async function labelledRows(
  db: DuckDb,
  spec: LabelsJoinSpec,
  window: string,
  folder: string,
): Promise<{ outputs: Float64Array; labels: Float64Array }> {
  const layout = await relationLayout(db, window, folder);
  const outputs =
    spec.task === 'classification'
      ? spec.classes.map((c, i) => `${classProbability(layout, 'w', c)} AS o${i}`)
      : [`${predictedValue(layout, 'w')} AS o0`];
  const names = outputs.map((_, i) => `o${i}`);
  const { columns } = await db.columns(
    `SELECT * FROM (SELECT ${outputs.join(', ')}, l.y, w.ts, w.request_id, w.instance FROM ${window} AS w
       JOIN labels AS l ON l.id = w.request_id AND l.instance = w.instance)
     WHERE ${names.map((n) => `${n} IS NOT NULL`).join(' AND ')} ORDER BY ts, request_id, instance`,
  );
  const width = names.length;
  return {
    outputs: rowMajor(columns, width, Float64Array),
    labels: Float64Array.from((columns[width] ?? []) as number[]),
  };
}
