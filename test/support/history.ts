/** Reading workflow histories in tests: the recorded ones under test/fixtures/histories and fetched ones alike. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { InjectedSinks, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import type { ActivityOrderSinks } from './activity-order-interceptor';
import { cliServerFlags, repoRoot, stack } from './stack';

export const historiesDir = path.join(repoRoot, 'test', 'fixtures', 'histories');

/** A recorded history (the JSON `temporal workflow show -o json` writes), by file name. */
export function recordedHistory(file: string): History {
  return historyFromJSON(JSON.parse(fs.readFileSync(path.join(historiesDir, file), 'utf8')));
}

/** Event ids are Longs in fetched histories and strings in JSON ones. */
const eventId = (value: unknown): number => Number(String(value));

/** Activity scheduling and completion in event order, e.g. `scheduled profileDataset`, `completed profileDataset`. */
export function activityEvents(history: History): string[] {
  const names = new Map<number, string>();
  const out: string[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      names.set(eventId(e.eventId), scheduled.activityType?.name ?? '?');
      out.push(`scheduled ${scheduled.activityType?.name}`);
    }
    const ended = [
      ['completed', e.activityTaskCompletedEventAttributes],
      ['failed', e.activityTaskFailedEventAttributes],
      ['cancelled', e.activityTaskCanceledEventAttributes],
    ] as const;
    for (const [how, attributes] of ended)
      if (attributes) out.push(`${how} ${names.get(eventId(attributes.scheduledEventId))}`);
  }
  return out;
}

/** The ids of the `patched()` changes a history recorded, in order. */
export function patchIds(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : undefined;
    return data ? [(JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id] : [];
  });
}

/** The workflows bundled with the activity-order interceptor (test/support/activity-order-interceptor.ts). */
export function bundleWithActivityOrder(
  workflowsPath = require.resolve('../../src/workflows'),
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [require.resolve('./activity-order-interceptor')],
    logger: new DefaultLogger('WARN'),
  });
}

/**
 * Replays `history` and returns the order in which the workflow code scheduled activities and saw their results
 * (`scheduled profileDataset`, `completed profileDataset`, …): which path through the code the replay took.
 */
export async function replayedActivityOrder(
  workflowBundle: WorkflowBundleWithSourceMap,
  history: History,
): Promise<string[]> {
  const lines: string[] = [];
  const sinks: InjectedSinks<ActivityOrderSinks> = {
    activityOrder: { record: { fn: (_info, line) => void lines.push(line), callDuringReplay: true } },
  };
  await Worker.runReplayHistory({ workflowBundle, sinks }, history, 'activity-order');
  return lines;
}

/** A workflow's history as `temporal workflow show -o json` prints it (the latest run, or `runId`'s). */
export function historyJsonOf(workflowId: string, runId?: string): Buffer {
  const run = runId ? ['--run-id', runId] : [];
  const flags = ['--workflow-id', workflowId, ...run, '--output', 'json', ...cliServerFlags()];
  return execFileSync(stack().cliPath, ['workflow', 'show', ...flags]);
}

/** Writes a finished workflow's history to `test/fixtures/histories/<folder>/<name>.json`, for replay tests. */
export function recordHistory(workflowId: string, folder: string, name: string): void {
  fs.mkdirSync(path.join(historiesDir, folder), { recursive: true });
  fs.writeFileSync(path.join(historiesDir, folder, `${name}.json`), historyJsonOf(workflowId));
}
