import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import type { LocalArtifactStore } from '../../src/artifacts';
import { predictionLogFolder } from '../../src/artifacts/layout';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';
import { repoRoot, tempDir } from '../support/stack';

/** Sends one prediction on a connection of its own (no keep-alive), so the cluster hands each to the next worker. */
function predictOnce(url: string, id: string, instances: unknown[]): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ instances });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/models/churn:predict`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-request-id': id },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts the server as a stranger would, through its environment, and waits for its listening line: by default
 * `src/serving/server.ts` through tsx (`npm run serve`), or the `entry` given (the compiled server).
 */
async function startCluster(
  root: string,
  workers: number,
  entry = ['--import', 'tsx', 'src/serving/server.ts'],
): Promise<{ child: ChildProcess; url: string; pids: number[] }> {
  const child = spawn(process.execPath, entry, {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MLOPS_ARTIFACT_ROOT: root,
      MLOPS_STATE_DIR: tempDir('cluster-state'),
      MLOPS_SERVE_MODEL: 'churn',
      MLOPS_SERVE_PORT: '0',
      MLOPS_SERVE_WORKERS: String(workers),
      MLOPS_SERVE_LOG: 'true',
      // Nothing is written before shutdown: the parts in the store are what the shutdown flushed.
      MLOPS_SERVE_LOG_FLUSH_ROWS: '100000',
      MLOPS_SERVE_LOG_CAPACITY: '100000',
      MLOPS_SERVE_LOG_FLUSH_MS: '600000',
      MLOPS_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string; workers?: number[] };
    if (entry.msg === 'model server listening') return { child, url: entry.url!, pids: entry.workers! };
  }
  throw new Error(`the server exited (code ${child.exitCode}) before it listened`);
}

describe('the model server in its multi-core mode (MLOPS_SERVE_WORKERS)', function () {
  it('serves from 2 worker processes on one port, and a shutdown flushes the prediction log of both', async function () {
    this.timeout(120_000);
    const { store } = await servedChurn();
    const logParts = async () =>
      (await store.list(predictionLogFolder(store, 'churn'))).filter((f) => f.endsWith('.parquet'));
    const before = new Set(await logParts());
    try {
      await serveAndStop(store, before, await startCluster(store.root, 2), logParts);
    } finally {
      // The store is shared by this process's serving tests, which count every logged row: leave it as it was.
      for (const f of await logParts()) if (!before.has(f)) fs.rmSync(store.localPath(f));
    }
  });

  it('does the same compiled, run by plain node as the compose service runs it (its workers and log worker as .js)', async function () {
    this.timeout(180_000);
    // Built as `npm run build` builds it (tsconfig.build.json), under node_modules/.cache so the built files find the
    // project's packages.
    fs.mkdirSync(path.join(repoRoot, 'node_modules', '.cache'), { recursive: true });
    const built = fs.mkdtempSync(path.join(repoRoot, 'node_modules', '.cache', 'built-server-'));
    const { store } = await servedChurn();
    const logParts = async () =>
      (await store.list(predictionLogFolder(store, 'churn'))).filter((f) => f.endsWith('.parquet'));
    const before = new Set(await logParts());
    try {
      execFileSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', built],
        {
          cwd: repoRoot,
          stdio: 'inherit',
        },
      );
      const entry = ['--max-semi-space-size=64', path.join(built, 'src/serving/server.js')];
      await serveAndStop(store, before, await startCluster(store.root, 2, entry), logParts);
    } finally {
      for (const f of await logParts()) if (!before.has(f)) fs.rmSync(store.localPath(f));
      fs.rmSync(built, { recursive: true, force: true });
    }
  });
});

async function serveAndStop(
  store: LocalArtifactStore,
  before: Set<string>,
  { child, url, pids }: { child: ChildProcess; url: string; pids: number[] },
  logParts: () => Promise<string[]>,
): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  assert.equal(new Set(pids).size, 2);
  assert.doesNotMatch(url, /:0$/);
  const sent = new Map<string, number>();
  try {
    for (let i = 0; i < 20; i++) {
      const instances = i % 2 ? [riskyCustomer] : [loyalCustomer, riskyCustomer, loyalCustomer];
      const response = await predictOnce(url, `cluster-${i}`, instances);
      assert.equal(response.status, 200, response.body);
      assert.equal((JSON.parse(response.body) as { predictions: unknown[] }).predictions.length, instances.length);
      sent.set(`cluster-${i}`, instances.length);
    }
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  const files = (await logParts()).filter((f) => !before.has(f));
  // Each worker writes its own parts, named after it: both served, both flushed on shutdown.
  const writers = new Set(files.map((f) => /part-\d+T\d+Z-(?:\d+T\d+Z-)?(w\d+)-/.exec(f)?.[1]));
  assert.equal(writers.size, 2, files.join(', '));
  assert.ok(!writers.has(undefined), files.join(', '));
  const rows = await withDuckDb((db) =>
    db.query<{ request_id: string; n: bigint }>(
      `SELECT request_id, count(*) AS n FROM read_parquet([${files.map((f) => literal(store.localPath(f))).join(', ')}]) WHERE request_id LIKE 'cluster-%' GROUP BY request_id`,
    ),
  );
  assert.deepEqual(new Map(rows.map((r) => [r.request_id, Number(r.n)])), sent);
}
