/**
 * The trainer's whole output (stdout and stderr, in arrival order) in `trainer.log` of its output folder, redacted
 * like quoted output. Bounded: past `maxBytes` the file becomes `trainer.log.1` (replacing the previous one) and a new
 * one starts, so the folder keeps the last `maxBytes` to `2 × maxBytes` of output.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export const trainerLogName = 'trainer.log';
/** One file's bound: a chatty trainer's last epochs fit, and a runaway one cannot fill the disk. */
export const trainerLogMaxBytes = 4 * 1024 * 1024;
/** Lines are written in batches, so a trainer printing thousands of lines a second costs few writes. */
const flushMs = 500;

export interface TrainerLog {
  write(line: string): void;
  /** Writes what is buffered; the log is complete once this resolves. */
  close(): Promise<void>;
}

export function openTrainerLog(
  outputDir: string,
  redact: (text: string) => string,
  maxBytes = trainerLogMaxBytes,
): TrainerLog {
  const file = path.join(outputDir, trainerLogName);
  let buffered: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing = Promise.resolve();
  const flush = () => {
    timer = undefined;
    const chunk = buffered.map((line) => `${redact(line)}\n`).join('');
    buffered = [];
    // A log that cannot be written (a full disk) costs the log, never the training run.
    writing = writing.then(() => append(file, chunk, maxBytes)).catch(() => undefined);
  };
  return {
    write(line) {
      buffered.push(line);
      timer ??= setTimeout(flush, flushMs);
    },
    async close() {
      clearTimeout(timer);
      flush();
      await writing;
    },
  };
}

async function append(file: string, chunk: string, maxBytes: number): Promise<void> {
  if (!chunk) return;
  const size = await fs.stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size > 0 && size + Buffer.byteLength(chunk) > maxBytes) await fs.rename(file, `${file}.1`);
  await fs.appendFile(file, chunk.length > maxBytes ? chunk.slice(-maxBytes) : chunk);
}
