import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { reportProgress, stepSignal } from '../step-context';

export interface HashedBytes {
  /** sha256, hex. */
  contentHash: string;
  bytes: number;
}

/**
 * Writes a stream to a file and hashes it in the same pass. Backpressure flows through the pipeline, so memory holds
 * a few chunks whatever the size of the source.
 */
export async function saveAndHash(source: Readable, file: string): Promise<HashedBytes> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      reportProgress({ bytesRead: bytes });
      done(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream(file), { signal: stepSignal() });
  return { contentHash: hash.digest('hex'), bytes };
}

/**
 * Chunks of 1 MiB: with the default 64 KiB, reading costs as much as hashing (measured: 0.14 s → 0.085 s for 150 MiB).
 */
const hashChunkBytes = 1 << 20;

/** Hashes a file in chunks; `prefix` is hashed first (e.g. a schema that is part of the identity). */
export async function hashFile(file: string, prefix = ''): Promise<HashedBytes> {
  const hash = createHash('sha256').update(prefix);
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: hashChunkBytes })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { contentHash: hash.digest('hex'), bytes };
}
