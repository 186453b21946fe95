/**
 * Recorded modelController histories replay against the current workflow code. They were recorded from the
 * end-to-end loop with real parts (test/e2e/closed-loop.test.ts, with RECORD_CONTROLLER_HISTORIES=1), the held
 * incidents from test/workflows/model-controller.test.ts (fake activities, the same variable): a change to the
 * controller that would break a running controller's replay fails here. After a deliberate, versioned change
 * (`patched()`), record again and keep the older files beside the new ones.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historiesDir } from '../support/history';
import { stack } from '../support/stack';

const controllerDir = path.join(historiesDir, 'controller');

describe('modelController replay', function () {
  const files = fs.readdirSync(controllerDir).filter((f) => f.endsWith('.json'));

  it('has recorded histories of a promotion, a rollback with a gate failure, a worker kill, a retrain across continue-as-new, a skipped rollout, held incidents and a model rejected at its approval', function () {
    assert.deepEqual(files.sort(), [
      // Approval, then a canary baked across a kill -9 of the pipeline worker, then promoted.
      'approved-canary-promoted-after-worker-kill.json',
      // A canary deployed by update, rolled back on its error rate; then a retrain the gate refused.
      'canary-rolled-back-then-gate-failed.json',
      // The second run: the retrain carried across continue-as-new reports by signal → canary → promotion.
      'carried-retrain-canary-promoted.json',
      // Incidents → retraining child (ABANDON) → continue-as-new past 50 events while the child runs.
      'incident-retrain-continued-as-new.json',
      // A retrain the gate rejected; the same drift three more times: held, one message; a retrain by hand.
      'incidents-held-after-gate-failed.json',
      // A retrain's canary rolled back; the next retrain on the same data made the same model: not rolled out.
      'retrain-same-as-rolled-back-skipped.json',
      // A version rejected at its approval; a drift retrain made the same model: not put to approval, incidents held.
      'same-model-as-rejected-held.json',
    ]);
  });

  for (const file of files) {
    it(`replays the recorded "${path.basename(file, '.json')}" history against the current workflow code`, async function () {
      const history: unknown = JSON.parse(fs.readFileSync(path.join(controllerDir, file), 'utf8'));
      // Throws DeterminismViolationError when the code no longer produces the recorded commands.
      await Worker.runReplayHistory({ workflowBundle: stack().workflowBundle }, history, `replay-controller-${file}`);
    });
  }
});
