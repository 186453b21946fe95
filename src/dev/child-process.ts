import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** Milliseconds a server gets between SIGTERM and SIGKILL when stopped. */
const stopGraceMs = 10_000;

/**
 * Ties a server process to this one: it is killed if this process exits without stopping it (but not if this process
 * is killed by SIGKILL, which runs no handler: {@link startGuarded} covers that), and the returned `stop` ends it with
 * SIGTERM (SIGKILL after a grace period) and resolves once it has exited.
 */
export function superviseChild(child: ChildProcess): () => Promise<void> {
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
    await exited;
    clearTimeout(timer);
  };
}

/** How a server process ended: its exit code, or the signal that ended it. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it has no status of its own: it could not be started (e.g. ENOENT), or its guard was killed. */
  error?: string;
}

export interface GuardedServer {
  /** The server's own process id. */
  pid: number;
  /** Its guard's process id. */
  guardPid: number;
  /** Resolves once the server has exited, whoever stopped it. */
  exited: Promise<ServerExit>;
  /** Stops the server (SIGTERM, SIGKILL after a grace period) and resolves once it has exited. */
  stop(): Promise<ServerExit>;
}

export interface GuardedServerOptions {
  /** File the server's stdout and stderr are appended to. */
  logFile: string;
  /** A lock file naming the server's pid, removed once the server has exited (even when this process is gone). */
  lockFile?: string;
}

/**
 * Starts a server that dies with this process however this process dies, SIGKILL included: it runs under a small
 * guard process (src/dev/server-guard.cjs) whose stdin is a pipe from this one; the kernel closes that pipe when this
 * process ends, and the guard then stops the server with SIGTERM, as a normal stop does. The guard has its own process
 * group, so a terminal's Ctrl-C reaches only this process, which stops its workers before the server.
 */
export async function startGuarded(
  command: string,
  args: readonly string[],
  options: GuardedServerOptions,
): Promise<GuardedServer> {
  const out = fs.openSync(options.logFile, 'a');
  const guard = spawn(
    process.execPath,
    [path.join(__dirname, 'server-guard.cjs'), String(stopGraceMs), options.lockFile ?? '', command, ...args],
    { stdio: ['pipe', 'pipe', out], detached: true },
  );
  fs.closeSync(out);
  const lifeline = guard.stdin!;
  // Ending stdin is the stop; a guard already gone makes that fail, which changes nothing.
  lifeline.on('error', () => undefined);
  let serverPid: number | undefined;
  let reported: ServerExit | undefined;
  let resolvePid: (pid: number) => void = () => undefined;
  const started = new Promise<number>((resolve) => (resolvePid = resolve));
  readline.createInterface({ input: guard.stdout! }).on('line', (line) => {
    const report = JSON.parse(line) as { pid?: number; exit?: ServerExit };
    if (report.pid !== undefined) resolvePid((serverPid = report.pid));
    if (report.exit) reported = report.exit;
  });
  // 'close' comes after the guard's last report line.
  const exited = new Promise<ServerExit>((resolve) => {
    guard.once('close', (code, signal) => resolve(reported ?? guardEnded(serverPid, { code, signal })));
    guard.once('error', (err) => resolve({ code: null, signal: null, error: err.message }));
  });
  const pid = await Promise.race([started, exited.then((end) => Promise.reject(notStarted(command, end)))]);
  return {
    pid,
    guardPid: guard.pid!,
    exited,
    stop: () => {
      lifeline.end();
      return exited;
    },
  };
}

/** A guard that ended without reporting its server's end was killed on its own: stop its server from here. */
function guardEnded(serverPid: number | undefined, end: ServerExit): ServerExit {
  if (serverPid === undefined) return end;
  try {
    process.kill(serverPid, 'SIGTERM');
  } catch {
    return end; // already gone
  }
  return { ...end, error: `its guard process ended (${describeExit(end)}), so it was sent SIGTERM` };
}

function notStarted(command: string, end: ServerExit): Error {
  return new Error(`${command} did not start: ${end.error ?? describeExit(end)}`);
}

/** "code 1", "SIGKILL", or why it ended without a status of its own. */
export function describeExit(end: ServerExit): string {
  return end.error ?? end.signal ?? `code ${end.code}`;
}
