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
 * The worker's record of the last checkpoint its trainer announced (a `checkpoint` line, printed once the file is
 * complete), in the checkpoints folder; written atomically on each announcement, so it names a complete file even when
 * the worker dies before the heartbeat carrying it reaches the server.
 */
const announcedFile = 'announced.json';

/**
 * Records a checkpoint the trainer announced; written beside its final name, then renamed (whole or absent). The record
 * also lists the epochs of the last `keep` announcements; checkpoint files of this folder older than the oldest of
 * them are then deleted (`keep` 0: none is). Only `epoch-NNNN.ckpt` files are touched, never one newer than the record
 * (the trainer may be writing it), and a retry resumes from the newest announced one, which is always kept.
 */
export async function recordAnnouncedCheckpoint(
  outputDir: string,
  checkpoint: { uri: string; epoch: number },
  keep: number,
): Promise<void> {
  const dir = path.join(outputDir, trainerOutput.checkpoints);
  const file = path.join(dir, announcedFile);
  await fs.mkdir(dir, { recursive: true });
  const earlier = (await readAnnounced(file))?.recent ?? [];
  const recent = keep > 0 ? [...earlier.filter((e) => e < checkpoint.epoch), checkpoint.epoch].slice(-keep) : [];
  const record: AnnouncedRecord = { ...checkpoint, recent };
  await fs.writeFile(`${file}.partial`, JSON.stringify(record));
  await fs.rename(`${file}.partial`, file);
  if (keep > 0) await deleteOlderThan(dir, Math.min(...recent));
}

/** Deletes this folder's checkpoint files of epochs before `epoch`; one already gone is not an error. */
async function deleteOlderThan(dir: string, epoch: number): Promise<void> {
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const fileEpoch = checkpointEpoch(name);
    if (fileEpoch !== undefined && fileEpoch < epoch) await fs.rm(path.join(dir, name), { force: true });
  }
}

/**
 * The checkpoint to resume from: of the one recorded in the last heartbeat of a previous attempt and the last one the
 * trainer announced on this machine, the later. A checkpoint file nobody announced may be half written (the trainer
 * was killed while writing it) and is never chosen; only a folder from before announcements were recorded, with no
 * heartbeat either, falls back to its newest file.
 */
export async function findLocalCheckpoint(
  details: TrainingProgress | undefined,
  outputDir: string,
): Promise<Checkpoint | undefined> {
  const dir = path.join(outputDir, trainerOutput.checkpoints);
  const fromHeartbeat =
    details?.checkpointUri?.startsWith('file://') && details.checkpointEpoch !== undefined
      ? { uri: details.checkpointUri, epoch: details.checkpointEpoch }
      : undefined;
  const announced = await readAnnounced(path.join(dir, announcedFile));
  const candidates = [fromHeartbeat, announced]
    .filter((c): c is { uri: string; epoch: number } => c !== undefined)
    .sort((a, b) => b.epoch - a.epoch);
  for (const candidate of candidates) {
    const file = fileURLToPath(candidate.uri);
    if (await exists(file)) return { path: file, epoch: candidate.epoch };
  }
  if (candidates.length > 0) return undefined;
  const newest = newestCheckpoint(await fs.readdir(dir).catch(() => [] as string[]));
  return newest ? { path: path.join(dir, newest.uri), epoch: newest.epoch } : undefined;
}

interface AnnouncedRecord {
  uri: string;
  epoch: number;
  /** Epochs of the last announcements kept on disk, oldest first (absent in records written before pruning). */
  recent?: number[];
}

async function readAnnounced(file: string): Promise<AnnouncedRecord | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const { uri, epoch, recent } = JSON.parse(text) as { uri?: unknown; epoch?: unknown; recent?: unknown };
    if (typeof uri !== 'string' || !uri.startsWith('file://') || !Number.isInteger(epoch)) return undefined;
    const epochs = Array.isArray(recent) ? recent.filter((e): e is number => Number.isInteger(e)) : [epoch as number];
    return { uri, epoch: epoch as number, recent: epochs };
  } catch {
    return undefined;
  }
}

function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}
