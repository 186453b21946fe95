/**
 * What a time window costs to read from a day of prediction log: a canary's bake (10 minutes) and an hourly monitoring
 * window, over one UTC day of parts written every 5 s (the server's default flush interval: 17,280 parts), each holding
 * requests of the stable version and a canary. The same parts are read twice in one run: named by the span of their
 * rows (`part-<first>-<last>-…`, what the server writes now), and by their first time only (as before the span was
 * kept), which a window cannot prune and so reads whole (as every window did before).
 *
 * The same parts are also read once compacted (one file per hour, as a monitoring run leaves them), and the
 * compaction itself is timed.
 *
 *   npx tsx bench/log-window.ts [--parts 17280] [--requests-per-part 4]
 *
 * Measures `comparePredictions` (the controller's activity) and the listing of the window's parts, on a local store.
 * On a remote store (Cloud Storage) every part read is also downloaded first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalArtifactStore } from '../src/artifacts';
import { predictionLogFolder } from '../src/artifacts/layout';
import { comparePredictions } from '../src/rollout/compare-predictions';
import { compactPredictionLog } from '../src/monitoring/log-compaction';
import { logPartsOf } from '../src/monitoring/prediction-window';
import type { PredictionRow } from '../src/serving/prediction-log';
import { writeLogRows } from '../test/support/monitored-model';

const day = '2026-11-30';
const start = Date.parse(`${day}T00:00:00.000Z`);

function rowsOfPart(k: number, requests: number): PredictionRow[] {
  // `requests` requests in the 5 s of part k: three in four answered by v1, the fourth by the canary v2.
  return Array.from({ length: requests }, (_, i) => ({
    request_id: `r-${k}-${i}`,
    ts: new Date(start + k * 5000 + Math.floor((i * 5000) / Math.max(requests, 5))).toISOString(),
    model: 'm',
    version: i % 4 === 3 ? 2 : 1,
    instance: 0,
    features: JSON.stringify({ x: (k * 4 + i) % 97 }),
    output: JSON.stringify({ value: ((k * 4 + i) % 89) + (i % 4 === 3 ? 5 : 0) }),
    latency_ms: 1,
  }));
}

/** The same parts under the names they had before the span was kept (the first time only). */
function renameToFirstOnly(from: LocalArtifactStore, to: LocalArtifactStore): void {
  const src = from.localPath(predictionLogFolder(from, 'm', day));
  const dst = to.localPath(predictionLogFolder(to, 'm', day));
  fs.mkdirSync(dst, { recursive: true });
  for (const name of fs.readdirSync(src))
    fs.copyFileSync(path.join(src, name), path.join(dst, name.replace(/^(part-\d{8}T\d{9}Z)-\d{8}T\d{9}Z-/, '$1-')));
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - t0) / 1e6];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { parts: { type: 'string', default: '17280' }, 'requests-per-part': { type: 'string', default: '4' } },
  });
  const parts = Number(values.parts);
  const requests = Number(values['requests-per-part']);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-log-window-'));
  // The test support's writer makes a scratch folder per part: kept under this run's folder, removed with it.
  fs.mkdirSync(path.join(root, 'tmp'));
  process.env.TMPDIR = path.join(root, 'tmp');
  try {
    const spanned = new LocalArtifactStore(path.join(root, 'spanned'));
    const firstOnly = new LocalArtifactStore(path.join(root, 'first-only'));
    const [, writeMs] = await timed(async () => {
      for (let k = 0; k < parts; k++) await writeLogRows(spanned, 'm', rowsOfPart(k, requests));
    });
    renameToFirstOnly(spanned, firstOnly);
    console.log(`${parts} parts of ${day} written in ${(writeMs / 1000).toFixed(1)} s; ${os.cpus().length} CPUs`);
    // The same parts, compacted as a monitoring run after the day does (the parts stay until retention: not read).
    const compacted = new LocalArtifactStore(path.join(root, 'compacted'));
    fs.cpSync(
      spanned.localPath(predictionLogFolder(spanned, 'm')),
      compacted.localPath(predictionLogFolder(compacted, 'm')),
      {
        recursive: true,
      },
    );
    const nextDay = `${new Date(start + 86_400_000 + 3_600_000).toISOString()}`;
    const [merged, compactMs] = await timed(() =>
      compactPredictionLog(compacted, { modelName: 'm', before: nextDay }, { now: Date.parse(nextDay) }),
    );
    console.log(
      `compacted: ${merged.hoursCompacted} hours, ${merged.partsMerged} parts, ${merged.rowsWritten} rows in ${(compactMs / 1000).toFixed(1)} s`,
    );
    const windows = [
      { name: 'canary bake, 10 min', since: `${day}T15:00:00.000Z`, until: `${day}T15:10:00.000Z` },
      { name: 'monitoring, 1 hour', since: `${day}T15:00:00.000Z`, until: `${day}T16:00:00.000Z` },
      { name: 'live metric, 24 hours', since: `${day}T00:00:00.000Z`, until: `${day}T23:59:59.999Z` },
    ];
    console.log('| window | part names | parts read | listing ms | comparePredictions ms | rows (v1 / v2) |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const w of windows)
      for (const [names, store] of [
        ['span (now)', spanned],
        ['first time only (before)', firstOnly],
        ['span, hours compacted', compacted],
      ] as const) {
        const window = { modelName: 'm', version: 1, since: w.since, until: w.until };
        const [read, listMs] = await timed(() => logPartsOf(store, window));
        const input = { modelName: 'm', since: w.since, until: w.until, stable: 1, canary: 2, minRows: 10 };
        const [result, compareMs] = await timed(() => comparePredictions(store, input));
        console.log(
          `| ${w.name} | ${names} | ${read?.length} | ${listMs.toFixed(0)} | ${compareMs.toFixed(0)} | ${result.stableRows} / ${result.canaryRows} |`,
        );
      }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
