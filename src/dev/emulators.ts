/**
 * Local stand-ins for Google Cloud services, used by the tests: fake-gcs-server for Cloud Storage (the real
 * `@google-cloud/storage` client talks to it over HTTP). Built from Go modules on first use, like the Temporal CLI.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { mlopsError } from '../errors';
import type { GoTool, Log } from './go-tools';
import { superviseChild } from './child-process';
import { resolveGoTool } from './go-tools';
import { freePort } from './temporal-server';

export const fakeGcsTool: GoTool = {
  binary: 'fake-gcs-server',
  module: 'github.com/fsouza/fake-gcs-server',
  version: 'v1.52.2',
  minimumGo: [1, 23],
};

/**
 * goccy/bigquery-emulator: a BigQuery REST API over an embedded SQL engine (pure Go since CGO is off). The proxy
 * refuses its version list, so it is built from the downloaded module source; the first build takes about ten
 * minutes and several GB of memory on two cores.
 */
export const bigQueryEmulatorTool: GoTool = {
  binary: 'bigquery-emulator',
  module: 'github.com/goccy/bigquery-emulator/cmd/bigquery-emulator',
  version: 'v0.8.1',
  minimumGo: [1, 24],
  fromSource: { modulePath: 'github.com/goccy/bigquery-emulator', packageDir: 'cmd/bigquery-emulator' },
};

export function resolveBigQueryEmulator(
  cacheDir: string,
  explicitPath: string | undefined,
  log: Log = () => {},
): string {
  return resolveEmulator(bigQueryEmulatorTool, 'BIGQUERY_EMULATOR_PATH', cacheDir, explicitPath, log);
}

export function resolveFakeGcs(cacheDir: string, explicitPath: string | undefined, log: Log = () => {}): string {
  return resolveEmulator(fakeGcsTool, 'FAKE_GCS_SERVER_PATH', cacheDir, explicitPath, log);
}

function resolveEmulator(
  tool: GoTool,
  explicitName: string,
  cacheDir: string,
  explicitPath: string | undefined,
  log: Log,
): string {
  return resolveGoTool({
    cacheDir,
    tool,
    explicitPath,
    explicitName,
    log,
    missing: (searched, goRequirement) =>
      mlopsError('MLOPS_ERR_DEV_TOOL_MISSING', { tool: tool.binary, searched, goRequirement }),
  });
}

export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  stop(): Promise<void>;
}

/** Starts fake-gcs-server (in-memory, plain HTTP, loopback) and resolves once it answers. */
export async function startFakeGcs(binary: string, logDir: string): Promise<RunningEmulator> {
  const port = await freePort();
  fs.mkdirSync(logDir, { recursive: true });
  const out = fs.openSync(path.join(logDir, 'fake-gcs-server.log'), 'a');
  const child = spawn(
    binary,
    [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-backend',
      'memory',
      '-public-host',
      `127.0.0.1:${port}`,
      '-log-level',
      'warn',
    ],
    {
      stdio: ['ignore', out, out],
    },
  );
  fs.closeSync(out);
  const stop = superviseChild(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
        server: 'fake-gcs-server',
        address: url,
        reason: `it exited with code ${child.exitCode}`,
      });
    const ok = await fetch(`${url}/storage/v1/b`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline)
      throw mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
        server: 'fake-gcs-server',
        address: url,
        reason: 'no answer within 30 s',
      });
    // Readiness polling of an external process.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, stop };
}

/**
 * Starts bigquery-emulator (project `test`, loopback, free ports) seeded from a YAML document, and resolves once its
 * REST server listens.
 */
export async function startBigQueryEmulator(
  binary: string,
  seedYaml: string,
  workDir: string,
): Promise<RunningEmulator> {
  fs.mkdirSync(workDir, { recursive: true });
  const seed = path.join(workDir, 'seed.yaml');
  fs.writeFileSync(seed, seedYaml);
  // A free port can be taken by another process between the probe and the emulator's bind: try fresh ports again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(binary, seed, path.join(workDir, `emulator-${attempt}.db`));
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('address already in use')) throw err;
    }
  }
}

/**
 * `database`: the emulator's SQLite file, in the caller's work folder. Without one it makes an unnamed file in the
 * system temp folder, left there whenever it is killed rather than stopped.
 */
async function startOnFreePorts(binary: string, seed: string, database: string): Promise<RunningEmulator> {
  const port = await freePort();
  let grpcPort = await freePort();
  while (grpcPort === port) grpcPort = await freePort();
  const child = spawn(
    binary,
    [
      '--project=test',
      '--host=127.0.0.1',
      `--port=${port}`,
      `--grpc-port=${grpcPort}`,
      `--data-from-yaml=${seed}`,
      `--database=${database}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = superviseChild(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
            server: 'bigquery-emulator',
            address: `127.0.0.1:${port}`,
            reason: `no answer within 60 s:\n${output}`,
          }),
        ),
      60_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('REST server listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        mlopsError('MLOPS_ERR_DEV_SERVER_START_FAILED', {
          server: 'bigquery-emulator',
          address: `127.0.0.1:${port}`,
          reason: `it exited with code ${code}:\n${output}`,
        }),
      );
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop,
  };
}
