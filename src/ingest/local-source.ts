import fs from 'node:fs/promises';
import path from 'node:path';
import { mlopsError } from '../errors';
import type { FetchedSource } from './fetched-source';
import { hashFile } from './hashing';
import { isWithin } from '../artifacts/local-store';

/** Kernel and device file systems: never data, whatever the data roots say. */
const neverRead = ['/proc', '/sys', '/dev'];

/**
 * Local files are read in place: hashed in chunks, never copied. Only files inside a data root are read, judged by
 * their real path (symbolic links resolved), so a link inside a root cannot lead out of it. Whether a path outside the
 * roots exists is not revealed: it is refused the same way either way.
 */
export async function fetchLocalFile(uri: string, localPath: string, dataRoots: string[]): Promise<FetchedSource> {
  const realPath = await fs.realpath(localPath).catch(() => undefined);
  const roots = await Promise.all(dataRoots.map((root) => fs.realpath(root).catch(() => path.resolve(root))));
  const checked = realPath ?? path.resolve(localPath);
  if (neverRead.some((dir) => isWithin(dir, checked) || isWithin(dir, path.resolve(localPath))))
    throw notAllowed(uri, `${neverRead.join(', ')} are never read`);
  if (!roots.some((root) => isWithin(root, checked))) {
    // A path inside a root whose links lead out of it is refused by where it leads (not named: it is outside).
    const given = path.resolve(localPath);
    const linkedOut = realPath !== undefined && roots.some((root) => isWithin(root, given));
    const where = linkedOut
      ? 'it is a symbolic link (or inside one) that leads out of the data roots'
      : 'it is not inside a data root';
    throw notAllowed(uri, `${where} (${dataRoots.join(', ') || 'none configured'})`);
  }
  const stat = realPath ? await fs.stat(realPath).catch(() => undefined) : undefined;
  if (stat?.isDirectory())
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_INVALID', {
      source: uri,
      kind: 'source',
      reason: 'it names a folder: name one .csv, .parquet or .jsonl file in it',
    });
  if (!realPath || !stat?.isFile())
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri, reason: `no file at ${localPath}` });
  return { localPath: realPath, ...(await hashFile(realPath)), lineage: { kind: 'file' } };
}

function notAllowed(source: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED', { source, reason });
}
