/** Reading workflow histories in tests: the recorded ones under test/fixtures/histories and fetched ones alike. */
import fs from 'node:fs';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { repoRoot } from './stack';

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
