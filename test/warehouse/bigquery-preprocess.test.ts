import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { createPipelineActivities } from '../../src/activities';
import type { PipelineActivities } from '../../src/activities';
import { LocalArtifactStore, readJson } from '../../src/artifacts';
import type {
  DatasetSnapshot,
  FittedTransform,
  PreprocessInput,
  PreprocessResult,
  PreprocessingSpec,
} from '../../src/contracts/datasets';
import type { RunningEmulator } from '../../src/dev/emulators';
import { isMlopsError } from '../../src/errors';
import type { DatasetProfile, NumericColumnProfile } from '../../src/profiling/dataset-profile';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { churnPipelineInput } from '../support/pipeline-input';
import { exampleDataset, stack, tempDir, testConfig, uniqueName, testSources } from '../support/stack';
import { withWorkers } from '../support/workers';
import { trainingPipeline } from '../../src/workflows';

const project = 'test';
const warehouseDataset = 'mlops_warehouse';

/** 1,500 rows of the bundled churn data, with a few exact duplicates appended so deduplication has work to do. */
function sampleCsv(): string {
  const lines = fs.readFileSync(exampleDataset, 'utf8').trimEnd().split('\n').slice(0, 1501);
  const file = path.join(tempDir('bq-preprocess-data'), 'churn-sample.csv');
  fs.writeFileSync(file, [...lines, lines[10], lines[200], lines[200]].join('\n') + '\n');
  return file;
}

/** Median and mean imputation and clipping: medians and clip bounds are exact on both (PERCENTILE_CONT on BigQuery). */
const spec: PreprocessingSpec = {
  dedupe: true,
  defaults: { numeric: { impute: 'median' }, categorical: { impute: 'most_frequent' } },
  features: {
    contract: { encoding: 'ordinal' },
    region: { maxCategories: 3 },
    monthly_charges: { impute: 'mean', clip: { lower: 0.05, upper: 0.95 } },
    total_charges: { clip: { upper: 0.99 } },
  },
};

async function readRows(uri: string): Promise<Record<string, unknown>[]> {
  return withDuckDb((db) => db.query(`SELECT * FROM read_parquet(${literal(fileURLToPath(uri))})`));
}

function assertClose(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected !== 'number' || typeof actual !== 'number') return assert.deepEqual(actual, expected, what);
  const scale = Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= 1e-9 * scale, `${what}: ${actual} vs ${expected}`);
}

describe('preprocessing and profiling in BigQuery (goccy/bigquery-emulator) and DuckDB', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator | undefined;
  let onBigQuery: PipelineActivities;
  let onDuckDb: PipelineActivities;
  let snapshot: DatasetSnapshot;
  let duckSnapshot: DatasetSnapshot;
  let client: BigQuery;
  let authClient: OAuth2Client;
  let bqStore: LocalArtifactStore;
  let duckStore: LocalArtifactStore;

  before(async function () {
    this.timeout(30 * 60_000);
    emulator = await startTestBigQuery(`projects:\n  - id: ${project}\n    datasets: []\n`);
    // A fixed bearer token stands in for Application Default Credentials: the client's load-job upload needs an
    // authenticated request, and the emulator accepts any token.
    authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'emulator', expiry_date: Date.now() + 3_600_000 });
    bqStore = new LocalArtifactStore(tempDir('bq-preprocess-store'));
    duckStore = new LocalArtifactStore(tempDir('bq-preprocess-duck'));
    onBigQuery = createPipelineActivities({
      store: bqStore,
      config: testConfig({
        MLOPS_GCP_PROJECT: project,
        MLOPS_BIGQUERY_DATASET: warehouseDataset,
        MLOPS_BIGQUERY_API_ENDPOINT: emulator.url,
      }),
      bigQueryClient: { authClient },
    });
    onDuckDb = createPipelineActivities({ sources: testSources(), store: duckStore });
    snapshot = await onBigQuery.ingestDataset({ sourceUri: sampleCsv() });
    // Each side has its own store, or the second would reuse the first one's stored result.
    duckSnapshot = await onDuckDb.ingestDataset({ sourceUri: sampleCsv() });
    assert.equal(duckSnapshot.snapshotId, snapshot.snapshotId);
    client = new BigQuery({ projectId: project, apiEndpoint: emulator.url });
  });
  after(async function () {
    await emulator?.stop();
  });

  function input(warehouse: 'duckdb' | 'bigquery', preprocessing: PreprocessingSpec = spec): PreprocessInput {
    return {
      ...(warehouse === 'duckdb' ? duckSnapshot : snapshot),
      target: 'churned',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.1, seed: 7 },
      preprocessing,
      warehouse,
    };
  }

  async function compare(bq: PreprocessResult, duck: PreprocessResult): Promise<void> {
    assert.deepEqual(bq.rows, duck.rows);
    assert.deepEqual(bq.droppedRows, duck.droppedRows);
    assert.deepEqual(bq.classes, duck.classes);
    assert.deepEqual(bq.featureColumns, duck.featureColumns);
    const tb = await readJson<FittedTransform>(bqStore, bq.transformUri);
    const td = await readJson<FittedTransform>(duckStore, duck.transformUri);
    tb.features.forEach((f, i) => {
      const g = td.features[i]!;
      if (f.kind !== 'numeric' || g.kind !== 'numeric') return assert.deepEqual(f, g, f.name);
      for (const key of ['impute', 'mean', 'std'] as const) assertClose(f[key], g[key], `${f.name}.${key}`);
      assert.equal(Boolean(f.clip), Boolean(g.clip), `${f.name} clipped on both or neither`);
      for (const side of ['lower', 'upper'] as const)
        assertClose(f.clip?.[side] ?? null, g.clip?.[side] ?? null, `${f.name}.clip.${side}`);
    });
    for (const split of ['trainUri', 'validationUri', 'testUri'] as const) {
      const [rb, rd] = await Promise.all([readRows(bq[split]), readRows(duck[split])]);
      assert.equal(rb.length, rd.length, split);
      assert.deepEqual(Object.keys(rb[0]!), Object.keys(rd[0]!), `${split} columns`);
      rb.forEach((row, i) => {
        for (const [column, value] of Object.entries(row))
          assertClose(value, rd[i]![column], `${split} row ${i} ${column}`);
      });
    }
  }

  it('splits, fits and writes the same rows in BigQuery as in DuckDB (deduplicated, one-hot and ordinal)', async function () {
    const bq = await onBigQuery.preprocessDataset(input('bigquery'));
    const duck = await onDuckDb.preprocessDataset(input('duckdb'));
    assert.deepEqual(bq.droppedRows, { missingTarget: 0, duplicates: 3 });
    assert.equal(bq.rows.train + bq.rows.validation + bq.rows.test, 1500);
    await compare(bq, duck);
  });

  it('stratifies by class in BigQuery exactly as in DuckDB', async function () {
    const stratified = { ...spec, dedupe: false, stratify: true };
    const bq = await onBigQuery.preprocessDataset(input('bigquery', stratified));
    const duck = await onDuckDb.preprocessDataset(input('duckdb', stratified));
    assert.deepEqual(bq.droppedRows, { missingTarget: 0, duplicates: 0 });
    await compare(bq, duck);
  });

  it('stages each snapshot once, with its row numbers, and drops every scratch table', async function () {
    const [tables] = await client.dataset(warehouseDataset).getTables();
    const names = tables.map((t) => t.id);
    assert.deepEqual(names, [`mlops_snapshot_${snapshot.snapshotId.replace(/[^A-Za-z0-9_]/g, '_')}`]);
    const [rows] = await client.query(
      `SELECT COUNT(*) AS n, MIN(__row) AS first, MAX(__row) AS last FROM \`${project}.${warehouseDataset}.${names[0]}\``,
    );
    assert.deepEqual(rows[0], { n: 1503, first: 0, last: 1502 });
  });

  it('keeps a staged snapshot for MLOPS_BIGQUERY_STAGING_DAYS after each use, and stages it again once deleted', async function () {
    const day = 86_400_000;
    const stagedName = `mlops_snapshot_${snapshot.snapshotId.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const staged = client.dataset(warehouseDataset).table(stagedName);
    const expiresIn = async () => {
      const [metadata] = (await staged.getMetadata()) as unknown as [{ expirationTime?: string }];
      return Number(metadata.expirationTime) - Date.now();
    };
    const withSeed = (seed: number) => ({ ...input('bigquery'), split: { ...input('bigquery').split, seed } });
    await onBigQuery.preprocessDataset(withSeed(10));
    assert.ok(Math.abs((await expiresIn()) - 7 * day) < 10 * 60_000, 'by default, expires 7 days after its last use');
    const twoDays = createPipelineActivities({
      store: bqStore,
      config: testConfig({
        MLOPS_GCP_PROJECT: project,
        MLOPS_BIGQUERY_DATASET: warehouseDataset,
        MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
        MLOPS_BIGQUERY_STAGING_DAYS: '2',
      }),
      bigQueryClient: { authClient },
    });
    // A use moves the expiration to two days from now, even from an hour away.
    await staged.setMetadata({ expirationTime: String(Date.now() + 3_600_000) });
    await twoDays.preprocessDataset(withSeed(8));
    assert.ok(Math.abs((await expiresIn()) - 2 * day) < 10 * 60_000, 'expires 2 days after this use');
    // Once BigQuery has deleted it, the next step stages it again, whole.
    await staged.delete();
    const again = await twoDays.preprocessDataset(withSeed(9));
    assert.equal(again.rows.train + again.rows.validation + again.rows.test, 1500);
    const [rows] = await client.query(`SELECT COUNT(*) AS n FROM \`${project}.${warehouseDataset}.${stagedName}\``);
    assert.deepEqual(rows[0], { n: 1503 });
    assert.ok(Math.abs((await expiresIn()) - 2 * day) < 10 * 60_000, 'restaged with the same expiration');
    const [tables] = await client.dataset(warehouseDataset).getTables();
    assert.deepEqual(
      tables.map((t) => t.id),
      [stagedName],
    );
  });

  it('profiles the staged snapshot in BigQuery with the numbers DuckDB gives, quantiles included', async function () {
    const bq = await onBigQuery.profileDataset({ ...snapshot, target: 'churned', warehouse: 'bigquery' });
    const duck = await onDuckDb.profileDataset({ ...duckSnapshot, target: 'churned' });
    const pb = await readJson<DatasetProfile>(bqStore, bq.profileUri);
    const pd = await readJson<DatasetProfile>(duckStore, duck.profileUri);
    assert.equal(pb.rowCount, 1503);
    assert.deepEqual(
      pb.columns.map((c) => c.name),
      pd.columns.map((c) => c.name),
    );
    assert.deepEqual(pb.targetDistribution, pd.targetDistribution);
    for (const [i, c] of pb.columns.entries()) {
      const d = pd.columns[i]!;
      assert.deepEqual([c.kind, c.count, c.nulls], [d.kind, d.count, d.nulls], c.name);
      if (c.kind === 'categorical' && d.kind === 'categorical')
        assert.deepEqual([c.top, c.otherCount], [d.top, d.otherCount], c.name);
      if (c.kind === 'numeric') {
        const n = d as NumericColumnProfile;
        assert.deepEqual([c.min, c.max, c.histogram], [n.min, n.max, n.histogram], c.name);
        assertClose(c.mean, n.mean, `${c.name} mean`);
        // Exact on both warehouses, over the same rows (all of them: fewer than the 100,000-row sample).
        assert.deepEqual(Object.keys(c.quantiles), Object.keys(n.quantiles), `${c.name} quantile levels`);
        for (const [level, value] of Object.entries(c.quantiles))
          assertClose(value, n.quantiles[level], `${c.name} ${level}`);
      }
    }
    assert.ok(fs.readFileSync(fileURLToPath(bq.reportUri), 'utf8').includes('vega'));
  });

  it('ingests a BigQuery query result with a TIMESTAMP column, stages it and preprocesses it as DuckDB does', async function () {
    const staged = `${project}.${warehouseDataset}.mlops_snapshot_${snapshot.snapshotId.replace('-', '_')}`;
    const query =
      'SELECT * EXCEPT (__row), TIMESTAMP_ADD(TIMESTAMP "2026-01-01 00:00:00+00", INTERVAL tenure_months DAY) AS signup ' +
      `FROM \`${staged}\` WHERE __row < 600`;
    const fromQuery = await onBigQuery.ingestDataset({ sourceUri: `bq://${project}`, query });
    assert.equal(fromQuery.rowCount, 600);
    assert.equal(fromQuery.columns.find((c) => c.name === 'signup')?.type, 'TIMESTAMP WITH TIME ZONE');
    const features = fromQuery.columns.map((c) => c.name).filter((n) => n !== 'churned' && n !== 'signup');
    const request = (warehouse: 'duckdb' | 'bigquery'): PreprocessInput => ({
      ...fromQuery,
      target: 'churned',
      features,
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.2, seed: 3 },
      preprocessing: spec,
      warehouse,
    });
    const bq = await onBigQuery.preprocessDataset(request('bigquery'));
    // The same rows as a Parquet file ingested into the DuckDB side's own store, preprocessed there.
    const own = await onDuckDb.ingestDataset({ sourceUri: fileURLToPath(fromQuery.dataUri), format: 'parquet' });
    const duck = await onDuckDb.preprocessDataset({ ...request('duckdb'), ...own });
    await compare(bq, duck);
    const response: unknown[] = await client
      .dataset(warehouseDataset)
      .table(`mlops_snapshot_${fromQuery.snapshotId.replace('-', '_')}`)
      .getMetadata();
    const fields = (response[0] as { schema: { fields: { name: string; type: string }[] } }).schema.fields;
    assert.equal(fields.find((f) => f.name === 'signup')?.type, 'TIMESTAMP');
  });

  it('runs the training pipeline with warehouse "bigquery": profiled and preprocessed in BigQuery, then trained and deployed', async function () {
    const config = testConfig({
      MLOPS_GCP_PROJECT: project,
      MLOPS_BIGQUERY_DATASET: 'mlops_pipeline',
      MLOPS_BIGQUERY_API_ENDPOINT: emulator!.url,
    });
    const title = this.test!.title;
    const result = await withWorkers(
      config,
      title,
      async (queues) => {
        const handle = await stack().client.workflow.start(trainingPipeline, {
          taskQueue: queues.pipeline,
          workflowId: uniqueName(title),
          args: [
            churnPipelineInput({
              dataset: { uri: sampleCsv() },
              warehouse: 'bigquery',
              trainer: { kind: 'builtin-linear', hyperparameters: { epochs: 8 }, taskQueue: queues.training },
            }),
          ],
        });
        return handle.result();
      },
      undefined,
      { bigQueryClient: { authClient } },
    );
    assert.equal(result.outcome, 'deployed');
    assert.ok(result.metrics.auc! > 0.7, `test AUC ${result.metrics.auc}`);
    const [tables] = await client.dataset('mlops_pipeline').getTables();
    assert.deepEqual(
      tables.map((t) => t.id),
      [`mlops_snapshot_${result.snapshotId.replace('-', '_')}`],
    );
  });

  it('fails non-retryably with MLOPS_ERR_BIGQUERY_PERMISSION_DENIED when the warehouse dataset is refused, writing nothing', async function () {
    // The emulator has no permissions; this stand-in answers every request as BigQuery does without access.
    const server = http.createServer((_req, res) => {
      const message = 'Access Denied: Dataset test:mlops_warehouse: Permission bigquery.datasets.get denied.';
      res
        .writeHead(403, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 403, message, errors: [{ message, reason: 'accessDenied' }] } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const store = new LocalArtifactStore(tempDir('bq-denied'));
      const denied = createPipelineActivities({
        store,
        config: testConfig({
          MLOPS_GCP_PROJECT: project,
          MLOPS_BIGQUERY_DATASET: warehouseDataset,
          MLOPS_BIGQUERY_API_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        }),
        bigQueryClient: { authClient },
      });
      const own = await denied.ingestDataset({ sourceUri: sampleCsv() });
      for (const step of [
        () => denied.preprocessDataset({ ...input('bigquery'), ...own }),
        () => denied.profileDataset({ ...own, target: 'churned', warehouse: 'bigquery' }),
      ]) {
        await assert.rejects(step(), (err: Error) => {
          assert.ok(isMlopsError(err));
          assert.equal(err.type, 'MLOPS_ERR_BIGQUERY_PERMISSION_DENIED');
          assert.equal(err.nonRetryable, true);
          assert.match(err.message, /"warehouse dataset mlops_warehouse": .*Permission bigquery\.datasets\.get denied/);
          return true;
        });
      }
      assert.deepEqual(
        fs.readdirSync(fileURLToPath(store.uri())).sort(),
        ['datasets'],
        'only the snapshot is stored: no profile, no preprocessed output',
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says which settings are missing when BigQuery is chosen but not configured', async function () {
    const unconfigured = createPipelineActivities({
      sources: testSources(),
      store: new LocalArtifactStore(tempDir('bq-unconfigured')),
    });
    const own = await unconfigured.ingestDataset({ sourceUri: sampleCsv() });
    await assert.rejects(unconfigured.preprocessDataset({ ...input('bigquery'), ...own }), (err: Error) => {
      assert.ok(isMlopsError(err));
      assert.equal(err.type, 'MLOPS_ERR_WAREHOUSE_NOT_CONFIGURED');
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /MLOPS_GCP_PROJECT and MLOPS_BIGQUERY_DATASET is not set/);
      return true;
    });
  });
});
