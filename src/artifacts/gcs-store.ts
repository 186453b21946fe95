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

  constructor(root: string, options: StorageOptions = {}) {
    const match = /^gs:\/\/([^/]+)(?:\/(.*))?$/.exec(root.replace(/\/+$/, ''));
    if (!match?.[1])
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri: root, reason: 'expected gs://bucket[/prefix]' });
    this.root = root.replace(/\/+$/, '');
    this.prefix = match[2] ?? '';
    this.bucket = new Storage(options).bucket(match[1]);
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
      throw notFoundOr(err, uri);
    }
  }

  async write(uri: string, data: Buffer | string): Promise<void> {
    await this.bucket.file(this.objectName(uri)).save(typeof data === 'string' ? Buffer.from(data) : data, {
      resumable: false,
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
      throw err;
    }
  }

  async upload(localPath: string, uri: string): Promise<void> {
    await this.bucket.upload(localPath, { destination: this.objectName(uri), resumable: false });
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
      throw notFoundOr(err, uri);
    }
  }

  async list(prefixUri: string): Promise<string[]> {
    const key = keyWithinRoot(this.root, prefixUri);
    const prefix = [this.prefix, key].filter(Boolean).join('/');
    const [files] = await this.bucket.getFiles({ prefix: prefix === '' ? undefined : `${prefix}/` });
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

  private objectName(uri: string): string {
    const key = keyWithinRoot(this.root, uri);
    return [this.prefix, key].filter(Boolean).join('/');
  }
}

function notFoundOr(err: unknown, uri: string): Error {
  return (err as { code?: number }).code === 404 ? mlopsError('MLOPS_ERR_ARTIFACT_NOT_FOUND', { uri }) : (err as Error);
}
