import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Bucket, StorageOptions } from '@google-cloud/storage';
import { Storage } from '@google-cloud/storage';
import { mlopsError } from '../errors';
import type { ArtifactStore } from './artifact-store';
import { joinKey, keyWithinRoot } from './artifact-store';

/**
 * Artifacts as Cloud Storage objects under `gs://bucket/prefix`. An object only becomes visible when its upload
 * completes, which gives the atomic-write guarantee without temp objects.
 */
export class GcsArtifactStore implements ArtifactStore {
  readonly root: string;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  /** A custom endpoint (fake-gcs-server), named in messages. */
  private readonly apiEndpoint?: string;

  constructor(root: string, options: StorageOptions = {}) {
    const match = /^gs:\/\/([^/]+)(?:\/(.*))?$/.exec(root.replace(/\/+$/, ''));
    if (!match?.[1])
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri: root, reason: 'expected gs://bucket[/prefix]' });
    this.root = root.replace(/\/+$/, '');
    this.prefix = match[2] ?? '';
    this.bucket = new Storage(options).bucket(match[1]);
    this.apiEndpoint = options.apiEndpoint;
  }

  /** Fails with MLOPS_ERR_ARTIFACT_BUCKET_NOT_FOUND when the store's bucket does not exist. */
  async check(): Promise<void> {
    const [found] = await this.bucket.exists();
    if (!found) throw this.bucketMissing();
  }

  uri(...segments: string[]): string {
    return joinKey(this.root, segments);
  }

  localPath(): undefined {
    return undefined;
  }

  async exists(uri: string): Promise<boolean> {
    const [found] = await this.bucket.file(this.objectName(uri)).exists();
    return found;
  }

  async read(uri: string): Promise<Buffer> {
    try {
      const [data] = await this.bucket.file(this.objectName(uri)).download();
      return data;
    } catch (err) {
      throw await this.failure(err, uri);
    }
  }

  async write(uri: string, data: Buffer | string): Promise<void> {
    await this.bucket
      .file(this.objectName(uri))
      .save(typeof data === 'string' ? Buffer.from(data) : data, { resumable: false })
      .catch(async (err: unknown) => {
        throw await this.failure(err);
      });
  }

  /** `ifGenerationMatch: 0` makes Cloud Storage accept the upload only when no live object has the name (else 412). */
  async createOnly(uri: string, data: Buffer | string): Promise<boolean> {
    try {
      await this.bucket.file(this.objectName(uri)).save(typeof data === 'string' ? Buffer.from(data) : data, {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: 0 },
      });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 412) return false;
      throw await this.failure(err);
    }
  }

  async upload(localPath: string, uri: string): Promise<void> {
    await this.bucket
      .upload(localPath, { destination: this.objectName(uri), resumable: false })
      .catch(async (err: unknown) => {
        throw await this.failure(err);
      });
  }

  /** Cloud Storage takes a copy: the same as `upload` (the caller removes its file). */
  adopt(localPath: string, uri: string): Promise<void> {
    return this.upload(localPath, uri);
  }

  async download(uri: string, localPath: string): Promise<void> {
    await fs.mkdir(path.dirname(localPath), { recursive: true });
    const tmp = `${localPath}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await this.bucket.file(this.objectName(uri)).download({ destination: tmp });
      await fs.rename(tmp, localPath);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw await this.failure(err, uri);
    }
  }

  async list(prefixUri: string): Promise<string[]> {
    const key = keyWithinRoot(this.root, prefixUri);
    const prefix = [this.prefix, key].filter(Boolean).join('/');
    const [files] = await this.bucket
      .getFiles({ prefix: prefix === '' ? undefined : `${prefix}/` })
      .catch(async (err: unknown) => {
        throw await this.failure(err);
      });
    return files.map((f) => `gs://${this.bucket.name}/${f.name}`).sort();
  }

  async remove(uri: string): Promise<boolean> {
    try {
      await this.bucket.file(this.objectName(uri)).delete();
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  /**
   * A 404 as a catalogued error: the bucket is missing (asked once more, since Cloud Storage answers a missing object
   * and a missing bucket alike on reads), or else the object `uri` is. Other errors pass through (5xx and network
   * errors are retried).
   */
  private async failure(err: unknown, uri?: string): Promise<Error> {
    if ((err as { code?: number }).code !== 404) return err as Error;
    const [bucketFound] = await this.bucket.exists().catch((): [boolean] => [true]);
    if (!bucketFound) return this.bucketMissing();
    return uri ? mlopsError('MLOPS_ERR_ARTIFACT_NOT_FOUND', { uri }) : (err as Error);
  }

  private bucketMissing(): Error {
    return mlopsError('MLOPS_ERR_ARTIFACT_BUCKET_NOT_FOUND', {
      root: this.root,
      bucket: this.bucket.name,
      endpoint: this.apiEndpoint ? ` at ${this.apiEndpoint}` : '',
    });
  }

  private objectName(uri: string): string {
    const key = keyWithinRoot(this.root, uri);
    return [this.prefix, key].filter(Boolean).join('/');
  }
}
