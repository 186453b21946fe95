import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mlopsError } from '../errors';
import type { ArtifactStore } from './artifact-store';
import { joinKey, keyWithinRoot } from './artifact-store';

/** The embedded default: artifacts are files under one folder. Writes go to a temp file, then `rename`. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  private readonly rootPath: string;

  constructor(root: string) {
    this.rootPath = root.startsWith('file://') ? fileURLToPath(root) : path.resolve(root);
    this.root = pathToFileURL(this.rootPath).href.replace(/\/+$/, '');
  }

  uri(...segments: string[]): string {
    return joinKey(this.root, segments);
  }

  localPath(uri: string): string {
    const key = keyWithinRoot(this.root, uri);
    const resolved = path.resolve(this.rootPath, key);
    if (resolved !== this.rootPath && !resolved.startsWith(this.rootPath + path.sep)) {
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri, reason: 'it resolves outside the store root' });
    }
    return resolved;
  }

  async exists(uri: string): Promise<boolean> {
    return fs.stat(this.localPath(uri)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  async read(uri: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.localPath(uri));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw mlopsError('MLOPS_ERR_ARTIFACT_NOT_FOUND', { uri });
      throw err;
    }
  }

  async write(uri: string, data: Buffer | string): Promise<void> {
    await this.replaceAtomically(uri, (tmp) => fs.writeFile(tmp, data));
  }

  async upload(localPath: string, uri: string): Promise<void> {
    await this.replaceAtomically(uri, (tmp) => fs.copyFile(localPath, tmp));
  }

  async download(uri: string, localPath: string): Promise<void> {
    const source = this.localPath(uri);
    if (!(await this.exists(uri))) throw mlopsError('MLOPS_ERR_ARTIFACT_NOT_FOUND', { uri });
    const tmp = `${localPath}.tmp-${randomBytes(6).toString('hex')}`;
    await fs.mkdir(path.dirname(localPath), { recursive: true });
    await fs.copyFile(source, tmp);
    await fs.rename(tmp, localPath);
  }

  async list(prefixUri: string): Promise<string[]> {
    const base = this.localPath(prefixUri);
    const entries = await fs.readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile() && !e.name.startsWith('.tmp-'))
      .map((e) => pathToFileURL(path.join(e.parentPath, e.name)).href)
      .sort();
  }

  /** Writes into a hidden temp file beside the target and renames it over the target (atomic on POSIX). */
  private async replaceAtomically(uri: string, fill: (tmp: string) => Promise<void>): Promise<void> {
    const target = this.localPath(uri);
    await fs.mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
    try {
      await fill(tmp);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }
}
