/**
 * The same window counted on DuckDB and on BigQuery (goccy/bigquery-emulator, through the real client library) against
 * the same stored reference gives the same counts and the same drift report.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningEmulator } from '../../src/dev/emulators';
import type { DriftReport, WindowCounts } from '../../src/drift/compute-drift';
import { countWindow, evaluateDrift } from '../../src/drift/compute-drift';
import type { ColumnReference } from '../../src/drift/reference';
import { computeDriftReference } from '../../src/drift/reference';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery-warehouse';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { bigQueryDialect, duckDbDialect } from '../../src/warehouse/sql-dialect';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { tempDir } from '../support/stack';

interface Row {
  score: number | null;
  visits: number;
  plan: string | null;
  churned: boolean;
}

const plans = ['basic', 'plus', 'pro', "o'brien \\ co", 'team'];

/** Deterministic rows; `shift` moves the score and the plan mix. */
function rows(count: number, seed: number, shift: number): Row[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, (_, i) => ({
    score: i % 17 === 4 ? null : Math.round((next() * 100 + next() * 50 + shift * 20) * 1000) / 1000,
    visits: Math.floor(next() * 8),
    plan: i % 19 === 0 ? null : plans[Math.min(plans.length - 1, Math.floor((next() + shift * 0.3) ** 2 * 5))]!,
    churned: next() < 0.2 + shift * 0.1,
  }));
}

const columns = [
  { name: 'score', numeric: true },
  { name: 'visits', numeric: true },
  { name: 'plan', numeric: false },
  { name: 'churned', numeric: false },
];

function csv(data: Row[]): string {
  const cell = (v: string | number | boolean | null) =>
    v === null ? '' : typeof v === 'string' ? `"${v.replace(/"/g, '""')}"` : String(v);
  return `score,visits,plan,churned\n${data.map((r) => [r.score, r.visits, r.plan, r.churned].map(cell).join(',')).join('\n')}\n`;
}

function seedYaml(data: Row[]): string {
  const text = (v: string | null) => (v === null ? 'null' : JSON.stringify(v));
  const lines = data.map(
    (r) =>
      `              - { score: ${r.score ?? 'null'}, visits: ${r.visits}, plan: ${text(r.plan)}, churned: ${r.churned} }`,
  );
  return `projects:
  - id: test
    datasets:
      - id: monitoring
        tables:
          - id: window
            columns:
              - { name: score, type: FLOAT64 }
              - { name: visits, type: INT64 }
              - { name: plan, type: STRING }
              - { name: churned, type: BOOL }
            data:
${lines.join('\n')}
`;
}

describe('drift on BigQuery (goccy/bigquery-emulator) and DuckDB', function () {
  this.timeout(120_000);
  const window = rows(1500, 777, 0.3);
  let emulator: RunningEmulator | undefined;
  let reference: Record<string, ColumnReference>;
  let onDuckDb: WindowCounts;
  let onBigQuery: WindowCounts;

  before(async function () {
    this.timeout(30 * 60_000);
    emulator = await startTestBigQuery(seedYaml(window));
    const dir = tempDir('drift-bigquery');
    fs.writeFileSync(path.join(dir, 'reference.csv'), csv(rows(3000, 4242, 0)));
    fs.writeFileSync(path.join(dir, 'window.csv'), csv(window));
    const types = `{'score': 'DOUBLE', 'visits': 'BIGINT', 'plan': 'VARCHAR', 'churned': 'BOOLEAN'}`;
    const read = (file: string) => `read_csv(${literal(path.join(dir, file))}, header = true, columns = ${types})`;
    await withDuckDb(
      async (db) => {
        reference = await computeDriftReference((sql) => db.query(sql), duckDbDialect, {
          from: read('reference.csv'),
          columns,
        });
        onDuckDb = await countWindow((sql) => db.query(sql), duckDbDialect, read('window.csv'), reference);
      },
      { threads: 1 },
    );
    const bigQuery = new BigQueryWarehouse({ projectId: 'test', apiEndpoint: emulator.url, location: 'US' });
    onBigQuery = await countWindow(
      (sql) => bigQuery.query(sql),
      bigQueryDialect,
      '`test.monitoring.window`',
      reference,
    );
  });
  after(async function () {
    await emulator?.stop();
  });

  it('counts the window into the same grid cells and categories (a quote and a backslash in a category too)', function () {
    const exact = (counts: WindowCounts) =>
      Object.fromEntries(
        Object.entries(counts).map(([name, c]) => [name, 'sums' in c ? { ...c, sums: undefined } : c]),
      );
    assert.deepEqual(exact(onBigQuery), exact(onDuckDb));
    const plan = onDuckDb.plan!;
    assert.ok('values' in plan && plan.values.reduce((a, b) => a + b, 0) + plan.other === 1500 - plan.nulls);
    assert.ok('cells' in onDuckDb.score! && onDuckDb.score.nulls === 88);
    const stored = reference.plan!;
    const quoted = stored.kind === 'categorical' ? stored.values.findIndex((v) => v.value === plans[3]) : -1;
    assert.ok(quoted >= 0 && 'values' in plan && plan.values[quoted]! > 0, 'the quoted category is counted');
  });

  it('gives the same drift rows and statistics to 1e-9', function () {
    const both = (options?: Parameters<typeof evaluateDrift>[2]): [DriftReport, DriftReport] => [
      evaluateDrift(reference, onBigQuery, options),
      evaluateDrift(reference, onDuckDb, options),
    ];
    for (const preset of ['evidently', 'vertex'] as const) {
      const [b, d] = both({ preset });
      assert.deepEqual(
        b.rows.map((r) => [r.input, r.metric, r.is_anomaly]),
        d.rows.map((r) => [r.input, r.metric, r.is_anomaly]),
      );
      b.columns.forEach((column, i) => {
        for (const [metric, value] of Object.entries(column.statistics)) {
          const other = d.columns[i]!.statistics[metric as keyof typeof column.statistics]!;
          assert.ok(Math.abs(value - other) <= 1e-9 * Math.max(1, Math.abs(other)), `${column.input} ${metric}`);
        }
      });
    }
    const [b] = both();
    assert.ok(b.dataset.driftedColumns.includes('score'), 'the shifted score drifts');
  });
});
