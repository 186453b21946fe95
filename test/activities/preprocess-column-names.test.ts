import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../src/activities';
import { LocalArtifactStore, writeJson } from '../../src/artifacts';
import { preprocessedFiles } from '../../src/artifacts/layout';
import type { PreprocessInput, PreprocessResult } from '../../src/contracts/datasets';
import type { ErrorCode } from '../../src/errors';
import { reservedColumns } from '../../src/preprocessing/column-names';
import { planPreprocessing } from '../../src/preprocessing/plan';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { testDeps } from '../support/dependencies';
import { ingestedCsv } from '../support/prepared-data';
import { tempDir } from '../support/stack';

describe('preprocessDataset: column names', function () {
  let store: LocalArtifactStore;

  before(function () {
    store = new LocalArtifactStore(tempDir('column-names-store'));
  });

  /** Ingests a CSV of `header` and 60 generated rows; the classification input of its column "y". */
  async function csvInput(header: string, row: (i: number) => string, extra: Partial<PreprocessInput> = {}) {
    const rows = Array.from({ length: 60 }, (_, i) => row(i));
    const { input } = await ingestedCsv(store, 'data.csv', header, rows);
    return { ...input, ...extra };
  }

  const preprocess = (input: PreprocessInput) => createPipelineActivities(testDeps({ store })).preprocessDataset(input);

  /** Preprocessing fails with the catalogued, non-retryable `code`; returns the message. */
  async function refused(input: PreprocessInput, code: ErrorCode): Promise<string> {
    const err = await preprocess(input).then(
      () => assert.fail(`preprocessing should fail with ${code}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, code, err.message);
    assert.equal(err.nonRetryable, true);
    return err.message;
  }

  /** The split file's column names, as DuckDB reads them back (a name it had to rename would show here). */
  async function splitColumns(result: PreprocessResult): Promise<string[]> {
    const rows = await withDuckDb((db) =>
      db.query(`DESCRIBE SELECT * FROM read_parquet(${literal(store.localPath(result.trainUri))})`),
    );
    return rows.map((r) => String(r.column_name));
  }

  it('names a one-hot column apart from an input column of its name, and the split file keeps both', async function () {
    const input = await csvInput('city,city=x,y', (i) => `${i % 2 ? 'x' : 'y'},${(i * 13) % 7},${i % 3 ? 1 : 0}`);
    const result = await preprocess(input);
    assert.deepEqual(result.featureColumns, ['city=x#2', 'city=y', 'city=__unknown__', 'city=x']);
    assert.deepEqual((await splitColumns(result)).slice(0, 4), result.featureColumns);
  });

  it('keeps every name as it is where none is shared: the other feature left out, or encoded as ordinal', async function () {
    const row = (i: number) => `${i % 2 ? 'x' : 'y'},${(i * 13) % 7},${i % 3 ? 1 : 0}`;
    const alone = await preprocess(await csvInput('city,city=x,y', row, { features: ['city=x'] }));
    assert.deepEqual(alone.featureColumns, ['city=x']);
    const ordinal = await preprocess(
      await csvInput('city,city=x,y', row, { preprocessing: { features: { city: { encoding: 'ordinal' } } } }),
    );
    assert.deepEqual(ordinal.featureColumns, ['city', 'city=x']);
  });

  it('names apart values that differ only in case, a value spelled like the unknown bucket, and nested one-hot names', async function () {
    const cities = ['Paris', 'paris', 'Lyon', 'PARIS'];
    const cased = await preprocess(await csvInput('city,y', (i) => `${cities[i % 4]},${i % 2}`));
    assert.deepEqual(cased.featureColumns, [
      'city=Lyon',
      'city=PARIS',
      'city=Paris#2',
      'city=paris#3',
      'city=__unknown__',
    ]);
    assert.deepEqual((await splitColumns(cased)).slice(0, 5), cased.featureColumns);
    const unknown = await preprocess(
      await csvInput('city,y', (i) => `${['__unknown__', 'Oslo'][i % 2]},${i % 3 ? 1 : 0}`),
    );
    assert.deepEqual(unknown.featureColumns, ['city=Oslo', 'city=__unknown__', 'city=__unknown__#2']);
    const nested = await preprocess(
      await csvInput('a,a=b,y', (i) => `${['b=c', 'd'][i % 2]},${['c', 'e'][i % 3 ? 1 : 0]},${i % 2}`),
    );
    assert.deepEqual(nested.featureColumns, ['a=b=c', 'a=d', 'a=__unknown__', 'a=b=c#2', 'a=b=e', 'a=b=__unknown__']);
  });

  it('names the one-hot column of a long text value by its first 40 characters and a hash, so names stay short and apart', async function () {
    // Six descriptions of 2,000 characters that share their first 1,990: one name each, at most 40 characters of text.
    const text = (k: number) => `${'a fine product with many words '.repeat(64).slice(0, 1990)}; variant ${k}`;
    const input = await csvInput('notes,y', (i) => `${text(i % 6)},${i % 2}`);
    const result = await preprocess(input);
    const names = result.featureColumns.filter((n) => n !== 'notes=__unknown__');
    assert.equal(names.length, 6);
    assert.equal(new Set(names).size, 6);
    for (const name of names) assert.match(name, /^notes=a fine product with many words a fine pr…#[0-9a-f]{8}$/);
    assert.deepEqual(await splitColumns(result), [...result.featureColumns, '__label', '__source_row']);
    // A value of 48 characters or fewer keeps its whole name.
    const short = await preprocess(await csvInput('notes,y', (i) => `${'x'.repeat(47)}${i % 2},${i % 2}`));
    assert.deepEqual(short.featureColumns, [
      `notes=${'x'.repeat(47)}0`,
      `notes=${'x'.repeat(47)}1`,
      'notes=__unknown__',
    ]);
  });

  it('names the one-hot column of a value holding a NUL character with ␀ and a hash, and writes its splits (SQL cannot name it)', async function () {
    const input = await csvInput('code,y', (i) => `${['a\u0000b', 'a\u0000', 'c'][i % 3]},${i % 2}`);
    const result = await preprocess(input);
    const [first, second, ...rest] = result.featureColumns;
    assert.match(first!, /^code=a␀#[0-9a-f]{8}$/);
    assert.match(second!, /^code=a␀b#[0-9a-f]{8}$/);
    assert.deepEqual(rest, ['code=c', 'code=__unknown__']);
    assert.deepEqual(await splitColumns(result), [...result.featureColumns, '__label', '__source_row']);
    // Each row is hot in its own value's column: the value itself is matched, NUL included.
    const hot = await withDuckDb((db) =>
      db.query<{ a: bigint; b: bigint; c: bigint }>(
        `SELECT sum("${first}") AS a, sum("${second}") AS b, sum("code=c") AS c FROM read_parquet(${literal(store.localPath(result.trainUri))})`,
      ),
    );
    assert.ok(Number(hot[0]!.a) > 0 && Number(hot[0]!.b) > 0 && Number(hot[0]!.c) > 0, JSON.stringify(hot));
  });

  it('refuses every reserved column name, in any case, feature or not: the row number at ingestion, the rest before splitting', async function () {
    for (const name of ['__row', 'file_row_number']) {
      for (const spelled of [name, name.toUpperCase()]) {
        await assert.rejects(
          csvInput(`x,"${spelled}",y`, (i) => `${i},${(i * 7) % 5},${i % 2}`),
          (err: unknown) =>
            err instanceof ApplicationFailure &&
            err.type === 'MLOPS_ERR_DATA_COLUMN_RESERVED' &&
            err.message.includes(`reserves for a column of its own: ${JSON.stringify(spelled)} (`),
        );
      }
    }
    for (const name of reservedColumns.filter((n) => n !== '__row' && n !== 'file_row_number')) {
      for (const spelled of [name, name.toUpperCase()]) {
        const input = await csvInput(`x,"${spelled}",y`, (i) => `${i},${(i * 7) % 5},${i % 2}`);
        for (const features of [undefined, ['x']]) {
          const message = await refused({ ...input, features }, 'MLOPS_ERR_DATA_COLUMN_RESERVED');
          assert.ok(message.includes(`reserves for a column of its own: ${JSON.stringify(spelled)} (`), message);
          assert.ok(message.includes(reservedColumns.join(', ')), 'the message lists the reserved names');
          assert.match(message, /Fix: Rename the column in the source data/);
        }
      }
    }
    assert.ok(['__row', '__label', '__source_row', 'file_row_number'].every((n) => reservedColumns.includes(n)));
  });

  it('does not reuse an output that an earlier version stored with two columns of one name: it fits again', async function () {
    const input = await csvInput('city,city=x,y', (i) => `${i % 2 ? 'x' : 'y'},${(i * 13) % 7},${i % 3 ? 1 : 0}`);
    const files = preprocessedFiles(store, input.snapshotId, planPreprocessing(input).specHash);
    // What the version before the check stored for this input (it trained a model on it).
    const stored: PreprocessResult = {
      specHash: planPreprocessing(input).specHash,
      task: 'classification',
      trainUri: files.splits.train,
      validationUri: files.splits.validation,
      testUri: files.splits.test,
      transformUri: files.transform,
      featureColumns: ['city=x', 'city=y', 'city=__unknown__', 'city=x'],
      labelColumn: '__label',
      classes: ['0', '1'],
      rows: { train: 36, validation: 12, test: 12 },
      droppedRows: { missingTarget: 0, duplicates: 0 },
      reused: false,
    };
    await writeJson(store, files.result, stored);
    const again = await preprocess(input);
    assert.equal(again.reused, false);
    assert.deepEqual(again.featureColumns, ['city=x#2', 'city=y', 'city=__unknown__', 'city=x']);
  });
});
