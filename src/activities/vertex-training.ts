/**
 * Training as a Vertex AI CustomJob (src/vertex/): submit, then wait. The wait heartbeats each poll's progress, resumes
 * from the last heartbeat on retry, and cancels the job when the workflow cancels.
 */
import { CancelledFailure, Context } from '@temporalio/activity';
import type {
  SubmittedVertexJob,
  SubmitVertexJobInput,
  TrainModelResult,
  WaitVertexJobInput,
} from '../contracts/training';
import type { VertexTraining, VertexTrainingProgress } from '../vertex/vertex-training';

export interface VertexTrainingDeps {
  /** Built on first use, so a worker without Vertex settings still registers the activities. */
  vertex: () => VertexTraining;
}

export interface VertexTrainingActivities {
  submitVertexTrainingJob: (input: SubmitVertexJobInput) => Promise<SubmittedVertexJob>;
  waitForVertexTrainingJob: (input: WaitVertexJobInput) => Promise<TrainModelResult>;
}

export function createVertexTrainingActivities({ vertex }: VertexTrainingDeps): VertexTrainingActivities {
  return {
    async submitVertexTrainingJob(input: SubmitVertexJobInput): Promise<SubmittedVertexJob> {
      const { state, ...job } = await vertex().submit(input);
      if (job.created) Context.current().log.info('Submitted a Vertex AI CustomJob', { ...job });
      else Context.current().log.info('Found the CustomJob of an earlier attempt', { ...job, state });
      return job;
    },

    async waitForVertexTrainingJob(input: WaitVertexJobInput): Promise<TrainModelResult> {
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as VertexTrainingProgress | undefined;
      if (previous) ctx.log.info('Resuming the wait from the last heartbeat', { ...previous });
      let progress: VertexTrainingProgress = {
        epoch: 0,
        state: 'JOB_STATE_UNSPECIFIED',
        ...previous,
        jobName: input.jobName,
      };
      try {
        for (;;) {
          const checked = await Promise.race([
            vertex().check(input, progress, (message, details) => {
              ctx.log.warn(message, details);
            }),
            ctx.cancelled,
          ]);
          progress = checked.progress;
          ctx.heartbeat(progress);
          const result = await vertex().settle(checked.job, input.outputUri);
          if (result) return result;
          await ctx.sleep(input.pollSeconds * 1000);
        }
      } catch (err) {
        if (err instanceof CancelledFailure && jobShouldStop(ctx)) await cancelJob(vertex(), input.jobName);
        throw err;
      }
    },
  };
}

/**
 * Whether a cancelled wait should cancel the job. Only when the workflow asked for it (or the activity no longer
 * exists): on worker shutdown, a timeout, a pause or a reset, another attempt goes on waiting for the same job.
 */
function jobShouldStop(ctx: Context): boolean {
  const details = ctx.cancellationDetails;
  return !details || details.cancelRequested || details.notFound;
}

async function cancelJob(vertex: VertexTraining, jobName: string): Promise<void> {
  const ctx = Context.current();
  try {
    await vertex.cancel(jobName);
    ctx.log.info('Cancelled the Vertex AI CustomJob', { jobName });
  } catch (err) {
    // The cancellation is what the caller must see; a job that could not be cancelled is logged with its name.
    ctx.log.warn('Could not cancel the Vertex AI CustomJob', { jobName, error: (err as Error).message });
  }
}
