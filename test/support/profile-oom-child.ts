/**
 * Profiles a table too large for a DuckDB memory limit of 8 MB, in a process of its own: a DuckDB that runs out of
 * memory has been seen to crash its process (a segmentation fault) rather than answer, which must not take the test
 * run with it. Prints the outcome as one JSON line: `{"type", "nonRetryable", "message"}` of the error, or `{"ok"}`.
 */
import { ApplicationFailure } from '@temporalio/common';
import { computeProfile } from '../../src/profiling/compute-profile';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

async function main(): Promise<void> {
  const outcome = await withDuckDb(
    async (db) => {
      // Set on the open instance: one created with so small a limit has crashed (SIGSEGV) in CI runs.
      await db.run(`SET memory_limit = '8MB'`);
      const names = Array.from({ length: 20 }, (_, j) => `c${j}`);
      const from = `(SELECT ${names.map((c, j) => `i * ${j + 1} AS ${c}`).join(', ')} FROM range(0, 300000) t(i))`;
      const columns = names.map((name) => ({ name, type: 'BIGINT' }));
      return computeProfile(db, duckDbDialect, { snapshotId: 'tight', target: 'c0', from, columns }).then(
        () => ({ ok: true }),
        (err: unknown) =>
          err instanceof ApplicationFailure
            ? { type: err.type, nonRetryable: err.nonRetryable, message: err.message }
            : { message: String(err) },
      );
    },
    { threads: 1 },
  );
  console.log(JSON.stringify(outcome));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
