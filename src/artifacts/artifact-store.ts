/**
 * Artifacts (dataset snapshots, profiles, transforms, models, reports) are read and written by URI through one
 * interface. Backends: a local folder (`file://`, the embedded default) and Cloud Storage (`gs://`).
 *
 * Guarantees every backend keeps:
 * - A write is atomic: readers see the old object, or the whole new one, never a part.
 * - A URI cannot name anything outside the store root (`..`, absolute keys and foreign roots are rejected).
 * - Multi-file artifacts write their manifest last; a folder without its manifest is not a finished artifact.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { mlopsError } from '../errors';
import { makeTempDir } from '../step-context';

export interface ArtifactStore {
  /** The root URI, e.g. `file:///srv/mlops/artifacts` or `gs://bucket/prefix`. */
  readonly root: string;
  /** Joins key segments under the root into a URI (the first may be a URI inside the store); rejects escapes. */
  uri(...segments: string[]): string;
  exists(uri: string): Promise<boolean>;
  read(uri: string): Promise<Buffer>;
  write(uri: string, data: Buffer | string): Promise<void>;
  /**
   * Writes the artifact only when nothing exists at the URI yet, atomically: resolves `false` and changes nothing when
   * something does (another writer got there first). Used to hand out names exactly once (registry versions).
   */
  createOnly(uri: string, data: Buffer | string): Promise<boolean>;
  /** Copies a local file into the store (atomically). */
  upload(localPath: string, uri: string): Promise<void>;
  /**
   * Puts a local file the caller gives up into the store (atomically), moving it where the store can (a local store on
   * the same filesystem) instead of copying; the file may be gone afterwards.
   */
  adopt(localPath: string, uri: string): Promise<void>;
  /** Copies an artifact to a local file (atomically on the local side). */
  download(uri: string, localPath: string): Promise<void>;
  /** URIs of every artifact under a prefix, sorted. */
  list(prefixUri: string): Promise<string[]>;
  /**
   * Deletes one artifact; resolves `false` when nothing was there (already removed: removing is idempotent). Used by
   * the prediction log's compaction for the parts it merged, once no reader can still be reading them.
   */
  remove(uri: string): Promise<boolean>;
  /** A local path for reading the artifact in place, when the backend is local; otherwise undefined. */
  localPath(uri: string): string | undefined;
}

/**
 * Turns a URI or a root-relative key into the key relative to the root, or throws `MLOPS_ERR_ARTIFACT_URI_INVALID`.
 * Shared by every backend so the escape rules are the same everywhere.
 */
export function keyWithinRoot(root: string, uriOrKey: string): string {
  let key = uriOrKey;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uriOrKey)) {
    if (uriOrKey !== root && !uriOrKey.startsWith(`${root}/`)) {
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', {
        uri: uriOrKey,
        reason: `it is outside the store root ${root}`,
      });
    }
    key = uriOrKey.slice(root.length + 1);
  }
  return normalizeKey(uriOrKey, key);
}

/** Joins segments into a key, checking each one. */
export function joinKey(root: string, segments: string[]): string {
  const [first = '', ...rest] = segments;
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(first) ? keyWithinRoot(root, first) : first;
  const joined = [base, ...rest].filter((segment) => segment !== '').join('/');
  const key = normalizeKey(joined, joined);
  return key === '' ? root : `${root}/${key}`;
}

function normalizeKey(uri: string, key: string): string {
  const parts = key.split('/').filter((part) => part !== '' && part !== '.');
  for (const part of parts) {
    if (part === '..')
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri, reason: '".." would escape the store root' });
    if (part.includes('\\') || part.includes('\0')) {
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', {
        uri,
        reason: 'backslashes and NUL are not allowed in keys',
      });
    }
  }
  if (key.startsWith('/') && !/^[a-z]+:\/\//i.test(uri)) {
    throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri, reason: 'keys are relative to the store root' });
  }
  return parts.join('/');
}

export async function readJson<T>(store: ArtifactStore, uri: string): Promise<T> {
  return JSON.parse((await store.read(uri)).toString('utf8')) as T;
}

/** Writes JSON with sorted-insertion formatting, so equal values give byte-identical artifacts. */
export async function writeJson(store: ArtifactStore, uri: string, value: unknown): Promise<void> {
  await store.write(uri, `${JSON.stringify(value, null, 2)}\n`);
}

/** Runs `fn` on a local path of the artifact, downloading it first when the store is remote. */
export async function withLocalCopy<T>(
  store: ArtifactStore,
  uri: string,
  fn: (file: string) => Promise<T>,
): Promise<T> {
  const local = store.localPath(uri);
  if (local) return fn(local);
  const dir = await makeTempDir('mlops-artifact-');
  try {
    const file = path.join(dir, path.basename(uri));
    await store.download(uri, file);
    return await fn(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
