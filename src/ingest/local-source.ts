import fs from 'node:fs/promises';
import { mlopsError } from '../errors';
import type { FetchedSource } from './fetched-source';
import { hashFile } from './hashing';

/** Local files are read in place: hashed in chunks, never copied. */
export async function fetchLocalFile(uri: string, localPath: string): Promise<FetchedSource> {
  const stat = await fs.stat(localPath).catch(() => undefined);
  if (!stat?.isFile())
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri, reason: `no file at ${localPath}` });
  return { localPath, ...(await hashFile(localPath)), lineage: { kind: 'file' } };
}
