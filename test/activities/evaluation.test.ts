/**
 * evaluateModel with the real activities on the prepared churn splits: what it refuses to judge.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities, createTrainingQueueActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import { ident, literal, withDuckDb } from '../../src/warehouse/duckdb';
import { mockEnv, runActivity } from '../support/activity-env';
import { testDeps } from '../support/dependencies';
import { prepareChurn, trainInput } from '../support/prepared-data';
import { tempDir } from '../support/stack';

describe('evaluateModel (the evaluation activity)', function () {
  it('refuses a test split of one class, naming it, instead of judging the model on it', async function () {
    const store = new LocalArtifactStore(tempDir('evaluation-store'));
    const prepared = await prepareChurn(store);
    const deps = testDeps({ store });
    const trained = await runActivity(
      mockEnv(),
      createTrainingQueueActivities(deps).trainModel,
      trainInput(prepared, { hyperparameters: { epochs: 2 } }, 'one-class'),
    );
    // The prepared test split's rows of class 0 ("false") only: as a rare positive class can leave a split.
    const oneClassUri = store.uri('evaluation-test', 'test-no-only.parquet');
    const oneClass = store.localPath(oneClassUri);
    fs.mkdirSync(path.dirname(oneClass), { recursive: true });
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT * FROM read_parquet(${literal(store.localPath(prepared.testUri))}) WHERE ${ident(prepared.labelColumn)} = 0) TO ${literal(oneClass)} (FORMAT parquet)`,
      ),
    );
    const rows = await withDuckDb((db) =>
      db.query(`SELECT count(*)::INTEGER AS n FROM read_parquet(${literal(oneClass)})`),
    );
    await assert.rejects(
      createPipelineActivities(deps).evaluateModel({
        modelName: 'churn',
        modelUri: trained.modelUri,
        testUri: oneClassUri,
        transformUri: prepared.transformUri,
        featureColumns: prepared.featureColumns,
        labelColumn: prepared.labelColumn,
        task: 'classification',
        outputUri: trained.outputUri,
        gate: { minImprovement: 0 },
        championAlias: 'production',
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure, String(err));
        assert.equal(err.type, 'MLOPS_ERR_EVALUATION_ONE_CLASS');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, new RegExp(`holds ${Number(rows[0]!.n)} rows, all of class "false"`));
        return true;
      },
    );
  });
});
