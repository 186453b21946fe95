/**
 * Compaction of the prediction log: the parts of each closed UTC hour, written by the real sink into a real store, are
 * merged by DuckDB into one file; every window a monitoring check, a live metric or a canary's bake reads then holds
 * the same rows as before, read from fewer files. Removal waits for retention; a late part is merged by the next run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import type { ArtifactStore } from '../../src/artifacts';
import { GcsArtifactStore, LocalArtifactStore } from '../../src/artifacts';
import { predictionLogCompactedSpan, predictionLogFolder } from '../../src/artifacts/layout';
import type { RunningEmulator } from '../../src/dev/emulators';
import { compactPredictionLog } from '../../src/monitoring/log-compaction';
import { logLayout, logParts } from '../../src/monitoring/log-columns';
import type { LogWindow } from '../../src/monitoring/prediction-window';
import { logPartsOf, windowRows, withLocalParts } from '../../src/monitoring/prediction-window';
import type { PredictionRow } from '../../src/serving/prediction-log';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { startTestFakeGcs } from '../support/fake-gcs';
import { predictionRows, writeLogRows } from '../support/monitored-model';
import { tempDir } from '../support/stack';

const at = (time: string) => `2026-11-30T${time}.000Z`;

/** One part holding a row of version 1 at each time. */
const part = (store: ArtifactStore, ...times: string[]) =>
  writeLogRows(
    store,
    'm',
    times.map((t, i): PredictionRow => ({
      request_id: `r-${t}`,
      ts: at(t),
      model: 'm',
      version: 1,
      instance: 0,
      features: JSON.stringify({ x: i, city: `c${i % 3}` }),
      output: JSON.stringify({ value: i * 1.5 }),
      latency_ms: 1,
    })),
  );

/** The request ids a window of version 1 reads, sorted. */
async function idsIn(store: ArtifactStore, since: string | undefined, until: string): Promise<string[]> {
  const w: LogWindow = { modelName: 'm', version: 1, since: since && at(since), until: at(until) };
  const parts = (await logPartsOf(store, w)) ?? [];
  return withLocalParts(store, parts, (files) =>
    files.length === 0
      ? Promise.resolve([])
      : withDuckDb(async (db) =>
          (await db.query(`SELECT request_id FROM ${windowRows(files, w)} ORDER BY request_id`)).map((r) =>
            String(r.request_id),
          ),
        ),
  );
}

/** Windows a check, a live metric and a bake read: across hours, inside one, across an hour's edge, from the start. */
const windows: [string | undefined, string][] = [
  ['09:00:00', '13:00:00'],
  ['10:00:02', '10:00:07'],
  ['10:59:59', '11:00:01'],
  ['11:00:00', '11:30:02'],
  ['12:00:00', '12:30:00'],
  [undefined, '23:00:00'],
];

const readAll = (store: ArtifactStore) => Promise.all(windows.map(([s, u]) => idsIn(store, s, u)));

const names = async (store: ArtifactStore) =>
  (await store.list(predictionLogFolder(store, 'm'))).map((uri) => path.posix.basename(uri));

/** A day of log: three hours of parts (one part crossing into the next hour), and a part named by its first time only. */
async function writeDay(store: ArtifactStore): Promise<void> {
  await part(store, '10:00:00', '10:00:04');
  await part(store, '10:00:05', '10:00:09');
  await part(store, '10:59:58', '11:00:03');
  await part(store, '11:00:05');
  await part(store, '11:30:00', '11:30:04');
  await part(store, '12:00:00');
  await part(store, '12:10:00');
}

/** A store that counts the artifacts read (a sidecar is read through `read`). */
class ReadCountingStore extends LocalArtifactStore {
  reads = 0;
  override read(uri: string): Promise<Buffer> {
    this.reads++;
    return super.read(uri);
  }
}

/** The layout and every row (as JSON, by request id) of these log files. */
const loggedRows = async (files: string[]) =>
  withDuckDb(async (db) => ({
    layout: await logLayout(db, files, 'the log'),
    rows: await db.query(
      `SELECT to_json(w)::VARCHAR AS j FROM (SELECT * EXCLUDE (date) FROM ${logParts(files)}) AS w ORDER BY request_id`,
    ),
  }));

describe('compaction of the prediction log', function () {
  let store: ReadCountingStore;
  let before: string[][];
  let firstOnly: string;
  const compact = (now: string, retentionMs?: number) =>
    compactPredictionLog(
      store,
      { modelName: 'm', before: at('12:50:00') },
      { now: Date.parse(at(now)), ...(retentionMs !== undefined && { retentionMs }) },
    );

  beforeEach(async function () {
    store = new ReadCountingStore(tempDir('log-compaction'));
    await writeDay(store);
    // A part named before the span was kept: never merged, always read.
    await part(store, '10:30:00');
    const folder = store.localPath(predictionLogFolder(store, 'm', '2026-11-30'));
    const spanned = fs.readdirSync(folder).find((n) => n.startsWith('part-20261130T103000000Z-'))!;
    firstOnly = spanned.replace(/-20261130T103000000Z-/, '-');
    fs.renameSync(path.join(folder, spanned), path.join(folder, firstOnly));
    before = await readAll(store);
  });

  it('merges each closed hour into one file sorted by time; every window reads the same rows from it', async function () {
    const result = await compact('13:00:00');
    // 10:xx (3 parts) and 11:xx (2 parts) ended at least 15 minutes before 12:50; 12:xx is still open.
    assert.deepEqual(result, { hoursCompacted: 2, partsMerged: 5, rowsWritten: 9, filesRemoved: 0 });
    assert.deepEqual(await readAll(store), before);
    const compacted = (await names(store)).filter((n) => n.startsWith('compacted-') && n.endsWith('.parquet'));
    assert.deepEqual(compacted, [
      'compacted-20261130T100000000Z-20261130T110003000Z-g20261130T130000000Z.parquet',
      'compacted-20261130T110005000Z-20261130T113004000Z-g20261130T130000000Z.parquet',
    ]);
    // The hour's window reads its compacted file (the part crossing 11:00 is in it) and the unspanned part only.
    const read = (await logPartsOf(store, {
      modelName: 'm',
      version: 1,
      since: at('10:00:00'),
      until: at('10:59:00'),
    }))!;
    assert.deepEqual(
      read.map((uri) => path.posix.basename(uri)),
      [compacted[0]!, firstOnly],
    );
    const file = store.localPath(store.uri(predictionLogFolder(store, 'm', '2026-11-30'), compacted[0]!));
    const times = await withDuckDb(async (db) =>
      (await db.query(`SELECT epoch_ms(ts) AS t FROM read_parquet(['${file}'])`)).map((r) => Number(r.t)),
    );
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'rows in time order',
    );
    assert.equal(times.length, 6);
    // Nothing is removed before retention: a reader that listed before the swap still finds its parts.
    assert.equal((await names(store)).filter((n) => n.startsWith('part-')).length, 8);
    assert.deepEqual(await compact('13:00:00'), { hoursCompacted: 0, partsMerged: 0, rowsWritten: 0, filesRemoved: 0 });
  });

  it('merges a part that lands after its hour was compacted into a new generation, and removes what was replaced an hour later', async function () {
    await compact('13:00:00');
    await part(store, '10:20:00');
    const late = 'r-10:20:00';
    // Read at once beside the compacted file, which does not hold it (its sidecar says which parts it does).
    assert.ok((await idsIn(store, '10:00:00', '11:00:00')).includes(late));
    const beside = await readAll(store);
    assert.deepEqual(await compact('13:10:00'), { hoursCompacted: 1, partsMerged: 1, rowsWritten: 7, filesRemoved: 0 });
    const withLate = await readAll(store);
    assert.deepEqual(withLate, beside, 'the same rows once merged');
    assert.deepEqual(
      withLate,
      before.map((ids, i) => {
        const [s, u] = windows[i]!;
        return (s === undefined || s < '10:20:00') && u > '10:20:00' ? [...ids, late].sort() : ids;
      }),
    );
    // An hour after the newer generation: the older one, its sidecar and every merged part go; the open hour's and
    // the unspanned part stay.
    const removed = await compact('14:10:00');
    assert.deepEqual(removed, { hoursCompacted: 0, partsMerged: 0, rowsWritten: 0, filesRemoved: 2 + 4 + 2 });
    assert.deepEqual(await readAll(store), withLate);
    const left = await names(store);
    const generations = left
      .filter((n) => n.startsWith('compacted-') && n.endsWith('.parquet'))
      .map((n) => new Date(predictionLogCompactedSpan(`/${n}`)!.generation).toISOString());
    assert.deepEqual(
      generations,
      [at('13:10:00'), at('13:00:00')],
      '10:xx in its second generation, 11:xx in its first',
    );
    assert.equal(left.filter((n) => n.endsWith('.sources.json')).length, 2);
    // Every hour settled: a later run reads nothing but the listing, and readers read no sidecar.
    store.reads = 0;
    assert.deepEqual(await compact('16:00:00'), { hoursCompacted: 0, partsMerged: 0, rowsWritten: 0, filesRemoved: 0 });
    assert.deepEqual(await readAll(store), withLate);
    assert.equal(store.reads, 0);
    assert.deepEqual(
      left.filter((n) => n.startsWith('part-')).map((n) => n.slice(0, 'part-20261130T120000000Z'.length)),
      ['part-20261130T103000000Z', 'part-20261130T120000000Z', 'part-20261130T121000000Z'],
    );
  });

  it('leaves an hour whose sidecar is gone as it is, and removes a sidecar whose compacted file never appeared', async function () {
    await compact('13:00:00');
    const folder = store.localPath(predictionLogFolder(store, 'm', '2026-11-30'));
    const sidecar = fs.readdirSync(folder).find((n) => n.startsWith('compacted-20261130T10') && n.endsWith('.json'))!;
    fs.rmSync(path.join(folder, sidecar));
    // A compaction stopped between its two writes left this sidecar alone, once an hour ago and once just now.
    const orphan = (generation: string) =>
      `compacted-20261130T110005000Z-20261130T113004000Z-g20261130T${generation}000Z.parquet.sources.json`;
    fs.writeFileSync(path.join(folder, orphan('130500')), '{"sources":[],"rows":0}');
    fs.writeFileSync(path.join(folder, orphan('140500')), '{"sources":[],"rows":0}');
    await part(store, '10:20:00');
    // 10:xx: no new generation (its sidecar cannot say which parts it holds), nothing of it removed; 11:xx: its parts.
    const result = await compact('14:10:00');
    assert.deepEqual(result, { hoursCompacted: 0, partsMerged: 0, rowsWritten: 0, filesRemoved: 2 + 1 });
    const left = await names(store);
    assert.ok(!left.includes(orphan('130500')));
    assert.ok(left.includes(orphan('140500')), 'a sidecar younger than retention may belong to a compaction under way');
    assert.equal(left.filter((n) => n.startsWith('part-20261130T10')).length, 5, "10:xx's parts are all kept");
    assert.deepEqual(
      await readAll(store),
      before,
      'the late part is not read while its hour cannot be compacted again',
    );
  });

  it('names an hour it cannot merge (a part that is not Parquet) and still compacts the others', async function () {
    const tenOClock = await idsIn(store, '10:00:00', '10:59:00');
    const folder = store.localPath(predictionLogFolder(store, 'm', '2026-11-30'));
    fs.writeFileSync(path.join(folder, 'part-20261130T111500000Z-20261130T111501000Z-w1-0bad.parquet'), 'not parquet');
    const result = await compact('13:00:00');
    assert.equal(result.hoursCompacted, 1);
    assert.equal(result.failedHours?.length, 1);
    assert.match(result.failedHours[0]!, /^2026-11-30T11:00Z: .*0bad\.parquet/);
    assert.deepEqual(await idsIn(store, '10:00:00', '10:59:00'), tenOClock);
    const read = await logPartsOf(store, { modelName: 'm', version: 1, since: at('10:00:00'), until: at('10:59:00') });
    assert.ok(read?.some((uri) => uri.includes('/compacted-20261130T10')));
    assert.equal((await names(store)).filter((n) => n.startsWith('compacted-20261130T11')).length, 0);
  });

  it("keeps every column of a model's versions: features and outputs that differ by version read the same from the merged file", async function () {
    const mixed = new LocalArtifactStore(tempDir('log-compaction-versions'));
    const row = (t: string, version: number, features: object, output: object): PredictionRow => ({
      request_id: `r-${t}`,
      ts: at(t),
      model: 'm',
      version,
      instance: 0,
      features: JSON.stringify(features),
      output: JSON.stringify(output),
      latency_ms: 2.5,
    });
    await writeLogRows(mixed, 'm', [
      row('08:00:00', 1, { x: 1.25, city: 'Zürich' }, { value: 3 }),
      row('08:00:01', 2, { x: 'high', y: -7 }, { value: 4.5 }),
    ]);
    await writeLogRows(mixed, 'm', [
      row('08:10:00', 3, { z: null, 'a b': 'é"' }, { label: 'yes', probabilities: { yes: 0.75, no: 0.25 } }),
      row('08:10:01', 1, { x: null, city: null }, { value: -1 }),
    ]);
    await writeLogRows(mixed, 'm', [row('08:20:00', 2, { x: 'low', y: 1e300 }, { value: 0 })]);
    const parts = (await mixed.list(predictionLogFolder(mixed, 'm'))).map((u) => mixed.localPath(u));
    const fromParts = await loggedRows(parts);
    const result = await compactPredictionLog(
      mixed,
      { modelName: 'm', before: at('12:00:00') },
      { now: Date.parse(at('12:00:00')) },
    );
    assert.equal(result.rowsWritten, 5);
    const merged = (await mixed.list(predictionLogFolder(mixed, 'm')))
      .filter((u) => u.endsWith('.parquet') && u.includes('/compacted-'))
      .map((u) => mixed.localPath(u));
    assert.equal(merged.length, 1);
    assert.deepEqual(await loggedRows(merged), fromParts);
  });

  it('merges the log of a model of 600 text features at the default memory limit, every value kept', async function () {
    // Each feature is a text field of the logged struct; the Parquet writer set aside 1 MiB of dictionary for each:
    // the hour failed with MLOPS_ERR_DATA_OUT_OF_MEMORY at 512MB, and so at every run after.
    const wide = new LocalArtifactStore(tempDir('log-compaction-wide'));
    const instances = Array.from({ length: 400 }, (_, i) =>
      Object.fromEntries(Array.from({ length: 600 }, (_, j) => [`c${j}`, `v ${(i * 7 + j) % 13} 🙂`])),
    );
    for (let first = 0; first < instances.length; first += 40)
      await writeLogRows(
        wide,
        'm',
        predictionRows('m', 1, at(`10:0${first / 40}:00`), instances.slice(first, first + 40), 10),
      );
    const parts = (await wide.list(predictionLogFolder(wide, 'm'))).filter((u) => u.endsWith('.parquet'));
    const fromParts = await loggedRows(parts.map((u) => wide.localPath(u)));
    const result = await compactPredictionLog(
      wide,
      { modelName: 'm', before: at('12:50:00') },
      { now: Date.parse(at('13:00:00')) },
    );
    assert.deepEqual(result, { hoursCompacted: 1, partsMerged: 10, rowsWritten: 400, filesRemoved: 0 });
    const merged = (await wide.list(predictionLogFolder(wide, 'm'))).filter(
      (u) => u.includes('/compacted-') && u.endsWith('.parquet'),
    );
    assert.deepEqual(await loggedRows(merged.map((u) => wide.localPath(u))), fromParts);
  });
});

describe('compaction of a prediction log in Cloud Storage (fake-gcs-server, @google-cloud/storage)', function () {
  let gcs: RunningEmulator;
  before(async function () {
    this.timeout(15 * 60_000);
    gcs = await startTestFakeGcs();
  });
  after(async () => {
    await gcs?.stop();
  });

  it('downloads the parts, uploads the merged file, reads the same rows, and deletes the parts after retention', async function () {
    await new Storage({ apiEndpoint: gcs.url, projectId: 'test' }).createBucket('logs');
    const store = new GcsArtifactStore('gs://logs/team', { apiEndpoint: gcs.url, projectId: 'test' });
    await writeDay(store);
    const before = await readAll(store);
    const options = (now: string) => ({ now: Date.parse(at(now)) });
    const input = { modelName: 'm', before: at('12:50:00') };
    assert.equal((await compactPredictionLog(store, input, options('13:00:00'))).partsMerged, 5);
    assert.deepEqual(await readAll(store), before);
    assert.equal((await compactPredictionLog(store, input, options('14:00:00'))).filesRemoved, 5);
    assert.deepEqual(await readAll(store), before);
    assert.deepEqual(
      (await names(store)).filter((n) => n.startsWith('part-')).map((n) => n.slice(0, 24)),
      ['part-20261130T120000000Z', 'part-20261130T121000000Z'],
    );
  });
});
