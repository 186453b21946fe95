import assert from 'node:assert/strict';
import { withDuckDb } from '../../src/warehouse/duckdb';

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
