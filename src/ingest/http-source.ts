import path from 'node:path';
import { Readable } from 'node:stream';
import { mlopsError } from '../errors';
import type { FetchedSource } from './fetched-source';
import { saveAndHash } from './hashing';

/**
 * Downloads to `work` while hashing. 404/410 and 401/403 cannot succeed on retry, so they are catalogued
 * non-retryable failures; everything else (5xx, 429, refused connections, resets) is a plain Error that Temporal
 * retries.
 */
export async function fetchHttp(uri: string, work: string, fileName: string): Promise<FetchedSource> {
  let response: Response;
  try {
    response = await fetch(uri);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(`GET ${uri} failed: ${cause}`);
  }
  const answer = `HTTP ${response.status} ${response.statusText}`.trim();
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri, reason: `the server answered ${answer}` });
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_FORBIDDEN', { source: uri, reason: `the server answered ${answer}` });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`GET ${uri} answered ${answer}; retrying may succeed`);
  }
  const localPath = path.join(work, fileName);
  try {
    const hashed = await saveAndHash(Readable.fromWeb(response.body), localPath);
    return { localPath, ...hashed, lineage: { kind: 'http', etag: response.headers.get('etag') ?? undefined } };
  } catch (err) {
    throw new Error(`GET ${uri} broke off mid-download: ${(err as Error).message}`);
  }
}
