import { defineQuery } from '@temporalio/workflow';
import type { PipelineStatus } from '../contracts/pipeline';

/**
 * Current stage, step history and ids of a running or finished `trainingPipeline`. Named for the pipeline, so that
 * other workflows' status queries (the model controller's) can sit beside it in clients and the CLI.
 */
export const pipelineStatusQuery = defineQuery<PipelineStatus>('pipelineStatus');
