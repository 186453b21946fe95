/**
 * What a controller started again recalls from the registry's deployment history (the pure replay) and from the
 * model's training runs (its retrain attempts); the controller's use of it is in test/workflows/model-controller.test.ts.
 */
import assert from 'node:assert/strict';
import type { DeploymentHistoryEntry } from '../../src/rollout/deployment-history';
import { lastRetrainAttempt, recallDeploymentMemory } from '../../src/rollout/deployment-history';
import { LocalArtifactStore } from '../../src/artifacts';
import { trainingRun } from '../../src/artifacts/layout';
import { tempDir } from '../support/stack';

let seq = 0;
function entry(
  previous: DeploymentHistoryEntry['previous'],
  stable: number,
  extra: Partial<DeploymentHistoryEntry> = {},
): DeploymentHistoryEntry {
  seq++;
  return {
    seq,
    at: `2026-12-01T00:00:${String(seq).padStart(2, '0')}Z`,
    modelName: 'churn',
    alias: 'production',
    stable,
    ...(previous ? { previous } : {}),
    reason: `move ${seq}`,
    actor: 'model-controller-churn',
    ...extra,
  };
}

describe('recalling the deployment history', function () {
  it('remembers a canary rolled back for what it did, and where a rollback of a promoted version goes', function () {
    const history = [
      entry(undefined, 1),
      entry({ stable: 1 }, 1, { canary: { version: 2, weight: 0.1 } }),
      entry({ stable: 1, canary: { version: 2, weight: 0.1 } }, 1, { rolledBack: { version: 2, reason: 'slow' } }),
      entry({ stable: 1 }, 1, { canary: { version: 3, weight: 0.1 } }),
      entry({ stable: 1, canary: { version: 3, weight: 0.1 } }, 3),
    ];
    assert.deepEqual(recallDeploymentMemory(history, 'production'), {
      rolledBack: [{ version: 2, at: history[2]!.at, reason: 'slow' }],
      previousStable: 1,
    });
  });

  it('does not go back to a version rolled back by hand, and forgets a rolled-back version deployed again', function () {
    const history = [
      entry(undefined, 1),
      entry({ stable: 1 }, 2),
      entry({ stable: 2 }, 1, { rolledBack: { version: 2, reason: 'wrong answers' } }),
    ];
    assert.deepEqual(recallDeploymentMemory(history, 'production'), {
      rolledBack: [{ version: 2, at: history[2]!.at, reason: 'wrong answers' }],
    });
    // Deployed again by hand: no longer rolled back, and v1 is where a rollback goes.
    history.push(entry({ stable: 1 }, 2));
    assert.deepEqual(recallDeploymentMemory(history, 'production'), { rolledBack: [], previousStable: 1 });
  });

  it("reads only the alias asked for, and in entries written before rollbacks were recorded, a rollback by hand's reason", function () {
    const history = [
      entry(undefined, 1),
      entry(undefined, 5, { alias: 'staging' }),
      entry({ stable: 5 }, 6, { alias: 'staging', rolledBack: { version: 5, reason: 'x' } }),
      entry({ stable: 1 }, 2),
      // An older controller's rollbacks: the entries have no rolledBack field. A canary's does not say whether the
      // model was at fault; a rollback by hand always blames it.
      entry({ stable: 2 }, 2, { canary: { version: 3, weight: 0.2 } }),
      entry({ stable: 2, canary: { version: 3, weight: 0.2 } }, 2, {
        reason: 'canary v3 rolled back: not enough traffic',
      }),
      entry({ stable: 2 }, 1, { reason: 'rolled back by hand: slow' }),
    ];
    assert.deepEqual(recallDeploymentMemory(history, 'production'), {
      rolledBack: [{ version: 2, at: history.at(-1)!.at, reason: 'slow' }],
    });
  });
});

describe("recalling a model's retrain attempts from its training runs", function () {
  it('finds the highest retrain-<model>-<n> that left a run, and nothing of other models or other runs', async function () {
    const store = new LocalArtifactStore(tempDir('retrain-attempts'));
    assert.equal(await lastRetrainAttempt(store, 'churn'), 0, 'no runs at all');
    for (const workflowId of [
      'retrain-churn-3',
      'retrain-churn-12',
      'retrain-churn-9',
      'training-churn-nightly',
      'retrain-churn-x',
      'retrain-churn-07',
    ])
      await store.write(store.uri(trainingRun(store, 'churn', `${workflowId}/run-1`).output, 'model.onnx'), 'onnx');
    // Another model whose name starts like this one's, and one whose retrain ids would look like a longer attempt.
    await store.write(store.uri(trainingRun(store, 'churnx', 'retrain-churnx-99/r').output, 'model.onnx'), 'onnx');
    await store.write(store.uri(trainingRun(store, 'churn-eu', 'retrain-churn-eu-40/r').output, 'm'), 'onnx');
    assert.equal(await lastRetrainAttempt(store, 'churn'), 12);
    assert.equal(await lastRetrainAttempt(store, 'churnx'), 99);
    assert.equal(await lastRetrainAttempt(store, 'churn-eu'), 40);
  });
});
