import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mlopsError } from '../errors';
import type { ArtifactStore } from './artifact-store';
import { joinKey, keyWithinRoot } from './artifact-store';

/**
 * The embedded default: artifacts are files under one folder. Writes go to a temp file, then `rename`.
 *
 * Symbolic links: every path is checked after resolving links (of the root too, so a root that is itself a link to a
 * data disk works). A link inside the root that leads out of it is refused for reads and writes alike
 * (`MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT`); a write's rename replaces a link at the target itself instead of writing
 * through it.
 */
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
    if (!isWithin(this.rootPath, resolved)) {
      throw mlopsError('MLOPS_ERR_ARTIFACT_URI_INVALID', { uri, reason: 'it resolves outside the store root' });
    }
    const realRoot = realPathOfExisting(this.rootPath);
    const real = realPathOfExisting(resolved);
    if (!isWithin(realRoot, real))
      throw mlopsError('MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT', { uri, path: real, root: realRoot });
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
    await this.publishFromTemp(uri, (tmp) => fs.writeFile(tmp, data), replace);
  }

  /** A finished temp file is hard-linked to the name: `link` fails with EEXIST when the name exists, atomically. */
  async createOnly(uri: string, data: Buffer | string): Promise<boolean> {
    let created = false;
    await this.publishFromTemp(
      uri,
      (tmp) => fs.writeFile(tmp, data),
      async (tmp, target) => {
        created = await fs.link(tmp, target).then(
          () => true,
          (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : Promise.reject(err)),
        );
      },
    );
    return created;
  }

  async upload(localPath: string, uri: string): Promise<void> {
    await this.publishFromTemp(uri, (tmp) => fs.copyFile(localPath, tmp), replace);
  }

  async adopt(localPath: string, uri: string): Promise<void> {
    await this.publishFromTemp(
      uri,
      (tmp) =>
        fs.rename(localPath, tmp).catch((err: NodeJS.ErrnoException) => {
          // Another filesystem: copied instead.
          if (err.code !== 'EXDEV') throw err;
          return fs.copyFile(localPath, tmp);
        }),
      replace,
    );
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

  async remove(uri: string): Promise<boolean> {
    const target = this.localPath(uri);
    if (!(await this.exists(uri))) return false;
    return fs.unlink(target).then(
      () => true,
      (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
    );
  }

  /** Writes into a hidden temp file beside the target, then publishes it under the target's name. */
  private async publishFromTemp(
    uri: string,
    fill: (tmp: string) => Promise<void>,
    publish: (tmp: string, target: string) => Promise<void>,
  ): Promise<void> {
    const target = this.localPath(uri);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // Checked again now that the folders exist, in case a link was planted between the first check and the mkdir.
    this.localPath(uri);
    const tmp = path.join(path.dirname(target), `.tmp-${path.basename(target)}-${randomBytes(6).toString('hex')}`);
    try {
      await fill(tmp);
      await publish(tmp, target);
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }
}

/** `rename` over the target: atomic on POSIX, and it replaces a link at the target rather than writing through it. */
const replace = (tmp: string, target: string) => fs.rename(tmp, target);

/** Whether `candidate` is `root` or lies under it (both absolute and resolved the same way). */
export function isWithin(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** The real path of a path whose tail may not exist yet: links resolved in the part that exists, the rest appended. */
function realPathOfExisting(target: string): string {
  const missing: string[] = [];
  for (let current = target; ; current = path.dirname(current)) {
    try {
      // The system's realpath(3): one call, where the JS version stats every component.
      return path.join(realpathSync.native(current), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || path.dirname(current) === current) throw err;
      missing.push(path.basename(current));
    }
  }
}
