/**
 * The model server's multi-core mode (MLOPS_SERVE_WORKERS > 1): the primary process forks that many workers, which
 * share the listening port (Node `cluster`, connections handed out round-robin by the primary). The primary loads no
 * model and serves nothing; each worker is a whole server: it loads the model, follows the deployment record on its own
 * and writes its own prediction log parts (no two processes write one file).
 *
 * - SIGTERM or SIGINT to the primary is passed on as SIGTERM to every worker; each drains its requests and flushes its
 *   prediction log, and the primary exits once all have exited (code 0 when every worker exited cleanly).
 * - A worker that dies while serving is replaced. One that dies before it ever listened (a bad model, a port in use)
 *   stops the whole server with code 1, rather than restarting in a loop.
 * - Once every worker listens, the primary prints one JSON line
 *   `{"msg":"model server listening","url":…,"workers":[pids]}`.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';

interface Primary {
  stopping: boolean;
  listening: Set<number>;
  failed: boolean;
}

function line(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, ...fields })}\n`);
}

/** Runs the primary of a cluster of `count` server workers (this same entry point, run as workers). */
export function runPrimary(count: number): void {
  const state: Primary = { stopping: false, listening: new Set(), failed: false };
  let announced = false;
  cluster.on('listening', (worker, address) => {
    state.listening.add(worker.id);
    if (announced || state.listening.size < count) return;
    announced = true;
    const host = address.address?.includes(':') ? `[${address.address}]` : (address.address ?? '127.0.0.1');
    const pids = Object.values(cluster.workers ?? {}).map((w) => w?.process.pid);
    line({ level: 30, msg: 'model server listening', url: `http://${host}:${address.port}`, workers: pids });
  });
  cluster.on('exit', (worker, code, signal) => onExit(state, worker, code, signal));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopAll(state));
  // The workers run with the server's young-generation size (see `serverNodeFlags`) however the primary was started.
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const missing = serverNodeFlags.filter((f) => !given.includes(f.split('=')[0]!));
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...missing] });
  for (let i = 0; i < count; i++) cluster.fork();
}

/**
 * Node flags the model server is started with (`npm run serve`, the compose service, cluster workers): a 64 MiB
 * young generation (semi-space) instead of 16 MiB, so the parsed request bodies of a busy server die in fewer, cheaper
 * scavenges (about 5–10% more 64-row requests per second, docs/benchmarks.md); it costs up to about 100 MiB of heap.
 */
export const serverNodeFlags = ['--max-semi-space-size=64'];

function onExit(state: Primary, worker: Worker, code: number | null, signal: string | null): void {
  const everListened = state.listening.delete(worker.id);
  const clean = code === 0;
  if (!clean) state.failed = true;
  if (state.stopping) {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(state.failed ? 1 : 0);
    return;
  }
  if (!everListened) {
    line({ level: 50, msg: 'a model server worker failed to start; stopping', code, signal });
    stopAll(state);
    return;
  }
  line({ level: 40, msg: 'a model server worker died; starting another', code, signal });
  state.failed = false;
  cluster.fork();
}

function stopAll(state: Primary): void {
  if (state.stopping) return;
  state.stopping = true;
  const workers = Object.values(cluster.workers ?? {});
  if (workers.length === 0) process.exit(state.failed ? 1 : 0);
  for (const worker of workers) worker?.process.kill('SIGTERM');
}
