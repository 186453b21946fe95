/**
 * A workflow interceptor module for replay tests: reports, through a sink that also runs during replay, when the
 * workflow code schedules each activity and when it sees the activity's result. That is the order the code ran in,
 * which a replay does not check by itself (scheduling an activity one workflow task early still replays).
 */
import type {
  ActivityInput,
  Next,
  Sinks,
  WorkflowInterceptorsFactory,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { proxySinks } from '@temporalio/workflow';

export interface ActivityOrderSinks extends Sinks {
  activityOrder: { record(line: string): void };
}

const { activityOrder } = proxySinks<ActivityOrderSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async scheduleActivity(
        input: ActivityInput,
        next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>,
      ): Promise<unknown> {
        activityOrder.record(`scheduled ${input.activityType}`);
        try {
          const result = await next(input);
          activityOrder.record(`completed ${input.activityType}`);
          return result;
        } catch (err) {
          activityOrder.record(`failed ${input.activityType}`);
          throw err;
        }
      },
    },
  ],
});
