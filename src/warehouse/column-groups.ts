/**
 * Statements over wide data read their columns in groups. A DuckDB statement holds buffers for every column it reads
 * (a Parquet scan's decoded vectors, an aggregate's states): about 0.1 MB a column, so one statement over 3,000 columns
 * took 300 MB, and the few that run side by side in a step went past the instance's memory limit on a 5 MB file. A
 * group of at most {@link columnsPerStatement} columns keeps each statement small whatever the width; data of that
 * width or less runs the one statement it always did.
 */

/**
 * Column scans one DuckDB statement may hold. A statement that reads a relation several times (a UNION ALL of one
 * branch per column) holds, for each scan, state for every column of the relation, read or not, outside the memory
 * limit: 100 scans of a 6,000-column Parquet file took 5 GB. A relation of `width` columns gets this many divided by its
 * width scans per statement (100 at 250 columns, 8 at 3,000).
 */
export const columnScansPerStatement = 25_000;

/** The most scans of a relation of `width` columns one DuckDB statement may hold ({@link columnScansPerStatement}). */
export function scansPerStatement(width: number): number {
  return Math.max(1, Math.floor(columnScansPerStatement / Math.max(1, width)));
}

/** The most columns one statement of a data step aggregates. */
export const columnsPerStatement = 256;

/**
 * `items` in consecutive groups of at most `size`, each with the index of its first item; with `atLeastOne`, one empty
 * group when there are no items (for a statement that counts rows as well).
 */
export function columnGroups<T>(
  items: readonly T[],
  { size = columnsPerStatement, atLeastOne = false } = {},
): { group: T[]; offset: number }[] {
  const groups: { group: T[]; offset: number }[] = [];
  for (let offset = 0; offset < items.length; offset += size)
    groups.push({ group: items.slice(offset, offset + size), offset });
  return groups.length === 0 && atLeastOne ? [{ group: [], offset: 0 }] : groups;
}

/**
 * Runs `statement` for each group of `items` and merges the results' fields (each group's names its own items).
 * The statements are issued together: the warehouse runs as many at once as it has handles for.
 */
export async function mergedOverColumnGroups<T>(
  items: readonly T[],
  statement: (group: T[], offset: number) => Promise<Record<string, unknown>>,
  options: { atLeastOne?: boolean } = {},
): Promise<Record<string, unknown>> {
  const parts = await Promise.all(columnGroups(items, options).map(({ group, offset }) => statement(group, offset)));
  return Object.assign({}, ...parts) as Record<string, unknown>;
}
