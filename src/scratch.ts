/**
 * Scratch space of step attempts: each attempt writes its temporary files (downloads, spills, staged copies) under
 * one folder of its own, `<root>/<host>@<pid>-<workflow id>-<activity id>-<attempt>`, removed when the attempt ends.
 * `@` never occurs in the host part, so the host `worker` never claims the folders of the host `worker-2`.
 * A worker killed mid-step cannot remove it, so every worker start sweeps the folders of this host whose process is
 * gone; folders of live processes (another worker sharing the state folder) and of other hosts are left alone.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const safe = (part: string | number) =>
  String(part)
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, 80);
const hostPart = () => safe(os.hostname());

/** Creates the attempt's folder; `parts` name it (workflow id, activity id, attempt). */
export async function createScratch(root: string, parts: (string | number)[]): Promise<string> {
  const dir = path.join(root, `${hostPart()}@${[process.pid, ...parts.map(safe)].join('-')}`);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

/** Removes the folders left by dead processes of this host; returns the folders removed. */
export async function sweepScratch(root: string): Promise<string[]> {
  const names = await fs.readdir(root).catch(() => [] as string[]);
  const prefix = `${hostPart()}@`;
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    await fs.rm(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Whether the process runs. A killed process whose parent has not reaped it yet (a zombie: a supervisor or shell that
 * is slow to wait, or a container without an init) still answers signal 0 but will never run again, so on Linux its
 * `/proc` state decides.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may itself hold ") ".
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
