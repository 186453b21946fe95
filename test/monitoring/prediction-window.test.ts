/**
 * Which Parquet parts of a prediction log a window reads: the model server's sink names each part with the span of its
 * rows, and a window lists only its days and skips parts outside (since, until]. Parts are written by the real sink
 * into a real local store; listing goes through the store, counted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ArtifactStore } from '../../src/artifacts';
import { LocalArtifactStore } from '../../src/artifacts';
import { predictionLogFolder, predictionLogPartSpan } from '../../src/artifacts/layout';
import { logPartsOf, withLocalParts } from '../../src/monitoring/prediction-window';
import { ParquetPredictionSink } from '../../src/serving/prediction-log';
import { tempDir } from '../support/stack';
import { writeLogRows } from '../support/monitored-model';
import type { PredictionRow } from '../../src/serving/prediction-log';

/** A store that records the folders listed. */
class CountingStore extends LocalArtifactStore {
  listed: string[] = [];
  override async list(prefixUri: string): Promise<string[]> {
    this.listed.push(prefixUri);
    return super.list(prefixUri);
  }
}

const row = (ts: string, i: number): PredictionRow => ({
  request_id: `r-${ts}-${i}`,
  ts,
  model: 'm',
  version: 1,
  instance: 0,
  features: JSON.stringify({ x: i }),
  output: JSON.stringify({ value: i }),
  latency_ms: 1,
});

/** One part per call, holding a row at each of `times` (in the order given). */
const part = (store: LocalArtifactStore, ...times: string[]) =>
  writeLogRows(
    store,
    'm',
    times.map((t, i) => row(t, i)),
  );

/** The window (since, until] of version 1 of a model's log. */
const windowOf = (since: string | undefined, until: string, modelName = 'm') => ({
  modelName,
  version: 1,
  since,
  until,
});

const partsIn = async (store: LocalArtifactStore, since: string | undefined, until: string) =>
  ((await logPartsOf(store, windowOf(since, until))) ?? []).map((uri) => predictionLogPartSpan(uri)!);

const day = '2026-11-30';

describe('the parts of the prediction log a window reads', function () {
  let store: CountingStore;
  before(async function () {
    store = new CountingStore(tempDir('window-parts'));
    await part(store, '2026-11-29T23:50:00.000Z', '2026-11-29T23:59:59.999Z');
    // Out of order within a batch: the name spans the earliest and the latest row, not the first and the last.
    await part(store, '2026-11-30T10:05:00.000Z', '2026-11-30T10:00:00.000Z', '2026-11-30T10:09:00.000Z');
    await part(store, '2026-11-30T10:10:00.000Z', '2026-11-30T10:19:59.000Z');
    await part(store, '2026-11-30T10:20:00.000Z');
    await part(store, '2026-12-01T00:00:00.000Z', '2026-12-01T00:30:00.000Z');
  });

  it('names each part with the earliest and latest time of its rows', async function () {
    const spans = (await store.list(predictionLogFolder(store, 'm'))).map((uri) => predictionLogPartSpan(uri));
    assert.deepEqual(
      spans.map((s) => [new Date(s!.first).toISOString(), new Date(s!.last!).toISOString()]),
      [
        ['2026-11-29T23:50:00.000Z', '2026-11-29T23:59:59.999Z'],
        ['2026-11-30T10:00:00.000Z', '2026-11-30T10:09:00.000Z'],
        ['2026-11-30T10:10:00.000Z', '2026-11-30T10:19:59.000Z'],
        ['2026-11-30T10:20:00.000Z', '2026-11-30T10:20:00.000Z'],
        ['2026-12-01T00:00:00.000Z', '2026-12-01T00:30:00.000Z'],
      ],
    );
  });

  it('reads only the parts whose rows may fall in (since, until], listing only the days it touches', async function () {
    store.listed = [];
    const bake = await partsIn(store, '2026-11-30T10:09:00.000Z', '2026-11-30T10:20:00.000Z');
    // The part ending at since holds nothing after it; the one starting at until holds a row at until.
    assert.deepEqual(
      bake.map((s) => new Date(s.first).toISOString()),
      ['2026-11-30T10:10:00.000Z', '2026-11-30T10:20:00.000Z'],
    );
    assert.deepEqual(store.listed, [predictionLogFolder(store, 'm', '2026-11-30')]);
    // Across midnight: both days listed, the parts of each that overlap.
    store.listed = [];
    const night = await partsIn(store, '2026-11-29T23:59:00.000Z', '2026-12-01T00:00:00.000Z');
    assert.equal(night.length, 5);
    assert.equal(store.listed.length, 3, store.listed.join(' '));
    // No start (a first monitoring run): the whole log is listed once, every part read up to until.
    store.listed = [];
    const all = await partsIn(store, undefined, '2026-11-30T10:15:00.000Z');
    assert.equal(all.length, 3);
    assert.deepEqual(store.listed, [predictionLogFolder(store, 'm')]);
  });

  it('tells a window with no parts in its days (no rows) from a model with no log at all', async function () {
    const quiet = await logPartsOf(store, windowOf('2026-11-20T00:00:00.000Z', '2026-11-21T00:00:00.000Z'));
    assert.deepEqual(quiet, []);
    // A start after the end (a watermark stored in the future) reads nothing, and the log is still there.
    const backwards = await logPartsOf(store, windowOf('2999-01-01T00:00:00.000Z', '2026-11-30T12:00:00.000Z'));
    assert.deepEqual(backwards, []);
    const none = await logPartsOf(store, windowOf('2026-11-20T00:00:00.000Z', '2026-11-21T00:00:00.000Z', 'other'));
    assert.equal(none, undefined);
  });

  it('reads every part named before the latest time was kept, whatever its first time', async function () {
    const old = new CountingStore(tempDir('window-parts-old'));
    const file = path.join(tempDir('window-parts-file'), 'p.parquet');
    fs.writeFileSync(file, 'PAR1');
    // As the sink named parts before: the first time only.
    await new ParquetPredictionSink(old).write({
      model: 'm',
      date: '2026-11-30',
      rows: 1,
      firstTime: Date.parse('2026-11-30T12:00:00.000Z'),
      file,
      rowList: [],
    });
    const [uri] = await old.list(predictionLogFolder(old, 'm'));
    assert.deepEqual(predictionLogPartSpan(uri!), { first: Date.parse('2026-11-30T12:00:00.000Z') });
    const parts = await logPartsOf(old, windowOf('2026-11-30T08:00:00.000Z', '2026-11-30T09:00:00.000Z'));
    assert.deepEqual(parts, [uri]);
    // A file put there by hand with a name the span cannot be read from is read too; one that is not Parquet is not.
    const folder = old.localPath(predictionLogFolder(old, 'm', '2026-11-30'));
    fs.writeFileSync(path.join(folder, 'part-20261399T000000000Z-20261399T000000000Z-hand.parquet'), 'PAR1');
    fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a part');
    const withHand = await logPartsOf(old, windowOf('2026-11-30T08:00:00.000Z', '2026-11-30T09:00:00.000Z'));
    assert.equal(withHand?.length, 2);
    assert.ok(withHand?.some((u) => u.endsWith('-hand.parquet')));
  });

  it('copies the parts of a remote store a few at a time, each to its own local file', async function () {
    // What withLocalParts uses of a store without local paths (as Cloud Storage): downloads take a turn each and are
    // counted while they run.
    let running = 0;
    let most = 0;
    const remote = {
      localPath: (): string | undefined => undefined,
      download: async (uri: string, localPath: string): Promise<void> => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        fs.writeFileSync(localPath, uri);
        running--;
      },
    } as Pick<ArtifactStore, 'localPath' | 'download'> as ArtifactStore;
    const parts = Array.from({ length: 100 }, (_, i) => `gs://bucket/predictions/m/date=${day}/part-${i}.parquet`);
    const copied = await withLocalParts(remote, parts, (files) =>
      Promise.resolve(files.map((f) => fs.readFileSync(f, 'utf8'))),
    );
    assert.deepEqual(copied, parts);
    assert.ok(most > 1 && most <= 16, `at most 16 at once, got ${most}`);
  });
});
