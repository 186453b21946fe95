/**
 * Our side of bench/drift-vs-evidently.ts, one phase per process so each peak RSS is its own. Prints one JSON line.
 *
 *   reference <reference.parquet> <reference.json>   the drift reference, as the profile stores it (profile.json's
 *                                                    `drift` fields: same settings, same sample of the grid quantiles)
 *   check <reference.json> <current.parquet>         the monitor's check: count the window per reference cell and
 *                                                    value in DuckDB, then judge it with the `evidently` preset
 *
 * Threads: MLOPS_DATA_THREADS, as on a worker (the profile runs that many single-threaded instances side by side; the
 * monitor's check one instance with that many threads).
 */
import fs from 'node:fs';
import { loadConfig } from '../src/config';
import { countWindow, evaluateDrift } from '../src/drift/compute-drift';
import type { ColumnReference } from '../src/drift/reference';
import { computeDriftReference } from '../src/drift/reference';
import { defaultProfileSettings } from '../src/profiling/compute-profile';
import { literal, withDuckDb } from '../src/warehouse/duckdb';
import { duckDbDialect } from '../src/warehouse/sql-dialect';
import { rowNumberColumn, rowNumberedParquet } from '../src/warehouse/warehouse';

const threads = loadConfig().data.threads;

async function buildReference(parquet: string, out: string) {
  const reference = await withDuckDb(
    async (db) => {
      const from = `read_parquet(${literal(parquet)})`;
      const described = await db.query<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${from}`);
      return computeDriftReference((sql) => db.query(sql), duckDbDialect, {
        from,
        columns: described.map((c) => ({ name: c.column_name, numeric: duckDbDialect.isNumericType(c.column_type) })),
        settings: defaultProfileSettings.drift,
        sample: {
          from: rowNumberedParquet(parquet),
          rowNumber: rowNumberColumn,
          size: defaultProfileSettings.quantileSampleRows,
        },
      });
    },
    { threads: 1, instances: threads },
  );
  fs.writeFileSync(out, JSON.stringify(reference));
  return { columns: Object.keys(reference).length };
}

async function check(referenceJson: string, parquet: string) {
  const reference = JSON.parse(fs.readFileSync(referenceJson, 'utf8')) as Record<string, ColumnReference>;
  const counted = performance.now();
  const counts = await withDuckDb(
    (db) => countWindow((sql) => db.query(sql), duckDbDialect, `read_parquet(${literal(parquet)})`, reference),
    { threads },
  );
  const countSeconds = (performance.now() - counted) / 1000;
  const report = evaluateDrift(reference, counts, { preset: 'evidently' });
  return {
    countSeconds,
    drifted: report.dataset.driftedColumns,
    datasetDrift: report.dataset.drifted,
    columns: Object.fromEntries(report.rows.map((r) => [r.input, { metric: r.metric, value: r.value }])),
  };
}

async function main(): Promise<void> {
  const [phase, a, b] = process.argv.slice(2) as [string, string, string];
  const started = performance.now();
  const result = phase === 'reference' ? await buildReference(a, b) : await check(a, b);
  const { user, system } = process.cpuUsage();
  console.log(
    JSON.stringify({
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: (user + system) / 1e6,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      threads,
      ...result,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
