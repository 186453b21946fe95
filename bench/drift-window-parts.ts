/**
 * What the monitoring drift check (`checkModelDrift`) costs over a window of many prediction-log parts: the same rows
 * written as 1 part, a few, and hundreds (an hour of one server's log not yet compacted is 720 parts at the default 5 s
 * flush). Each check runs in a process of its own, so its peak resident memory (VmHWM) is its own.
 *
 *   npx tsx bench/drift-window-parts.ts [--categorical 150] [--numeric 5] [--rows 2000] [--parts 1,8,200,720]
 *
 * The model's reference comes from the real ingest and profile activities on a generated CSV (categorical column j has
 * 5 + 7j mod 56 skewed values, 2% missing); the log rows are written by the model server's Parquet sink, every tenth
 * categorical column drifted.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPipelineActivities } from '../src/activities';
import { LocalArtifactStore, writeJson } from '../src/artifacts';
import { loadConfig } from '../src/config';
import { buildDependencies } from '../src/dependencies';
import { checkModelDrift } from '../src/monitoring/monitor-window';
import type { CheckModelDriftInput } from '../src/contracts/monitoring';
import { moveAlias, registerVersion } from '../src/registry/model-registry';
import { predictionRows, writeLogRows } from '../test/support/monitored-model';
import { seededRandom } from '../test/support/seeded-random';

const peakKb = () => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);

interface Shape {
  categorical: number;
  numeric: number;
}

function record(shape: Shape, random: () => number, drift: boolean): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = {};
  for (let j = 0; j < shape.categorical; j++) {
    const k = 5 + ((j * 7) % 56);
    const u = random();
    let i = Math.floor(k * u * u);
    if (drift && j % 10 === 0) i = k - 1 - i;
    row[`c${j}`] = random() < 0.02 ? null : `c${j}_v${i}`;
  }
  for (let j = 0; j < shape.numeric; j++) row[`n${j}`] = Math.round((random() * 100 + j) * 1000) / 1000;
  return row;
}

/** A store with model `wide` v1 (production) whose reference is the profile of a generated training set. */
async function modelStore(dir: string, shape: Shape): Promise<LocalArtifactStore> {
  const names = [
    ...Array.from({ length: shape.categorical }, (_, j) => `c${j}`),
    ...Array.from({ length: shape.numeric }, (_, j) => `n${j}`),
  ];
  const random = seededRandom(7);
  const lines = [[...names, 'y'].join(',')];
  for (let i = 0; i < 2000; i++) {
    const row = record(shape, random, false);
    lines.push([...names.map((n) => (row[n] === null ? '' : String(row[n]))), i % 2 ? 'up' : 'down'].join(','));
  }
  const csv = path.join(dir, 'data', 'train.csv');
  fs.mkdirSync(path.dirname(csv), { recursive: true });
  fs.writeFileSync(csv, `${lines.join('\n')}\n`);
  const config = loadConfig({
    HOME: process.env.HOME,
    PATH: process.env.PATH,
    MLOPS_STATE_DIR: path.join(dir, 'state'),
    MLOPS_DATA_ROOTS: path.dirname(csv),
  });
  const store = new LocalArtifactStore(path.join(dir, 'store'));
  const activities = createPipelineActivities(buildDependencies(config, { store }));
  const snapshot = await activities.ingestDataset({ sourceUri: csv });
  await activities.profileDataset({ snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: 'y' });
  // The drift check reads the version's reference and feature names, not its model.
  const files = {
    modelUri: store.uri('bench', 'model.onnx'),
    transformUri: store.uri('bench', 'transform.json'),
    evaluationUri: store.uri('bench', 'evaluation.json'),
  };
  await store.write(files.modelUri, Buffer.from('not read'));
  await writeJson(store, files.transformUri, { specHash: 'bench', features: names.map((name) => ({ name })) });
  await writeJson(store, files.evaluationUri, {});
  const version = await registerVersion(store, {
    modelName: 'wide',
    ...files,
    snapshotId: snapshot.snapshotId,
    metrics: {},
    registrationKey: 'bench',
  });
  await moveAlias(store, 'wide', 'production', version.version);
  return store;
}

const checkInput = {
  modelName: 'wide',
  alias: 'production',
  runId: 'bench',
  since: '2026-11-30T00:00:00Z',
  until: '2026-11-30T12:00:00Z',
  minRows: 10,
} as unknown as CheckModelDriftInput;

/** `--check <store>`: one check, in this process; prints its time, peak memory and result. */
async function checkOnce(root: string): Promise<void> {
  const started = Date.now();
  const result = await checkModelDrift(new LocalArtifactStore(root), checkInput);
  console.log(
    JSON.stringify({
      ms: Date.now() - started,
      peakMb: Math.round(peakKb() / 1024),
      rows: result.rows,
      drifted: result.driftedFeatures.length,
    }),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      categorical: { type: 'string', default: '150' },
      numeric: { type: 'string', default: '5' },
      rows: { type: 'string', default: '2000' },
      parts: { type: 'string', default: '1,8,200,720' },
      check: { type: 'string' },
    },
  });
  if (values.check) return checkOnce(values.check);
  const shape = { categorical: Number(values.categorical), numeric: Number(values.numeric) };
  const rows = Number(values.rows);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-window-bench-'));
  try {
    console.log(`${shape.categorical} categorical + ${shape.numeric} numeric features, ${rows} window rows`);
    for (const parts of values.parts.split(',').map(Number)) {
      const store = await modelStore(path.join(scratch, `parts-${parts}`), shape);
      const random = seededRandom(11);
      const instances = Array.from({ length: rows }, () => record(shape, random, true));
      const perPart = Math.ceil(rows / parts);
      for (let first = 0; first < rows; first += perPart) {
        const at = new Date(Date.parse('2026-11-30T10:00:00Z') + first * 10).toISOString();
        await writeLogRows(store, 'wide', predictionRows('wide', 1, at, instances.slice(first, first + perPart), 10));
      }
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', __filename, '--check', store.localPath(store.root)],
        { encoding: 'utf8' },
      );
      const result = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
      console.log(
        `${Math.ceil(rows / perPart)} part(s): check ${result.ms} ms, peak ${result.peakMb} MB, ${result.rows} rows, ${result.drifted} drifted`,
      );
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
