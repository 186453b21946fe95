import type { ChildProcess } from 'node:child_process';

/** Seconds a server gets between SIGTERM and SIGKILL when stopped. */
const stopGraceMs = 10_000;

/**
 * Ties a server process to this one: it is killed if this process exits without stopping it (no strays), and the
 * returned `stop` ends it with SIGTERM (SIGKILL after a grace period) and resolves once it has exited.
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
