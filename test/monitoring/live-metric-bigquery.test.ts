/**
 * Labels in a BigQuery table (goccy/bigquery-emulator, read through the real client library) give the same live
 * metric and counts as the same labels in a CSV file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { LabelsSource } from '../../src/contracts/monitoring';
import type { RunningEmulator } from '../../src/dev/emulators';
import { startTestBigQuery } from '../support/bigquery-emulator';
import type { MonitoredChurn, ServedPredictions } from '../support/monitored-model';
import {
  logServedPredictions,
  loggedRequestId,
  monitoredChurn,
  monitoringActivitiesOver,
} from '../support/monitored-model';
import { tempDir, testSources } from '../support/stack';

const start = '2026-11-30T10:00:00Z';

/** Labels of the first 800 predictions (one not arrived: null), as [request id, churned or null]. */
function labels(served: ServedPredictions): [string, boolean | null][] {
  return Array.from({ length: 800 }, (_, i) => [
    loggedRequestId(start, i),
    i === 5 ? null : served.targets[i] === 'yes',
  ]);
}

function seedYaml(rows: [string, boolean | null][]): string {
  const lines = rows.map(
    ([id, label]) => `              - { request_id: ${JSON.stringify(id)}, churned: ${label ?? 'null'} }`,
  );
  return `projects:
  - id: test
    datasets:
      - id: feedback
        tables:
          - id: churn_labels
            columns:
              - { name: request_id, type: STRING }
              - { name: churned, type: BOOL }
            data:
${lines.join('\n')}
`;
}

describe('live metric with labels in BigQuery (goccy/bigquery-emulator) and in a file', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator | undefined;
  let churn: MonitoredChurn;
  let csvFile: string;

  before(async function () {
    this.timeout(30 * 60_000);
    churn = await monitoredChurn();
    const served = await logServedPredictions(churn, 'churn-live-bq', start, { rows: 1000, seed: 57 });
    const rows = labels(served);
    emulator = await startTestBigQuery(seedYaml(rows));
    csvFile = path.join(tempDir('bq-labels'), 'labels.csv');
    fs.writeFileSync(csvFile, `request_id,churned\n${rows.map(([id, l]) => `${id},${l ?? ''}`).join('\n')}\n`);
  });
  after(async function () {
    await emulator?.stop();
  });

  function check(uri: string) {
    const { checkLiveMetric } = monitoringActivitiesOver(churn.store, {
      sources: testSources(),
      bigquery: { projectId: 'test', apiEndpoint: emulator!.url },
    });
    const source: LabelsSource = {
      uri,
      idColumn: 'request_id',
      labelColumn: 'churned',
      lookbackHours: 168,
      minLabelled: 100,
    };
    return checkLiveMetric({
      modelName: 'churn-live-bq',
      alias: 'production',
      runId: `bq/${uri.replace(/[^a-z]/g, '')}`,
      until: '2026-11-30T12:00:00Z',
      labels: source,
    });
  }

  it('gives the same live metric and counts from the table as from the file', async function () {
    const fromTable = await check('bq://test.feedback.churn_labels');
    const fromFile = await check(csvFile);
    assert.equal(fromTable.skipped, undefined);
    assert.equal(fromTable.labelled, 799);
    assert.equal(fromTable.unlabelled, 201);
    assert.equal(fromTable.unknownIds, 0);
    assert.equal(fromTable.value, fromFile.value);
    assert.deepEqual(
      [fromTable.labelled, fromTable.unlabelled, fromTable.unknownIds, fromTable.duplicateIds, fromTable.drop],
      [fromFile.labelled, fromFile.unlabelled, fromFile.unknownIds, fromFile.duplicateIds, fromFile.drop],
    );
  });
});
