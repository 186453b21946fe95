/**
 * A data step cancelled while it runs on the BigQuery warehouse cancels its query jobs (jobs.cancel) before it ends as
 * cancelled. goccy/bigquery-emulator runs a query to its end before it answers, so a proxy in front of it answers as
 * BigQuery does for a query still running (test/support/slow-bigquery.ts) and records what reaches the API.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { CancelledFailure } from '@temporalio/common';
import { OAuth2Client } from 'google-auth-library';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import type { DatasetSnapshot, PreprocessInput } from '../../src/contracts/datasets';
import type { RunningEmulator } from '../../src/dev/emulators';
import { BigQueryWarehouse } from '../../src/warehouse/bigquery-warehouse';
import { mockEnv, runActivity } from '../support/activity-env';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { testDeps } from '../support/dependencies';
import type { ProxiedCall, SlowBigQuery } from '../support/slow-bigquery';
import { gate, startSlowBigQuery } from '../support/slow-bigquery';
import { exampleDataset, tempDir, testConfig } from '../support/stack';

const project = 'test';
const warehouseDataset = 'mlops_cancel';

const jobOf = (call: ProxiedCall) => /\/jobs\/([^/]+)\/cancel$/.exec(call.path)?.[1];
const pollOf = (call: ProxiedCall) => (call.method === 'GET' ? /\/queries\/([^/]+)$/.exec(call.path)?.[1] : undefined);

/** The jobs whose cancel request BigQuery answered, and the status of each. */
function cancels(proxy: SlowBigQuery): Map<string, number> {
  return new Map(proxy.calls.flatMap((c) => (c.method === 'POST' && jobOf(c) ? [[jobOf(c)!, c.status] as const] : [])));
}

describe('cancelling a step on the BigQuery warehouse (goccy/bigquery-emulator)', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator | undefined;
  let authClient: OAuth2Client;
  let store: LocalArtifactStore;
  let snapshot: DatasetSnapshot;

  before(async function () {
    this.timeout(30 * 60_000);
    emulator = await startTestBigQuery(`projects:\n  - id: ${project}\n    datasets: []\n`);
    // The client's load-job upload (staging the snapshot) needs an authenticated request; the emulator takes any token.
    authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'emulator', expiry_date: Date.now() + 3_600_000 });
    store = new LocalArtifactStore(tempDir('bq-cancel-store'));
    const sample = path.join(tempDir('bq-cancel-data'), 'churn-sample.csv');
    fs.writeFileSync(sample, fs.readFileSync(exampleDataset, 'utf8').trimEnd().split('\n').slice(0, 801).join('\n'));
    snapshot = await activities(emulator.url).ingestDataset({ sourceUri: sample });
  });
  after(async function () {
    await emulator?.stop();
  });

  function activities(apiEndpoint: string) {
    const config = testConfig({
      MLOPS_GCP_PROJECT: project,
      MLOPS_BIGQUERY_DATASET: warehouseDataset,
      MLOPS_BIGQUERY_API_ENDPOINT: apiEndpoint,
    });
    return createPipelineActivities(testDeps({ store, config, bigQueryClient: { authClient } }));
  }

  function preprocessInput(): PreprocessInput {
    return {
      ...snapshot,
      target: 'churned',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.1, seed: 7 },
      preprocessing: { dedupe: true, defaults: { numeric: { impute: 'median' } } },
      warehouse: 'bigquery',
    };
  }

  it('cancels every running query job of a profiling step cancelled mid-query, then ends as cancelled', async function () {
    const poll = gate();
    const proxy = await startSlowBigQuery(emulator!.url, { poll });
    try {
      const { profileDataset } = activities(proxy.url);
      const env = mockEnv({ heartbeatTimeoutMs: 2_000 });
      // The queries run (BigQuery said "not yet") and the step waits for their results when it is cancelled.
      void poll.reached.then(() => env.cancel());
      await assert.rejects(
        runActivity(env, profileDataset, { ...snapshot, target: 'churned', warehouse: 'bigquery' }),
        (err: unknown) => err instanceof CancelledFailure,
      );
      assert.ok(proxy.queryJobs.length > 0, 'the profiling queries reached BigQuery');
      assert.deepEqual(
        [...cancels(proxy)].sort(),
        proxy.queryJobs.map((id) => [id, 200]).sort(),
        'each query job, by the id BigQuery gave it, was cancelled (and BigQuery knew the job)',
      );
      assert.deepEqual(proxy.calls.filter(pollOf), [], 'no result was read: every poll was still waiting');
    } finally {
      poll.open();
      await proxy.close();
    }
  });

  it('cancels the jobs of a preprocessing step cancelled before BigQuery answered, and drops its scratch tables', async function () {
    const query = gate();
    const proxy = await startSlowBigQuery(emulator!.url, { query });
    try {
      const { preprocessDataset } = activities(proxy.url);
      const env = mockEnv({ heartbeatTimeoutMs: 2_000 });
      // Cancelled while its first statements are on their way: their jobs' ids are not known yet.
      void query.reached.then(() => {
        env.cancel();
        query.open();
      });
      await assert.rejects(
        runActivity(env, preprocessDataset, preprocessInput()),
        (err: unknown) => err instanceof CancelledFailure,
      );
      assert.ok(proxy.queryJobs.length > 0, 'the held statements reached BigQuery once let through');
      assert.deepEqual([...cancels(proxy)].sort(), proxy.queryJobs.map((id) => [id, 200]).sort());
      assert.deepEqual(proxy.calls.filter(pollOf), [], 'a cancelled step asks for no results');
      const drops = proxy.calls.filter((c) => c.method === 'DELETE' && /\/tables\/mlops_tmp_/.test(c.path));
      assert.ok(
        drops.length > 0 && drops.every((c) => c.status === 200),
        'the table its held CREATE TABLE made was there to drop: the step closed after its statement settled',
      );
      const [tables] = await new BigQuery({ projectId: project, apiEndpoint: emulator!.url })
        .dataset(warehouseDataset)
        .getTables();
      assert.deepEqual(
        tables.map((t) => t.id),
        [`mlops_snapshot_${snapshot.snapshotId.replace(/[^A-Za-z0-9_]/g, '_')}`],
        'only the staged snapshot is left: the scratch tables its statements created were dropped',
      );
    } finally {
      query.open();
      await proxy.close();
    }
  });

  it('closes a cancelled step only after each of its statements running side by side was cancelled', async function () {
    // The split counts and the target's classes are queried side by side; both are held on their way to BigQuery.
    const query = gate(2, (sql) => /^\s*SELECT/i.test(sql));
    const proxy = await startSlowBigQuery(emulator!.url, { query });
    try {
      const { preprocessDataset } = activities(proxy.url);
      const env = mockEnv({ heartbeatTimeoutMs: 2_000 });
      const isCancel = (c: ProxiedCall) => c.method === 'POST' && jobOf(c) !== undefined;
      void query.reached.then(async () => {
        env.cancel();
        // One answers at once, the other only after the first job's cancel was answered.
        query.openOne();
        await proxy.answered(isCancel);
        query.openOne();
      });
      await assert.rejects(
        runActivity(env, preprocessDataset, preprocessInput()),
        (err: unknown) => err instanceof CancelledFailure,
      );
      const [assign, ...sideBySide] = proxy.queryJobs;
      assert.equal(sideBySide.length, 2);
      assert.deepEqual([...cancels(proxy)].sort(), sideBySide.map((id) => [id, 200]).sort());
      assert.ok(
        proxy.calls.some((c) => pollOf(c) === assign && c.status === 200),
        'the split assignment had finished',
      );
      const firstDrop = proxy.calls.findIndex((c) => c.method === 'DELETE' && /\/tables\/mlops_tmp_/.test(c.path));
      assert.ok(firstDrop >= 0, 'the scratch table was dropped');
      assert.ok(
        proxy.calls.findLastIndex(isCancel) < firstDrop,
        'both jobs were cancelled before the session dropped its scratch tables',
      );
    } finally {
      query.open();
      await proxy.close();
    }
  });

  it('cancels the query job of a BigQuery ingest cancelled while it waits for the rows, then ends as cancelled', async function () {
    const poll = gate();
    const proxy = await startSlowBigQuery(emulator!.url, { poll });
    try {
      const { ingestDataset } = activities(proxy.url);
      const env = mockEnv({ heartbeatTimeoutMs: 2_000 });
      void poll.reached.then(() => {
        env.cancel();
        poll.open();
      });
      await assert.rejects(
        runActivity(env, ingestDataset, {
          sourceUri: `bq://${project}`,
          query: 'SELECT n, n * 2 AS twice FROM UNNEST(GENERATE_ARRAY(1, 100)) AS n',
        }),
        (err: unknown) => err instanceof CancelledFailure,
      );
      // The export names its job itself (jobs.insert) and reads it with jobs.getQueryResults.
      const polled = proxy.calls.flatMap((c) => pollOf(c) ?? []);
      assert.equal(polled.length, 1, 'only the page request that was held');
      assert.match(polled[0]!, /^mlops-ingest-/);
      assert.deepEqual([...cancels(proxy)], [[polled[0], 200]]);
    } finally {
      poll.open();
      await proxy.close();
    }
  });

  it('reads a query that BigQuery answers "not yet" through jobs.getQueryResults, as the client library parses it', async function () {
    const sql = `SELECT n, n * 1.5 AS x, CONCAT('row ', CAST(n AS STRING)) AS label, MOD(n, 2) = 0 AS even,
        TIMESTAMP_ADD(TIMESTAMP '2026-01-01 00:00:00+00', INTERVAL n SECOND) AS happened, IF(n = 2, NULL, n) AS maybe
      FROM UNNEST([1, 2, 3]) AS n ORDER BY n`;
    const proxy = await startSlowBigQuery(emulator!.url);
    try {
      const options = { projectId: project, location: 'US' };
      const slow = await new BigQueryWarehouse({ ...options, apiEndpoint: proxy.url }).query(sql);
      const direct = await new BigQueryWarehouse({ ...options, apiEndpoint: emulator!.url }).query(sql);
      const [library] = await new BigQuery({ ...options, apiEndpoint: emulator!.url }).query(sql);
      assert.equal(slow.length, 3);
      assert.deepEqual(slow, library);
      assert.deepEqual(direct, library);
      assert.deepEqual(
        proxy.calls.filter(pollOf).map((c) => [pollOf(c), c.status]),
        proxy.queryJobs.map((id) => [id, 200]),
        'the rows came from jobs.getQueryResults of the job jobs.query named',
      );
    } finally {
      await proxy.close();
    }
  });
});
