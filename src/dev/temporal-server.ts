/**
 * The real Temporal server for the demo, the tests and CI: `temporal server start-dev` from the Temporal CLI, with a
 * SQLite file (state survives restarts), the Web UI, and the project's search attributes registered.
 *
 * The CLI is found in this order: TEMPORAL_CLI_PATH, `temporal` on PATH, the project's cache; otherwise it is built
 * from Go modules into the cache (a one-off build of a few minutes). Without a CLI and without Go it stops with
 * `MLOPS_ERR_DEV_TEMPORAL_CLI_MISSING`, which says how to install one.
 */
import type { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { MlopsConfig } from '../config';
import { searchAttributeFlags } from '../contracts/search-attributes';
import { mlopsError } from '../errors';
import type { GoTool, Log } from './go-tools';
import type { GuardedServer } from './child-process';
import { describeExit, startGuarded } from './child-process';
import { resolveGoTool } from './go-tools';

export type { Log } from './go-tools';

/** The Temporal CLI as a Go tool; v1.5.1 is the last tag `go install` accepts (later tags carry `replace` directives). */
export function temporalCliTool(version: string): GoTool {
  return {
    binary: 'temporal',
    module: 'github.com/temporalio/cli/cmd/temporal',
    version,
    ldflags: `-X github.com/temporalio/cli/temporalcli.Version=${version.replace(/^v/, '')}`,
    minimumGo: [1, 25],
  };
}

/** Finds or builds the Temporal CLI and returns its path. */
export function resolveTemporalCli(config: Pick<MlopsConfig, 'devServer' | 'cacheDir'>, log: Log = () => {}): string {
  return resolveGoTool({
    cacheDir: config.cacheDir,
    tool: temporalCliTool(config.devServer.cliVersion),
    explicitPath: config.devServer.cliPath,
    explicitName: 'TEMPORAL_CLI_PATH',
    log,
    missing: (searched, goRequirement) => mlopsError('MLOPS_ERR_DEV_TEMPORAL_CLI_MISSING', { searched, goRequirement }),
  });
}

export interface DevServer {
  /** The `temporal` process. */
  pid: number;
  /** gRPC frontend, `host:port`. */
  address: string;
  namespace: string;
  /** Web UI base URL, when the UI is on. */
  uiUrl?: string;
  dbFile: string;
  logFile: string;
  /**
   * Resolves with `MLOPS_ERR_DEV_SERVER_EXITED` (its status and log file) if the server exits before `stop()` was
   * called (killed, crashed); never resolves otherwise. The caller says so and stops what runs on the server.
   */
  unexpectedExit: Promise<ApplicationFailure>;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cliPath: string;
  /** Folder for the SQLite file and the server log. */
  stateDir: string;
  /** Frontend port; 0 picks a free one. */
  port: number;
  /** Web UI port; 0 picks a free one; `false` runs headless. */
  uiPort: number | false;
  /** The HTTP API's and the metrics' ports; 0 or absent picks free ones. */
  httpPort?: number;
  metricsPort?: number;
  /** Milliseconds to wait for readiness. @default 90000 */
  readyTimeoutMs?: number;
  log?: Log;
}

/** `temporal.lock` in the state folder: the dev server that uses its SQLite file, while it runs. */
interface StateLock {
  /** The `temporal` process. */
  pid: number;
  /** The process that started it (the demo, temporal:server, a test run); absent in locks of older versions. */
  owner?: number;
  /** Its guard (src/dev/server-guard.cjs), which stops it when the owner dies and then removes this lock. */
  guard?: number;
  address: string;
  uiUrl?: string;
}

/**
 * Two dev servers on one SQLite file share their workflows and break each other (a second `npm run demo` beside one
 * kept up): a lock naming a live server process refuses the second. A lock whose process is gone (killed without
 * its stop) is stale and replaced. A live server whose owner is gone is an orphan, not a stack to use: while its
 * guard lives it is being stopped (an owner killed a moment ago), so that stop is awaited; otherwise the refusal
 * says to kill it.
 */
async function refuseStateInUse(lockFile: string, stateDir: string): Promise<void> {
  let lock = readLock(lockFile);
  if (lock && lock.owner !== undefined && !isAlive(lock.owner) && lock.guard !== undefined && isAlive(lock.guard)) {
    await lockRemoved(lockFile, orphanStopWaitMs);
    lock = readLock(lockFile);
  }
  if (!lock || !isAlive(lock.pid)) return;
  const address = lock.uiUrl ? `${lock.address}, Web UI ${lock.uiUrl}` : lock.address;
  if (lock.owner !== undefined && !isAlive(lock.owner))
    throw mlopsError('MLOPS_ERR_DEV_SERVER_ORPHANED', { pid: lock.pid, owner: lock.owner, address, stateDir });
  throw mlopsError('MLOPS_ERR_DEV_SERVER_STATE_IN_USE', { pid: lock.pid, address, stateDir, lockFile });
}

/** Longer than the guard's SIGTERM-to-SIGKILL grace (src/dev/child-process.ts). */
const orphanStopWaitMs = 15_000;

function readLock(lockFile: string): StateLock | undefined {
  try {
    return JSON.parse(fs.readFileSync(lockFile, 'utf8')) as StateLock;
  } catch {
    return undefined; // none, or unreadable: nothing holds the folder
  }
}

/** Resolves once the file is gone, or after `timeoutMs`; watches its folder (no polling). */
async function lockRemoved(file: string, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const watcher = fs.watch(path.dirname(file), () => {
      if (!fs.existsSync(file)) done();
    });
    const timer = setTimeout(() => done(), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      watcher.close();
      resolve();
    };
    // Gone between the read and the watch.
    if (!fs.existsSync(file)) done();
  });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A free loopback TCP port (the OS picks it; it is released before the server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `temporal server start-dev` and resolves once the frontend (and the UI, if on) answer. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => {});
  fs.mkdirSync(options.stateDir, { recursive: true });
  const port = options.port || (await freePort());
  const uiPort = options.uiPort === false ? false : options.uiPort || (await freePort());
  const address = `127.0.0.1:${port}`;
  const dbFile = path.join(options.stateDir, 'temporal.sqlite');
  const logFile = path.join(options.stateDir, 'temporal-server.log');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--http-port',
    String(options.httpPort || (await freePort())),
    '--metrics-port',
    String(options.metricsPort || (await freePort())),
    '--db-filename',
    dbFile,
    // WAL without fsync: much faster on small machines; the file is dev/test state, not a production database.
    '--sqlite-pragma',
    'journal_mode=WAL',
    '--sqlite-pragma',
    'synchronous=OFF',
    '--log-level',
    'warn',
    ...(uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', '127.0.0.1']),
    ...searchAttributeFlags.flatMap((flag) => ['--search-attribute', flag]),
  ];
  const lockFile = path.join(options.stateDir, 'temporal.lock');
  await refuseStateInUse(lockFile, options.stateDir);
  // However this process ends (SIGKILL included), the server ends with it: no stray server holding the folder.
  const child = await startGuarded(options.cliPath, args, { logFile, lockFile }).catch((err: Error) => {
    throw mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
      server: 'Temporal dev server',
      address,
      reason: err.message,
    });
  });
  const uiUrl = uiPort === false ? undefined : `http://127.0.0.1:${uiPort}`;
  const lock: StateLock = { pid: child.pid, owner: process.pid, guard: child.guardPid, address, uiUrl };
  fs.writeFileSync(lockFile, `${JSON.stringify(lock)}\n`);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await child.stop();
    fs.rmSync(lockFile, { force: true });
  };
  const unexpectedExit = child.exited.then((end) => {
    if (stopping) return new Promise<never>(() => undefined);
    fs.rmSync(lockFile, { force: true });
    const how = describeExit(end);
    return mlopsError('MLOPS_ERR_DEV_SERVER_EXITED', { pid: child.pid, address, how, logFile });
  });
  const server: DevServer = {
    pid: child.pid,
    address,
    namespace: 'default',
    uiUrl,
    dbFile,
    logFile,
    unexpectedExit,
    stop,
  };
  try {
    await waitUntilReady(child, address, uiUrl, options.readyTimeoutMs ?? 90_000, logFile);
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`Temporal dev server ready at ${address}${uiUrl ? `, Web UI ${uiUrl}` : ''} (log: ${logFile})`);
  return server;
}

async function waitUntilReady(
  child: GuardedServer,
  address: string,
  uiUrl: string | undefined,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  void child.exited.then((end) => (exited = `the server exited (${describeExit(end)}); see ${logFile}`));
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited)
      throw mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', { server: 'Temporal dev server', address, reason: exited });
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
      if (!uiUrl || (await fetch(uiUrl).then((r) => r.ok))) return;
      lastError = 'the Web UI is not answering yet';
    } catch (err) {
      lastError = (err as Error).message;
    }
    // Readiness polling of an external process (not test synchronisation): check again shortly.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
    server: 'Temporal dev server',
    address,
    reason: `timed out after ${timeoutMs} ms (${lastError}); see ${logFile}`,
  });
}
