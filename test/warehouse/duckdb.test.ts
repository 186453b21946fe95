import assert from 'node:assert/strict';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

describe('withDuckDb', function () {
  it('gives each of several calls made at once on two instances its own answer', async () => {
    const rows = await withDuckDb(
      (db) => Promise.all(Array.from({ length: 5 }, (_, i) => db.query(`SELECT ${i} AS call`))),
      { threads: 1, instances: 2 },
    );
    assert.deepEqual(
      rows.map(([row]) => row?.call),
      [0, 1, 2, 3, 4],
    );
  });

  it('runs statements on two connections of one instance at once, and both see the tables either created', async () => {
    const counts = await withDuckDb(
      async (db) => {
        await Promise.all([
          db.run('CREATE TABLE evens AS SELECT i FROM range(0, 1000, 2) t(i)'),
          db.run('CREATE TABLE odds AS SELECT i FROM range(1, 1000, 2) t(i)'),
        ]);
        return Promise.all([
          db.query('SELECT count(*) AS n FROM evens JOIN odds ON odds.i = evens.i + 1'),
          db.query('SELECT (SELECT count(*) FROM evens) + (SELECT count(*) FROM odds) AS n'),
        ]);
      },
      { threads: 1, connections: 2 },
    );
    assert.deepEqual(
      counts.map(([row]) => row?.n),
      [500, 1000],
    );
  });

  it('interrupts queries still running and refuses queued calls when the callback fails', async () => {
    const calls: Promise<unknown>[] = [];
    await assert.rejects(
      withDuckDb(
        (db) => {
          // Handlers are attached at once: the calls reject while withDuckDb closes, before the test awaits them.
          for (let i = 0; i < 3; i++) calls.push(db.query('SELECT sum(i) FROM range(100000000000) t(i)').catch(String));
          return Promise.reject(new Error('the callback failed'));
        },
        { threads: 1, instances: 2 },
      ),
      /the callback failed/,
    );
    const [first, second, queued] = await Promise.all(calls);
    assert.match(String(first), /INTERRUPT/i);
    assert.match(String(second), /INTERRUPT/i);
    assert.match(String(queued), /closed before the statement could run/);
  });
});

describe('columnValues on DuckDB', function () {
  it('gives the same rows from one scan (a wide relation) as from a UNION ALL of scans (a narrow one), nulls left out', async function () {
    const rows = await withDuckDb(async (db) => {
      await db.run(
        `CREATE TABLE t AS SELECT * FROM (VALUES (1.5, 'a', NULL), (NULL, 'b', 3), (2.5, NULL, 4)) v(x, s, n)`,
      );
      const items = [
        { index: 0, column: '"x"', value: 'CAST("x" AS VARCHAR)' },
        { index: 1, column: '"s"', value: '"s"' },
        { index: 2, column: '"n"', value: 'CAST("n" AS VARCHAR)' },
      ];
      const read = (width: number) =>
        db.query(`SELECT col, value FROM ${duckDbDialect.columnValues('t', items, width)} AS v ORDER BY col, value`);
      // 3 columns: three scans; as if the table had 10,000 columns: one scan (25,000 column scans a statement).
      assert.match(duckDbDialect.columnValues('t', items, 3), /UNION ALL/);
      assert.match(duckDbDialect.columnValues('t', items, 10_000), /unnest/);
      return [await read(3), await read(10_000)];
    });
    const expected = [
      { col: 0, value: '1.5' },
      { col: 0, value: '2.5' },
      { col: 1, value: 'a' },
      { col: 1, value: 'b' },
      { col: 2, value: '3' },
      { col: 2, value: '4' },
    ];
    assert.deepEqual(rows[0], expected);
    assert.deepEqual(rows[1], expected);
  });
});
