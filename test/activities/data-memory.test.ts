import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import { exportSnapshot } from '../../src/ingest/snapshot-export';
import { testDeps } from '../support/dependencies';
import { tempDir, testConfig } from '../support/stack';

describe('the data steps under MLOPS_DATA_MEMORY_LIMIT', function () {
  let store: LocalArtifactStore;
  let wide: string;

  before(function () {
    store = new LocalArtifactStore(tempDir('memory-store'));
    // 1,500 numeric columns × 300 rows (about 2 MB of CSV): every column's reader buffers are held at once.
    const columns = Array.from({ length: 1500 }, (_, c) => `f${c}`);
    const rows = Array.from({ length: 300 }, (_, r) =>
      columns.map((_, c) => ((r * 31 + c * 17) % 1000) / 10).join(','),
    );
    wide = path.join(tempDir('memory-data'), 'wide.csv');
    fs.writeFileSync(
      wide,
      `${columns.join(',')},y\n${rows.map((row, r) => `${row},${r % 2 ? 'a' : 'b'}`).join('\n')}\n`,
    );
  });

  after(function () {
    // The limit is the worker's, set by its composition root: back to the default for the tests that follow.
    testDeps();
  });

  it('fails a read that needs more than the limit with a catalogued error naming the limit and the setting, not retried, writing nothing', async function () {
    const config = testConfig({ MLOPS_DATA_MEMORY_LIMIT: '64MB', MLOPS_DATA_ROOTS: path.dirname(wide) });
    const small = createPipelineActivities(testDeps({ store, config }));
    const err = await small.ingestDataset({ sourceUri: wide }).then(
      () => assert.fail('the ingest should run out of memory'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'MLOPS_ERR_DATA_OUT_OF_MEMORY', err.message);
    assert.equal(err.nonRetryable, true);
    assert.match(
      err.message,
      /^MLOPS_ERR_DATA_OUT_OF_MEMORY: The data step needed more memory than DuckDB may hold \(64MB per instance, MLOPS_DATA_MEMORY_LIMIT\): /,
    );
    assert.match(
      err.message,
      /\nFix: A file of thousands of columns is the usual cause \(the default 512MB ingests about 3,000, numeric or text, .*\): .* raise MLOPS_DATA_MEMORY_LIMIT on the pipeline worker/,
    );
    assert.deepEqual(await store.list(store.uri('datasets')), [], 'no snapshot is written');

    const config512 = testConfig({ MLOPS_DATA_ROOTS: path.dirname(wide) });
    const snapshot = await createPipelineActivities(testDeps({ store, config: config512 })).ingestDataset({
      sourceUri: wide,
    });
    assert.equal(snapshot.columns.length, 1501);

    // Exporting it under the small limit: the same catalogued error, not a folder that refuses the file.
    testDeps({ store, config });
    const exported = await exportSnapshot(
      store,
      snapshot.snapshotId,
      path.join(tempDir('memory-export'), 'w.parquet'),
    ).then(
      () => assert.fail('the export should run out of memory'),
      (e: unknown) => e,
    );
    assert.ok(exported instanceof ApplicationFailure, String(exported));
    assert.equal(exported.type, 'MLOPS_ERR_DATA_OUT_OF_MEMORY', exported.message);
  });
});
