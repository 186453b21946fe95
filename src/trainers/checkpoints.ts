/** Finding where a trainer can resume: checkpoints are `checkpoints/epoch-NNNN.ckpt` in its output folder. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointEpoch, trainerOutput } from '../artifacts/layout';
import type { TrainingProgress } from '../contracts/training';

export interface Checkpoint {
  /** Local path of the checkpoint file. */
  path: string;
  epoch: number;
}

/** The newest checkpoint among URIs or file names, by epoch; undefined when none is one. */
export function newestCheckpoint(uris: string[]): { uri: string; epoch: number } | undefined {
  let newest: { uri: string; epoch: number } | undefined;
  for (const uri of uris) {
    const epoch = checkpointEpoch(uri);
    if (epoch !== undefined && epoch > (newest?.epoch ?? -1)) newest = { uri, epoch };
  }
  return newest;
}

/**
 * The checkpoint to resume from: the one recorded in the last heartbeat of a previous attempt, else the newest file
 * in the output folder (the worker may have died before its last heartbeat was sent).
 */
export async function findLocalCheckpoint(
  details: TrainingProgress | undefined,
  outputDir: string,
): Promise<Checkpoint | undefined> {
  const dir = path.join(outputDir, trainerOutput.checkpoints);
  const newest = newestCheckpoint(await fs.readdir(dir).catch(() => [] as string[]));
  const fromFolder = newest ? { path: path.join(dir, newest.uri), epoch: newest.epoch } : undefined;
  if (
    details?.checkpointUri?.startsWith('file://') &&
    details.checkpointEpoch !== undefined &&
    (fromFolder?.epoch ?? 0) <= details.checkpointEpoch
  ) {
    const fromHeartbeat = fileURLToPath(details.checkpointUri);
    const exists = await fs.stat(fromHeartbeat).then(
      () => true,
      () => false,
    );
    if (exists) return { path: fromHeartbeat, epoch: details.checkpointEpoch };
  }
  return fromFolder;
}
