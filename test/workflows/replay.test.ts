import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { repoRoot, stack } from '../support/stack';

const historiesDir = path.join(repoRoot, 'test', 'fixtures', 'histories');

describe('trainingPipeline replay', function () {
  const files = fs.readdirSync(historiesDir).filter((f) => f.endsWith('.json'));

  it('has recorded histories for every path through the pipeline, before and after each versioned change', function () {
    // Before the `profile-beside-preprocess` patch (profiling, then preprocessing) and after it (side by side); invalid
    // input ends before either. `findable-failures`: after the `searchable-invalid-input` patch (invalid input sets
    // the stage and model name search attributes) and the `cancelled-stage` patch (a cancelled run ends in stage
    // `cancelled`), with a run cancelled while training.
    // `champion-check`: after the `check-champion-before-training` patch (the champion's task and target are checked
    // before training).
    assert.deepEqual(files.sort(), [
      'cancelled-champion-check.json',
      'cancelled-findable-failures.json',
      'deployed-champion-check.json',
      'deployed-findable-failures.json',
      'deployed-profile-beside-preprocess.json',
      'deployed.json',
      'gate-rejected-champion-check.json',
      'gate-rejected-findable-failures.json',
      'gate-rejected-profile-beside-preprocess.json',
      'gate-rejected.json',
      'invalid-input-champion-check.json',
      'invalid-input-findable-failures.json',
      'invalid-input.json',
      'missing-target-champion-check.json',
      'missing-target-findable-failures.json',
      'missing-target-profile-beside-preprocess.json',
      'missing-target.json',
    ]);
  });

  for (const file of files) {
    it(`replays the recorded "${path.basename(file, '.json')}" history against the current workflow code`, async function () {
      const history: unknown = JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8'));
      // Throws DeterminismViolationError when the code no longer produces the recorded commands.
      await Worker.runReplayHistory({ workflowBundle: stack().workflowBundle }, history, `replay-${file}`);
    });
  }
});
