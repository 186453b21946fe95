import assert from 'node:assert/strict';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { GoogleAuth } from 'google-auth-library';
import { createPipelineActivities } from '../../src/activities';
import type { RunningEmulator } from '../../src/dev/emulators';
import { bigQueryScopes } from '../../src/google/credentials';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery-warehouse';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { withWarehouseSession } from '../../src/warehouse/open-warehouse';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { testDeps } from '../support/dependencies';
import { tempDir, testConfig } from '../support/stack';

const project = 'credproj';

/** Asserts a catalogued, non-retryable failure with `code` whose message matches `pattern`. */
async function assertCatalogued(work: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, code);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('Google Cloud credentials of the BigQuery clients (goccy/bigquery-emulator)', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator | undefined;
  let parquet: string;

  before(async function () {
    this.timeout(30 * 60_000);
    emulator = await startTestBigQuery(`projects:\n  - id: ${project}\n    datasets: []\n`);
    parquet = path.join(tempDir('bq-credentials'), 'snapshot.parquet');
    await withDuckDb((db) =>
      db.run(`COPY (SELECT range AS a, 'x' || range AS b FROM range(5)) TO ${literal(parquet)}`),
    );
  });
  after(async function () {
    await emulator?.stop();
  });

  it('a snapshot upload whose client library throws in its request callback fails the call, not the process', async function () {
    // No credentials at all (startTestBigQuery cleared them): the library sends the upload unauthenticated, and
    // teeny-request throws inside @google-cloud/common's request callback.
    const warehouse = new BigQueryWarehouse({
      projectId: project,
      apiEndpoint: emulator!.url,
      dataset: 'contained',
      client: { authClient: new GoogleAuth({ scopes: bigQueryScopes }) as never },
    });
    const session = await warehouse.openSession();
    try {
      await assert.rejects(session.snapshotTable('ds-contained', parquet), /Content-Type/);
    } finally {
      await session.close();
    }
  });

  it('the BigQuery warehouse on the emulator endpoint needs no credentials: the clients send a fixed token', async function () {
    const deps = testDeps({
      config: testConfig({
        MLOPS_GCP_PROJECT: project,
        MLOPS_BIGQUERY_DATASET: 'no_credentials',
        MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
      }),
    });
    const table = await withWarehouseSession('bigquery', { bigquery: deps.bigQueryWarehouse }, 'test', (session) =>
      session.snapshotTable('ds-no-credentials', parquet),
    );
    assert.deepEqual(
      table.columns.map((c) => c.name),
      ['a', 'b', '__row'],
    );
  });

  it('without credentials the BigQuery warehouse on Google fails at once with MLOPS_ERR_GCP_CREDENTIALS_MISSING', async function () {
    const deps = testDeps({
      config: testConfig({ MLOPS_GCP_PROJECT: project, MLOPS_BIGQUERY_DATASET: 'wh' }),
    });
    await assertCatalogued(
      withWarehouseSession('bigquery', { bigquery: deps.bigQueryWarehouse }, 'test', () => Promise.resolve()),
      'MLOPS_ERR_GCP_CREDENTIALS_MISSING',
      /BigQuery warehouse \(dataset wh\).*Could not load the default credentials[\s\S]*GOOGLE_APPLICATION_CREDENTIALS/,
    );
  });

  it('a GOOGLE_APPLICATION_CREDENTIALS file that does not exist fails a bq:// source with MLOPS_ERR_GCP_CREDENTIALS_INVALID naming the file', async function () {
    const keyFile = path.join(tempDir('bq-credentials-key'), 'nonexistent-key.json');
    // The client libraries read the variable themselves too; the config carries it for the clients we build.
    process.env.GOOGLE_APPLICATION_CREDENTIALS = keyFile;
    try {
      const activities = createPipelineActivities(
        testDeps({
          config: testConfig({
            MLOPS_GCP_PROJECT: project,
            MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
            GOOGLE_APPLICATION_CREDENTIALS: keyFile,
          }),
        }),
      );
      await assertCatalogued(
        activities.ingestDataset({ sourceUri: `bq://${project}.sales.rep` }),
        'MLOPS_ERR_GCP_CREDENTIALS_INVALID',
        new RegExp(`key file ${keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(GOOGLE_APPLICATION_CREDENTIALS\\)`),
      );
    } finally {
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    }
  });

  it('a warehouse project that does not exist fails with MLOPS_ERR_WAREHOUSE_NOT_FOUND naming the settings', async function () {
    const deps = testDeps({
      config: testConfig({
        MLOPS_GCP_PROJECT: 'wrongproj',
        MLOPS_BIGQUERY_DATASET: 'wh',
        MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
      }),
    });
    await assertCatalogued(
      withWarehouseSession('bigquery', { bigquery: deps.bigQueryWarehouse }, 'test', () => Promise.resolve()),
      'MLOPS_ERR_WAREHOUSE_NOT_FOUND',
      /dataset wh cannot be used: .*wrongproj[\s\S]*MLOPS_GCP_PROJECT[\s\S]*MLOPS_BIGQUERY_DATASET/,
    );
  });
});
