import { stack } from './stack';

/** The parsed heartbeat details of a workflow's pending activity (of `activityType`, or the first one). */
export async function pendingHeartbeat<T>(workflowId: string, activityType?: string): Promise<T | undefined> {
  const description = await stack().client.workflow.getHandle(workflowId).describe();
  const pending = description.raw.pendingActivities?.find(
    (a) => !activityType || a.activityType?.name === activityType,
  );
  const data = pending?.heartbeatDetails?.payloads?.[0]?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as T) : undefined;
}

/**
 * Waits until the pending activity's heartbeat details satisfy `ready` (progress reported by another process), and
 * returns them. Fails as soon as the workflow is no longer running; the test's mocha timeout bounds the wait.
 */
export async function waitForHeartbeat<T>(
  workflowId: string,
  ready: (details: T) => boolean,
  activityType?: string,
): Promise<T> {
  const handle = stack().client.workflow.getHandle(workflowId);
  for (;;) {
    const details = await pendingHeartbeat<T>(workflowId, activityType);
    if (details && ready(details)) return details;
    if ((await handle.describe()).status.name !== 'RUNNING') {
      await handle.result();
      throw new Error(`workflow ${workflowId} ended before its heartbeat details were ready`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
