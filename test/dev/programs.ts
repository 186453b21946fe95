/** Helpers of the test/dev tests: programs of this repository run as processes of their own, and their processes. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/dev/temporal-server';
import { repoRoot, stack, tempDir } from '../support/stack';

/** A TypeScript program of this repository as a process of its own, with its output read line by line. */
export function run(file: string, env: Record<string, string> = {}, args: string[] = []) {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, file), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = output.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => ((output += chunk.toString('utf8')), check()));
  child.stderr.on('data', (chunk: Buffer) => ((output += chunk.toString('utf8')), check()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Resolves when the output so far matches; fails if the program exits first. */
  const seen = (pattern: RegExp) =>
    Promise.race([
      new Promise<RegExpMatchArray>((resolve) => (waiters.push({ pattern, resolve }), check())),
      exited.then((end) => assert.fail(`exited (${JSON.stringify(end)}) before printing ${pattern}:\n${output}`)),
    ]);
  return { child, seen, exited, output: () => output };
}

/** Whether the process runs (a zombie whose parent has not reaped it yet does not). */
export { isAlive as alive } from '../../src/scratch';

/** Whether a connection to the loopback port is refused (nothing listens). */
export async function portRefused(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

/** The dev server's lock in a state folder (src/dev/temporal-server.ts). */
export function readLock(lockFile: string): { pid: number; owner?: number; guard?: number } {
  return JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number; owner?: number; guard?: number };
}

/** `npm run temporal:server` on its own state folder and ports, once it says it is ready. */
export async function startTemporalServerScript(prefix: string) {
  const stateDir = tempDir(prefix);
  const port = await freePort();
  const program = run('scripts/temporal-server.ts', {
    MLOPS_STATE_DIR: stateDir,
    MLOPS_DEV_SERVER_PORT: String(port),
    MLOPS_DEV_UI_PORT: String(await freePort()),
    TEMPORAL_CLI_PATH: stack().cliPath,
  });
  await program.seen(/Press Ctrl-C to stop/);
  const serverDir = path.join(stateDir, 'temporal');
  const lockFile = path.join(serverDir, 'temporal.lock');
  return { program, port, serverDir, lockFile, pid: readLock(lockFile).pid };
}
