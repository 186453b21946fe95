import { defineQuery } from '@temporalio/workflow';
import type { PipelineStatus } from '../contracts/pipeline';

/** Current stage, step history and ids of a running or finished `trainingPipeline`. */
export const getStatusQuery = defineQuery<PipelineStatus>('getStatus');
