/**
 * Recorded monitorModel histories replay against the current workflow code: a change to the monitoring workflow that
 * would break a run in flight across an upgrade fails here. Recorded from test/workflows/monitor-model.test.ts with
 * RECORD_MONITOR_HISTORIES=1; the `-before-compaction` files by the code before the compaction step (8c26f32), which
 * replay without it. After a deliberate, versioned change (`patched()`), record again and keep the older files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { activityEvents, historiesDir, patchIds } from '../support/history';
import { stack } from '../support/stack';

const monitorDir = path.join(historiesDir, 'monitor');
const read = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(monitorDir, file), 'utf8'));

describe('monitorModel replay', function () {
  const files = fs.readdirSync(monitorDir).filter((f) => f.endsWith('.json'));

  it('has recorded histories of each path, before and after the compaction step', function () {
    assert.deepEqual(files.sort(), [
      'accuracy-incident-before-compaction.json',
      'accuracy-incident.json',
      'compaction-failed.json',
      'drift-incident-before-compaction.json',
      'drift-incident.json',
      'live-check-failed-before-compaction.json',
      'live-check-failed.json',
      'log-compacted.json',
    ]);
    for (const file of files) {
      const history = historyFromJSON(read(file));
      const compacts = activityEvents(history).includes('scheduled compactPredictionLog');
      assert.equal(compacts, !file.endsWith('-before-compaction.json'), file);
      assert.equal(patchIds(history).includes('compact-the-log'), compacts, file);
    }
  });

  for (const file of files) {
    it(`replays the recorded "${path.basename(file, '.json')}" history against the current workflow code`, async function () {
      // Throws DeterminismViolationError when the code no longer produces the recorded commands.
      await Worker.runReplayHistory({ workflowBundle: stack().workflowBundle }, read(file), `replay-monitor-${file}`);
    });
  }
});
