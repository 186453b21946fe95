/**
 * What changed between two dataset snapshots (`npm run datasets -- diff <from> <to>`): the columns added, removed or
 * retyped; the rows each has that the other lacks (as multisets, over the columns both have with one type); and, per
 * shared column, its missing values, its range and mean (numbers, dates) or its categories, new and gone (text,
 * booleans). Computed in an embedded DuckDB over the two snapshots' Parquet files.
 */
import type { ArtifactStore } from '../artifacts';
import { withLocalCopy } from '../artifacts';
import type { ColumnSchema, SnapshotManifest } from '../contracts/datasets';
import { quoteText, shareText } from '../contracts/message-text';
import { ident, isNumericType, literal, withDuckDb } from '../warehouse/duckdb';
import type { DuckDb } from '../warehouse/duckdb';
import { describeSnapshot } from './catalog';

export interface SnapshotSide {
  snapshotId: string;
  rowCount: number;
  source: string;
  createdAt: string;
}

export interface ColumnChange {
  name: string;
  type: string;
  nulls: { from: number; to: number };
  /** Numbers: their mean and range; dates and times: their range (as text). */
  range?: { from: Range; to: Range };
  /**
   * Any other column (text, booleans, lists, structs, compared as text): how many distinct values, and up to
   * `valueSamples` of those found on one side only, most rows first.
   */
  categories?: {
    from: number;
    to: number;
    added: { count: number; top: ValueCount[] };
    removed: { count: number; top: ValueCount[] };
  };
}

export interface Range {
  min: number | string | null;
  max: number | string | null;
  mean?: number | null;
}

export interface ValueCount {
  value: string;
  rows: number;
}

export interface SnapshotDiff {
  from: SnapshotSide;
  to: SnapshotSide;
  columns: { added: ColumnSchema[]; removed: ColumnSchema[]; retyped: { name: string; from: string; to: string }[] };
  rows: {
    /** Rows of `from` with no equal row in `to` (removed, or changed in a compared column). */
    onlyInFrom: number;
    /** Rows of `to` with no equal row in `from` (added, or changed). */
    onlyInTo: number;
    /** Rows found in both. */
    inBoth: number;
    /** The columns rows were compared on: those both snapshots have with the same type. */
    comparedOn: string[];
  };
  /** The shared columns whose figures differ, in `to`'s column order. */
  changed: ColumnChange[];
  /** How many shared columns have the same figures on both sides. */
  unchangedColumns: number;
}

/** Values shown per side of a category change. */
const valueSamples = 5;

const temporalType = /^(DATE|TIME|TIMESTAMP)/;

/** How a column's figures are taken: range and mean, range, or its values (as text: booleans, lists, structs too). */
function kindOf(type: string): 'number' | 'time' | 'values' {
  return isNumericType(type) ? 'number' : temporalType.test(type) ? 'time' : 'values';
}

export async function diffSnapshots(store: ArtifactStore, fromId: string, toId: string): Promise<SnapshotDiff> {
  const [from, to] = await Promise.all([describeSnapshot(store, fromId), describeSnapshot(store, toId)]);
  return withLocalCopy(store, from.manifest.dataUri, (fromFile) =>
    withLocalCopy(store, to.manifest.dataUri, (toFile) =>
      withDuckDb((db) => compare(db, from.manifest, fromFile, to.manifest, toFile), { connections: 2 }),
    ),
  );
}

async function compare(
  db: DuckDb,
  from: SnapshotManifest,
  fromFile: string,
  to: SnapshotManifest,
  toFile: string,
): Promise<SnapshotDiff> {
  const fromTypes = new Map(from.columns.map((c) => [c.name, c.type]));
  const toTypes = new Map(to.columns.map((c) => [c.name, c.type]));
  const shared = to.columns.filter((c) => fromTypes.get(c.name) === c.type);
  const columns = {
    added: to.columns.filter((c) => !fromTypes.has(c.name)),
    removed: from.columns.filter((c) => !toTypes.has(c.name)),
    retyped: to.columns
      .filter((c) => fromTypes.has(c.name) && fromTypes.get(c.name) !== c.type)
      .map((c) => ({ name: c.name, from: fromTypes.get(c.name)!, to: c.type })),
  };
  await db.run(`CREATE VIEW a AS SELECT * FROM read_parquet(${literal(fromFile)})`);
  await db.run(`CREATE VIEW b AS SELECT * FROM read_parquet(${literal(toFile)})`);
  const [rows, fromFigures, toFigures, categories] = await Promise.all([
    compareRows(db, shared),
    columnFigures(db, 'a', shared),
    columnFigures(db, 'b', shared),
    Promise.all(
      shared.map((c) => (kindOf(c.type) === 'values' ? categoryChange(db, c.name) : Promise.resolve(undefined))),
    ),
  ]);
  const changes = shared.map((c, i): ColumnChange => {
    const f = fromFigures[i]!;
    const t = toFigures[i]!;
    return {
      name: c.name,
      type: c.type,
      nulls: { from: share(f.nulls, from.rowCount), to: share(t.nulls, to.rowCount) },
      ...(f.range && t.range && { range: { from: f.range, to: t.range } }),
      ...(categories[i] && { categories: { from: f.distinct!, to: t.distinct!, ...categories[i] } }),
    };
  });
  const changed = changes.filter(isChanged);
  return {
    from: side(from),
    to: side(to),
    columns,
    rows: { ...rows, inBoth: from.rowCount - rows.onlyInFrom, comparedOn: shared.map((c) => c.name) },
    changed,
    unchangedColumns: changes.length - changed.length,
  };
}

function side(m: SnapshotManifest): SnapshotSide {
  const source = m.source.query ? `${m.source.uri} (query)` : m.source.uri;
  return { snapshotId: m.snapshotId, rowCount: m.rowCount, source, createdAt: m.createdAt };
}

function share(count: number, rows: number): number {
  return rows === 0 ? 0 : count / rows;
}

/** Rows as multisets over the shared columns: a row twice in one and once in the other counts once. */
async function compareRows(db: DuckDb, shared: ColumnSchema[]): Promise<{ onlyInFrom: number; onlyInTo: number }> {
  if (shared.length === 0) {
    const [counts] = await db.query<{ a: number; b: number }>(
      'SELECT (SELECT count(*) FROM a) a, (SELECT count(*) FROM b) b',
    );
    return { onlyInFrom: counts!.a, onlyInTo: counts!.b };
  }
  const list = shared.map((c) => ident(c.name)).join(', ');
  const only = (x: string, y: string) =>
    db.query<{ n: number }>(`SELECT count(*) n FROM (SELECT ${list} FROM ${x} EXCEPT ALL SELECT ${list} FROM ${y})`);
  const [[a], [b]] = await Promise.all([only('a', 'b'), only('b', 'a')]);
  return { onlyInFrom: a!.n, onlyInTo: b!.n };
}

interface Figures {
  nulls: number;
  distinct?: number;
  range?: Range;
}

/** Each shared column's missing values and its range or distinct count, in one pass over one side. */
async function columnFigures(db: DuckDb, table: string, shared: ColumnSchema[]): Promise<Figures[]> {
  if (shared.length === 0) return [];
  const selects = shared.flatMap((c, i) => {
    const col = ident(c.name);
    const nulls = `count(*) - count(${col}) AS n${i}`;
    const kind = kindOf(c.type);
    if (kind === 'number')
      return [nulls, `min(${col})::DOUBLE AS lo${i}`, `max(${col})::DOUBLE AS hi${i}`, `avg(${col})::DOUBLE AS m${i}`];
    if (kind === 'time') return [nulls, `min(${col})::VARCHAR AS lo${i}`, `max(${col})::VARCHAR AS hi${i}`];
    return [nulls, `count(DISTINCT ${col}::VARCHAR) AS d${i}`];
  });
  const [row] = await db.query(`SELECT ${selects.join(', ')} FROM ${table}`);
  return shared.map((c, i): Figures => {
    const value = (key: string) => row![`${key}${i}`] as number | string | null;
    const nulls = Number(value('n'));
    const kind = kindOf(c.type);
    if (kind === 'number')
      return { nulls, range: { min: value('lo'), max: value('hi'), mean: value('m') as number | null } };
    if (kind === 'time') return { nulls, range: { min: value('lo'), max: value('hi') } };
    return { nulls, distinct: Number(value('d')) };
  });
}

/** The values of a column found on one side only (compared as text), with their row counts. */
async function categoryChange(
  db: DuckDb,
  name: string,
): Promise<Pick<NonNullable<ColumnChange['categories']>, 'added' | 'removed'>> {
  const col = ident(name);
  const onlyIn = async (x: string, y: string) => {
    const text = `${col}::VARCHAR`;
    const values =
      `SELECT ${text} AS value, count(*) AS rows FROM ${x} WHERE ${col} IS NOT NULL ` +
      `AND ${text} NOT IN (SELECT ${text} FROM ${y} WHERE ${col} IS NOT NULL) GROUP BY 1`;
    const [counted, top] = await Promise.all([
      db.query<{ n: number }>(`SELECT count(*) n FROM (${values})`),
      db.query<{ value: string; rows: number }>(`${values} ORDER BY rows DESC, value LIMIT ${valueSamples}`),
    ]);
    return { count: counted[0]!.n, top: top.map((t) => ({ value: t.value, rows: Number(t.rows) })) };
  };
  const [added, removed] = await Promise.all([onlyIn('b', 'a'), onlyIn('a', 'b')]);
  return { added, removed };
}

function isChanged(c: ColumnChange): boolean {
  if (c.nulls.from !== c.nulls.to) return true;
  if (c.range && JSON.stringify(c.range.from) !== JSON.stringify(c.range.to)) return true;
  const k = c.categories;
  return k !== undefined && (k.from !== k.to || k.added.count > 0 || k.removed.count > 0);
}

/** The diff as a person reads it in a terminal. */
export function renderSnapshotDiff(d: SnapshotDiff): string {
  const head = (s: SnapshotSide) => `${s.snapshotId} (${s.rowCount} rows, ${s.source}, ${s.createdAt})`;
  const lines = [`From ${head(d.from)}`, `  to ${head(d.to)}`];
  if (d.from.snapshotId === d.to.snapshotId) return `${[...lines, 'The same snapshot: nothing changed.'].join('\n')}\n`;
  const { rows, columns } = d;
  const compared =
    rows.comparedOn.length === 0
      ? 'no column in common with one type, so every row counts as changed'
      : `compared on ${rows.comparedOn.length} column(s)`;
  lines.push(
    `rows: ${rows.inBoth} in both, ${rows.onlyInFrom} only in ${d.from.snapshotId} (removed or changed), ` +
      `${rows.onlyInTo} only in ${d.to.snapshotId} (added or changed); ${compared}`,
  );
  const columnNotes = [
    ...columns.added.map((c) => `+ ${quoteText(c.name)} ${c.type}`),
    ...columns.removed.map((c) => `- ${quoteText(c.name)} ${c.type}`),
    ...columns.retyped.map((c) => `~ ${quoteText(c.name)} ${c.from} → ${c.to}`),
  ];
  lines.push(`columns: ${columnNotes.length ? '' : 'the same names and types'}`.trimEnd());
  lines.push(...columnNotes.map((n) => `  ${n}`));
  if (d.changed.length)
    lines.push('changed columns:', ...d.changed.map((c) => `  ${quoteText(c.name)}: ${changeText(c)}`));
  lines.push(`unchanged columns: ${d.unchangedColumns}`);
  return `${lines.join('\n')}\n`;
}

function changeText(c: ColumnChange): string {
  const parts: string[] = [];
  if (c.nulls.from !== c.nulls.to) parts.push(`missing ${shareText(c.nulls.from)} → ${shareText(c.nulls.to)}`);
  if (c.range) {
    const { from, to } = c.range;
    if (from.mean !== undefined && from.mean !== to.mean) parts.push(`mean ${num(from.mean)} → ${num(to.mean)}`);
    if (from.min !== to.min) parts.push(`min ${num(from.min)} → ${num(to.min)}`);
    if (from.max !== to.max) parts.push(`max ${num(from.max)} → ${num(to.max)}`);
  }
  const k = c.categories;
  if (k) {
    if (k.from !== k.to) parts.push(`${k.from} → ${k.to} distinct values`);
    if (k.added.count) parts.push(`new: ${valuesText(k.added)}`);
    if (k.removed.count) parts.push(`gone: ${valuesText(k.removed)}`);
  }
  return parts.join('; ');
}

function valuesText({ count, top }: { count: number; top: ValueCount[] }): string {
  const shown = top.map((v) => `${quoteText(v.value, 40)} (${v.rows} row${v.rows === 1 ? '' : 's'})`).join(', ');
  return count > top.length ? `${shown} and ${count - top.length} more` : shown;
}

function num(x: number | string | null | undefined): string {
  if (x === null || x === undefined) return 'none';
  return typeof x === 'number' ? String(Number(x.toPrecision(6))) : x;
}
