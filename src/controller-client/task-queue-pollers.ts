/**
 * Whether any worker polls a task queue for workflow tasks (the server's DescribeTaskQueue, which lists the pollers
 * it saw in the last few minutes). A workflow started on a queue nobody polls waits there without an error, so the
 * commands that start or schedule work say so, and those that must reach a running workflow refuse at once instead
 * of timing out. A worker killed a moment ago is still listed, and its `lastAccessTime` cannot tell it from a live
 * one: a live idle worker's poll waits up to a minute on the server, so its entry ages to about 60 s before it polls
 * again (measured on the 1.5.1 dev server). That case is caught by the deadline of ./answer-deadline.ts.
 */
import type { Client } from '@temporalio/client';

// temporal.api.enums.v1: TASK_QUEUE_KIND_NORMAL, TASK_QUEUE_TYPE_WORKFLOW and _ACTIVITY (the proto package is not a
// dependency).
const normalKind = 1;
const taskTypes = { workflow: 1, activity: 2 } as const;

/**
 * True when a worker polls `taskQueue` for workflow tasks (or, with `activity`, activity tasks: the training worker's
 * queue), false when none does, undefined when it cannot be told.
 */
export async function taskQueuePolled(
  client: Client,
  taskQueue: string,
  tasks: keyof typeof taskTypes = 'workflow',
): Promise<boolean | undefined> {
  try {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: normalKind },
      taskQueueType: taskTypes[tasks],
    });
    return (pollers?.length ?? 0) > 0;
  } catch {
    // Not allowed to describe it (a narrow API key), or an older server: the command goes on without the check.
    return undefined;
  }
}

/** The warning of a command that started (or scheduled) `what` on a queue no worker polls; it still succeeds. */
export function unpolledWarning(taskQueue: string, what: string): string {
  return `Warning: no worker polls task queue "${taskQueue}": ${what} waits there until one does. Start a pipeline worker on it (npm run worker:pipeline polls mlops-pipeline), or use the --task-queue your workers poll.`;
}
