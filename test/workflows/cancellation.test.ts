import assert from 'node:assert/strict';
import fs from 'node:fs';
import { CancelledFailure } from '@temporalio/common';
import type { TrainingProgress } from '../../src/contracts/training';
import { pipelineStatusQuery } from '../../src/workflows/definitions';
import { trainingPipeline } from '../../src/workflows';
import { stack, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';
import { churnPipelineInput } from '../support/pipeline-input';
import { waitForHeartbeat } from '../support/progress';
import { assertWorkflowFailed } from '../support/assert-workflow';

/** Pids of running processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return !/^\d+ \(.*\) Z/.test(stat) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('cancelling trainingPipeline', function () {
  it('stops the trainer: no trainer process of the run is left alive', async function () {
    const config = testConfig();
    const workflowId = uniqueName(this.test!.title);
    await withWorkers({ config, title: this.test!.title }, async (queues) => {
      const handle = await stack().client.workflow.start(trainingPipeline, {
        taskQueue: queues.pipeline,
        workflowId,
        args: [
          churnPipelineInput({
            modelName: 'churn-cancel',
            trainer: { hyperparameters: { epochs: 200, patience: 0, epoch_delay_ms: 300 }, taskQueue: queues.training },
          }),
        ],
      });
      // The trainer reports progress: it is running.
      await waitForHeartbeat<TrainingProgress>(workflowId, (p) => p.epoch >= 1);
      const runFolder = `runs/churn-cancel/${workflowId}`;
      assert.ok(processesMentioning(runFolder).length > 0, 'the trainer is running');

      await handle.cancel();
      await assertWorkflowFailed(handle.result(), CancelledFailure);
      assert.equal((await handle.query(pipelineStatusQuery)).stage, 'cancelled');
      assert.deepEqual(processesMentioning(runFolder), [], 'no trainer process is left');
    });
  });
});
