/**
 * DuckDB's quoting of names and text in SQL. Kept apart from ./duckdb so that SQL can be written (the dialect) without
 * loading DuckDB's native library.
 */

/** Quotes an identifier for DuckDB's SQL. */
export function duckDbIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a string literal for DuckDB's SQL. DuckDB reads SQL text as a C string, which ends at a NUL character: text
 * holding one (a category of uploaded data may) is written as its quoted parts joined by `chr(0)`, in parentheses.
 */
export function duckDbLiteral(value: string): string {
  const quoted = (part: string) => `'${part.replace(/'/g, "''")}'`;
  if (!value.includes('\0')) return quoted(value);
  return `(${value.split('\0').map(quoted).join(' || chr(0) || ')})`;
}
