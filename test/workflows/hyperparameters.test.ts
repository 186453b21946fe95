import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TrainingPipelineInput } from '../../src/contracts/pipeline';
import { trainingPipeline } from '../../src/workflows';
import { churnPipelineInput } from '../support/pipeline-input';
import { stack, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';

describe('trainingPipeline hyperparameters of the built-in trainers', function () {
  it('fails at input validation on a mistyped key, listing the valid keys of that trainer', async function () {
    await withWorkers({ config: testConfig(), title: this.test!.title }, async (queues) => {
      const cases: [TrainingPipelineInput['trainer'], string, RegExp][] = [
        [{ kind: 'builtin-linear', hyperparameters: { epoch: 5 } }, 'epoch', /valid: epochs, patience, learning_rate/],
        [{ kind: 'torch-tabular', hyperparameters: { learning_rate: 0.01 } }, 'learning_rate', /valid: .*\blr\b/],
        [{ kind: 'torch-tabular', hyperparameters: { dropout: 1.5 } }, 'dropout', /less than 1/],
      ];
      for (const [trainer, key, valid] of cases) {
        const err = await stack()
          .client.workflow.execute(trainingPipeline, {
            taskQueue: queues.pipeline,
            workflowId: uniqueName(`${trainer!.kind}-${key}`),
            args: [churnPipelineInput({ trainer: { ...trainer, taskQueue: queues.training } })],
          })
          .then(
            () => assert.fail(`${key} should fail the run`),
            (e: unknown) => e,
          );
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'MLOPS_ERR_PIPELINE_INPUT_INVALID');
        assert.match(err.cause.message, new RegExp(`- trainer\\.hyperparameters\\.${key}: `));
        assert.match(err.cause.message, valid);
      }
    });
  });
});
