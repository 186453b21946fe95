/**
 * Serving throughput, side by side in one run on one model and the same payloads (1 and 64 rows per request):
 *   in-process   — the server's loop without HTTP: JSON.parse → validate → transform → session.run → JSON.stringify;
 *   raw run      — session.run alone on already-transformed rows;
 *   server       — `src/serving/server.ts` in its own process with the prediction log on and off, driven by
 *                  bench/serving-load.ts in another process (16 connections).
 *
 *   npx tsx bench/serving-throughput.ts [--seconds 5]
 *
 * Not yet measured here: the multi-core mode and the Python FastAPI baseline the serving issue asks for.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveAlias } from '../src/registry/model-registry';
import { loadVersion } from '../src/serving/load-version';
import { loyalCustomer, riskyCustomer, servedChurn } from '../test/support/served-model';

const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? riskyCustomer : loyalCustomer));

async function inProcess(seconds: number, rows: number) {
  const served = await servedChurn();
  const loaded = await loadVersion(served.store, await resolveAlias(served.store, 'churn', 'production'));
  const body = JSON.stringify({ instances: rowsOf(rows) });
  const width = loaded.predictor.inputWidth;
  const features = new Float32Array(rows * width).fill(0.5);
  const measure = async (fn: () => Promise<unknown>) => {
    const end = Date.now() + seconds * 1000;
    let n = 0;
    while (Date.now() < end) {
      await fn();
      n++;
    }
    return n / seconds;
  };
  const loop = await measure(async () => {
    const { instances } = JSON.parse(body) as { instances: unknown[] };
    return JSON.stringify({ predictions: await loaded.predictor.predict(instances) });
  });
  const raw = await measure(() => loaded.predictor.scoreTransformed(features, rows));
  await loaded.predictor.close();
  return { loop, raw };
}

async function server(seconds: number, rows: number, log: boolean, root: string) {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MLOPS_ARTIFACT_ROOT: root,
    MLOPS_SERVE_MODEL: 'churn',
    MLOPS_SERVE_PORT: String(port),
    MLOPS_SERVE_LOG: String(log),
    MLOPS_LOG_LEVEL: 'WARN',
    MLOPS_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'serve-bench-')),
    // Prediction log settings to compare (e.g. MLOPS_SERVE_LOG_FLUSH_ROWS) pass through.
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MLOPS_SERVE_LOG_'))),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/serving/server.ts'], { env, stdio: 'inherit' });
  try {
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const bodyFile = path.join(os.tmpdir(), `serve-bench-${rows}.json`);
    fs.writeFileSync(bodyFile, JSON.stringify({ instances: rowsOf(rows) }));
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/serving-load.ts',
        `http://127.0.0.1:${port}/v1/models/churn:predict`,
        bodyFile,
        '16',
        String(seconds),
      ],
      { encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as { rps: number; p50Ms: number; p99Ms: number; errors: number };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main() {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '5' }, rows: { type: 'string', default: '1,64' } },
  });
  const seconds = Number(values.seconds);
  const served = await servedChurn();
  console.log(
    `node ${process.version}, ${os.cpus()[0]?.model} × ${os.cpus().length}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const rows of values.rows.split(',').map(Number)) {
    const ip = await inProcess(seconds, rows);
    const on = await server(seconds, rows, true, served.store.root);
    const off = await server(seconds, rows, false, served.store.root);
    console.log(
      `${rows} row(s)/request: in-process loop ${ip.loop.toFixed(0)} req/s, raw session.run ${ip.raw.toFixed(0)} calls/s; ` +
        `server log on ${on.rps.toFixed(0)} req/s (p50 ${on.p50Ms.toFixed(2)} ms, p99 ${on.p99Ms.toFixed(2)} ms, ${on.errors} errors), ` +
        `log off ${off.rps.toFixed(0)} req/s (p50 ${off.p50Ms.toFixed(2)} ms, p99 ${off.p99Ms.toFixed(2)} ms); ` +
        `server (log on) ÷ in-process = ${(on.rps / ip.loop).toFixed(2)}`,
    );
  }
}

void main();
