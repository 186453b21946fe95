/**
 * The `spelling-variants` warning: values of a text column that differ only in letter case or whitespace (`High`,
 * `high`, ` high `). Almost always a data-entry fault, and one a model cannot see through: each spelling becomes its own
 * category, and in a target its own class. Counted in the warehouse by `spellingVariantsSql`; assembled here.
 */
import type { Row } from '../warehouse/duckdb';
import type { ProfileWarning, SpellingVariantGroup, SpellingVariantSettings } from './dataset-profile';
import type { ProfiledColumn } from './profile-sql';

export const defaultSpellingVariantSettings: Readonly<SpellingVariantSettings> = Object.freeze({
  // The profile's other threshold for reading a column closely (`exactDistinctBelow`): a column with more distinct
  // values is an identifier or free text, which preprocessing would keep at most 1,000 categories of anyway.
  distinctBelow: 10_000,
  groups: 5,
  spellings: 5,
});

/** DuckDB's and BigQuery's text types; other categorical types (booleans, dates) have one spelling per value. */
const textType = /^(VARCHAR|STRING)(\(\d+\))?$/i;

/** The text columns worth checking: two or more distinct values, fewer than `distinctBelow`. */
export function variantCheckedColumns(
  columns: ProfiledColumn[],
  distinct: (c: ProfiledColumn) => number,
  settings: SpellingVariantSettings,
): ProfiledColumn[] {
  return columns.filter(
    (c) => !c.numeric && textType.test(c.type) && distinct(c) > 1 && distinct(c) < settings.distinctBelow,
  );
}

/** One warning per column with variant spellings, in column order, from the rows of `spellingVariantsSql`. */
export function spellingVariantWarnings(columns: ProfiledColumn[], rows: Row[], target: string): ProfileWarning[] {
  return columns.flatMap((c) => {
    const own = rows.filter((r) => count(r.col) === c.index);
    return own.length ? [warning(c.name, c.name === target, own)] : [];
  });
}

function warning(column: string, target: boolean, rows: Row[]): ProfileWarning {
  const groups: SpellingVariantGroup[] = [];
  for (const r of rows) {
    const normalized = String(r.normalized);
    let group = groups.at(-1);
    if (group?.normalized !== normalized) {
      group = { normalized, count: count(r.group_rows), spellings: [], moreSpellings: count(r.spellings) };
      groups.push(group);
    }
    group.spellings.push({ value: String(r.value), count: count(r.n) });
    group.moreSpellings--;
  }
  const rowCount = count(rows[0]!.variant_rows);
  const moreGroups = count(rows[0]!.group_count) - groups.length;
  const message = variantMessage(column, target, groups, moreGroups, rowCount);
  return { kind: 'spelling-variants', column, target, rows: rowCount, groups, moreGroups, message };
}

function variantMessage(
  column: string,
  target: boolean,
  groups: SpellingVariantGroup[],
  moreGroups: number,
  rows: number,
): string {
  const what = target
    ? `Target column ${JSON.stringify(column)} has classes that differ only in letter case or whitespace, so a classifier learns them as different classes`
    : `Column ${JSON.stringify(column)} has values that differ only in letter case or whitespace, so a model learns them as different categories`;
  const listed = groups.map(groupText).join('; ');
  const more = moreGroups ? `; and ${plural(moreGroups, 'more group')}` : '';
  const total = plural(groups.length + moreGroups, 'group');
  return `${what}: ${listed}${more} (${total}, ${plural(rows, 'row')}). ${spellingVariantFix}`;
}

/** What to do about variant spellings; the project has no step that merges them. */
export const spellingVariantFix =
  'Write each value one way in the source data (for example lower-cased, with whitespace trimmed) and ingest it ' +
  'again; preprocessing takes values as written and has no option to merge spellings.';

function groupText(group: SpellingVariantGroup): string {
  const spellings = group.spellings
    .map((s, i) => `${quoteValue(s.value)} (${i ? s.count : plural(s.count, 'row')})`)
    .join(', ');
  return group.moreSpellings ? `${spellings} and ${plural(group.moreSpellings, 'more spelling')}` : spellings;
}

/** Longest value quoted whole, in code points; a longer one is cut and marked `…` after its closing quote. */
const quotedLength = 60;

/**
 * A value as a person should read it in a warning: JSON-quoted, so surrounding spaces, tabs and quotes show, with
 * Unicode spaces other than the plain space escaped (`\u00a0`), since they look like one.
 */
export function quoteValue(value: string): string {
  const points = Array.from(value);
  const shown = points.length > quotedLength ? points.slice(0, quotedLength).join('') : value;
  const quoted = JSON.stringify(shown).replace(
    /(?! )[\s\p{Z}]/gu,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return points.length > quotedLength ? `${quoted}…` : quoted;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function count(value: unknown): number {
  return Number(value ?? 0);
}
