import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Storage } from '@google-cloud/storage';
import { ApplicationFailure } from '@temporalio/common';
import { createIngestActivities } from '../../src/activities/ingest';
import { LocalArtifactStore, writeJson } from '../../src/artifacts';
import type { DatasetSnapshot, IngestDatasetInput, SnapshotManifest } from '../../src/contracts/datasets';
import type { RunningEmulator } from '../../src/dev/emulators';
import { freePort } from '../../src/dev/temporal-server';
import type { ErrorCode } from '../../src/errors';
import { describeSnapshot, listSnapshots, renderSnapshotLineage, renderSnapshotTable } from '../../src/ingest/catalog';
import { modelVersionFiles } from '../../src/artifacts/layout';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { startTestFakeGcs } from '../support/fake-gcs';
import { startTestBigQuery } from '../support/bigquery-emulator';
import { repoRoot, tempDir, testSources } from '../support/stack';

const badData = path.join(repoRoot, 'test', 'fixtures', 'bad-data');
const peopleCsv = 'id,age,income,city\n1,34,52000.5,Lyon\n2,41,61000,Paris\n3,29,48000.25,Nantes\n';

interface Harness {
  store: LocalArtifactStore;
  root: string;
  ingest: (input: IngestDatasetInput) => Promise<DatasetSnapshot>;
}

function harness(deps: Partial<Omit<Parameters<typeof createIngestActivities>[0], 'store'>> = {}): Harness {
  const root = tempDir('ingest-store');
  const store = new LocalArtifactStore(root);
  return { store, root, ingest: createIngestActivities({ store, sources: testSources(), ...deps }).ingestDataset };
}

/** Sources on this machine's loopback HTTP server: allowed only because the test lists the host. */
function loopbackHarness(): Harness {
  return harness({ sources: { ...testSources(), httpAllowedHosts: ['127.0.0.1'] } });
}

function writeTemp(name: string, content: string): string {
  const file = path.join(tempDir('ingest-src'), name);
  fs.writeFileSync(file, content);
  return file;
}

/** Every file under the store root with its size and modification time: equal listings mean nothing was written. */
function storeListing(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      const stat = fs.statSync(file);
      return `${path.relative(root, file)} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

function readManifest(snapshot: DatasetSnapshot): SnapshotManifest {
  return JSON.parse(fs.readFileSync(new URL(snapshot.manifestUri), 'utf8')) as SnapshotManifest;
}

async function parquetRows(snapshot: DatasetSnapshot): Promise<Record<string, unknown>[]> {
  const file = new URL(snapshot.dataUri).pathname;
  return withDuckDb((db) => db.query(`SELECT * FROM read_parquet(${literal(file)})`));
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Asserts a catalogued, non-retryable failure of the given type whose message matches every pattern. */
async function assertIngestFails(
  attempt: Promise<unknown>,
  type: ErrorCode,
  ...patterns: RegExp[]
): Promise<ApplicationFailure> {
  const err = await attempt.then(
    () => assert.fail(`expected ${type}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, true);
  for (const pattern of patterns) assert.match(err.message, pattern);
  return err;
}

/** Asserts a plain Error (which Temporal retries), not a catalogued failure. */
async function assertRetryable(attempt: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await attempt.then(
    () => assert.fail('expected a retryable Error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error && !(err instanceof ApplicationFailure), `expected a plain Error, got ${String(err)}`);
  assert.match(err.message, pattern);
}

/** A local HTTP server on port 0; `handler` decides each answer. */
async function httpServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('ingestDataset', function () {
  this.timeout(60_000);

  describe('snapshot identity', function () {
    it('gives identical data the same snapshot id and writes nothing the second time, whatever the path', async function () {
      const { root, ingest } = harness();
      const file = writeTemp('people.csv', peopleCsv);
      const first = await ingest({ sourceUri: file });
      const before = storeListing(root);
      assert.deepEqual(
        before.map((l) => l.split(' ')[0]),
        [`datasets/${first.snapshotId}/data.parquet`, `datasets/${first.snapshotId}/manifest.json`],
      );

      const again = await ingest({ sourceUri: pathToFileURL(writeTemp('copy.csv', peopleCsv)).href });
      assert.equal(first.reused, false);
      assert.equal(again.reused, true);
      assert.equal(again.snapshotId, first.snapshotId);
      assert.deepEqual(storeListing(root), before);
    });

    it('gives changed data a new snapshot id, keeping the old snapshot', async function () {
      const { store, ingest } = harness();
      const first = await ingest({ sourceUri: writeTemp('people.csv', peopleCsv) });
      const changed = await ingest({ sourceUri: writeTemp('people.csv', `${peopleCsv}4,52,70000,Lille\n`) });
      assert.notEqual(changed.snapshotId, first.snapshotId);
      assert.equal(changed.reused, false);
      assert.equal(changed.rowCount, 4);
      assert.deepEqual(
        (await listSnapshots(store)).map((s) => s.snapshotId).sort(),
        [first.snapshotId, changed.snapshotId].sort(),
      );
    });
  });

  describe('sources', function () {
    it('ingests a local CSV file into Parquet with a manifest of types, rows, hash, source and time', async function () {
      const { ingest } = harness();
      const file = writeTemp('people.csv', peopleCsv);
      const snapshot = await ingest({ sourceUri: file });
      const manifest = readManifest(snapshot);
      const hash = sha256(file);
      assert.equal(snapshot.snapshotId, `ds-${hash.slice(0, 16)}`);
      assert.deepEqual(
        { ...manifest, createdAt: undefined },
        {
          snapshotId: snapshot.snapshotId,
          contentHash: hash,
          source: { uri: file, format: 'csv', bytes: peopleCsv.length, hashOf: 'source-bytes', kind: 'file' },
          rowCount: 3,
          columns: [
            { name: 'id', type: 'BIGINT' },
            { name: 'age', type: 'BIGINT' },
            { name: 'income', type: 'DOUBLE' },
            { name: 'city', type: 'VARCHAR' },
          ],
          dataUri: snapshot.dataUri,
          createdAt: undefined,
          warnings: [],
        },
      );
      assert.ok(Math.abs(Date.parse(manifest.createdAt) - Date.now()) < 60_000);
      assert.deepEqual(await parquetRows(snapshot), [
        { id: 1, age: 34, income: 52000.5, city: 'Lyon' },
        { id: 2, age: 41, income: 61000, city: 'Paris' },
        { id: 3, age: 29, income: 48000.25, city: 'Nantes' },
      ]);
    });

    it('keeps a large CSV file in line order, with its integers exact, though two threads read it', async function () {
      // A million lines (15 MB): DuckDB splits the file between the two reader threads (without insertion order kept,
      // every row moves). Row numbers in errors, and every split, rely on the snapshot keeping the file's order.
      const lines = Array.from({ length: 1_000_000 }, (_, i) => `${i + 1},${(i * 7919) % 100_003},${i % 3 ? 'a' : ''}`);
      const { ingest } = harness();
      const snapshot = await ingest({ sourceUri: writeTemp('ordered.csv', `id,code,tag\n${lines.join('\n')}\n`) });
      assert.deepEqual(snapshot.columns, [
        { name: 'id', type: 'BIGINT' },
        { name: 'code', type: 'BIGINT' },
        { name: 'tag', type: 'VARCHAR' },
      ]);
      const file = new URL(snapshot.dataUri).pathname;
      const [check] = await withDuckDb((db) =>
        db.query(
          `SELECT count(*) AS n, count_if(id <> file_row_number + 1) AS misplaced,
                  count_if(code <> (file_row_number * 7919) % 100003) AS wrong, count(tag) AS tags
           FROM read_parquet(${literal(file)}, file_row_number = true)`,
        ),
      );
      assert.deepEqual(check, { n: 1_000_000, misplaced: 0, wrong: 0, tags: 666_666 });
    });

    it('ingests a Parquet file and a JSON Lines file with the same rows and types as the CSV', async function () {
      const { ingest } = harness();
      const csv = writeTemp('people.csv', peopleCsv);
      const dir = tempDir('formats');
      const [parquet, jsonl] = [path.join(dir, 'people.parquet'), path.join(dir, 'people.jsonl')];
      await withDuckDb(async (db) => {
        const source = `read_csv(${literal(csv)}, header = true)`;
        await db.run(`COPY (SELECT * FROM ${source}) TO ${literal(parquet)} (FORMAT parquet)`);
        await db.run(`COPY (SELECT * FROM ${source}) TO ${literal(jsonl)} (FORMAT json)`);
      });
      const fromCsv = await ingest({ sourceUri: csv });
      for (const [file, format] of [
        [parquet, 'parquet'],
        [jsonl, 'jsonl'],
      ] as const) {
        const snapshot = await ingest({ sourceUri: file });
        assert.equal(readManifest(snapshot).source.format, format);
        assert.equal(snapshot.snapshotId, `ds-${sha256(file).slice(0, 16)}`);
        assert.deepEqual(snapshot.columns, fromCsv.columns, format);
        assert.deepEqual(await parquetRows(snapshot), await parquetRows(fromCsv), format);
      }
    });

    describe('over HTTP', function () {
      let server: { url: string; close: () => Promise<void> };
      let requests: string[];
      let failNext = 0;

      before(async function () {
        requests = [];
        server = await httpServer((req, res) => {
          requests.push(req.url ?? '');
          if (failNext > 0) {
            failNext--;
            res.writeHead(500).end('busy');
          } else if (req.url === '/data/people.csv') res.writeHead(200, { etag: '"v1"' }).end(peopleCsv);
          else if (req.url === '/private.csv') res.writeHead(403).end('no');
          else if (req.url === '/loop.csv') res.writeHead(302, { location: '/loop.csv' }).end();
          else if (req.url === '/stalls-mid-body.csv') {
            // Its head and the first rows, then nothing: a server whose disk or upstream hangs.
            res.writeHead(200, { 'content-length': String(peopleCsv.length * 2) }).write(peopleCsv);
            stalled.push(res);
          } else if (req.url === '/never-answers.csv') stalled.push(res);
          else res.writeHead(404).end('not here');
        });
      });
      after(async () => {
        for (const res of stalled) res.destroy();
        await server.close();
      });
      const stalled: http.ServerResponse[] = [];

      it('downloads an http URL while hashing it and records the ETag', async function () {
        const { ingest } = loopbackHarness();
        const snapshot = await ingest({ sourceUri: `${server.url}/data/people.csv` });
        const manifest = readManifest(snapshot);
        assert.equal(manifest.contentHash, createHash('sha256').update(peopleCsv).digest('hex'));
        assert.deepEqual(manifest.source, {
          uri: `${server.url}/data/people.csv`,
          format: 'csv',
          bytes: peopleCsv.length,
          hashOf: 'source-bytes',
          kind: 'http',
          etag: '"v1"',
        });
        assert.equal(snapshot.rowCount, 3);
      });

      it('throws a plain retryable Error when the server answers 500, and succeeds on the next attempt', async function () {
        const { root, ingest } = loopbackHarness();
        failNext = 1;
        await assertRetryable(ingest({ sourceUri: `${server.url}/data/people.csv` }), /HTTP 500/);
        assert.deepEqual(storeListing(root), []);
        const snapshot = await ingest({ sourceUri: `${server.url}/data/people.csv` });
        assert.equal(snapshot.rowCount, 3);
        assert.equal(snapshot.reused, false);
      });

      it('fails non-retryably with MLOPS_ERR_DATA_SOURCE_NOT_FOUND when the URL answers 404', async function () {
        const { root, ingest } = loopbackHarness();
        await assertIngestFails(
          ingest({ sourceUri: `${server.url}/missing.csv` }),
          'MLOPS_ERR_DATA_SOURCE_NOT_FOUND',
          /missing\.csv" was not found: the server answered HTTP 404/,
        );
        assert.deepEqual(storeListing(root), []);
      });

      it('fails non-retryably with MLOPS_ERR_DATA_SOURCE_FORBIDDEN when the URL answers 403', async function () {
        await assertIngestFails(
          loopbackHarness().ingest({ sourceUri: `${server.url}/private.csv` }),
          'MLOPS_ERR_DATA_SOURCE_FORBIDDEN',
          /private\.csv" was refused: the server answered HTTP 403/,
        );
      });

      it('fails non-retryably with MLOPS_ERR_DATA_SOURCE_NOT_FOUND when the URL redirects in a loop', async function () {
        await assertIngestFails(
          loopbackHarness().ingest({ sourceUri: `${server.url}/loop.csv` }),
          'MLOPS_ERR_DATA_SOURCE_NOT_FOUND',
          /loop\.csv" was not found: it redirects more than 5 times \(last to http:\/\/127\.0\.0\.1:\d+\/loop\.csv; a redirect loop\?\)/,
        );
      });

      it('abandons a download that receives nothing for MLOPS_HTTP_STALL_SECONDS with a retryable Error, writing nothing', async function () {
        const { root, ingest } = harness({
          sources: { ...testSources(), httpAllowedHosts: ['127.0.0.1'], httpStallMs: 300 },
        });
        for (const file of ['stalls-mid-body.csv', 'never-answers.csv'])
          await assertRetryable(
            ingest({ sourceUri: `${server.url}/${file}` }),
            new RegExp(`GET ${server.url}/${file.replace('.', '\\.')} stalled: nothing arrived for 0\\.3 s`),
          );
        assert.deepEqual(storeListing(root), []);
      });

      it('throws a plain retryable Error when the connection is refused', async function () {
        const port = await freePort();
        await assertRetryable(
          loopbackHarness().ingest({ sourceUri: `http://127.0.0.1:${port}/people.csv` }),
          new RegExp(`GET http://127\\.0\\.0\\.1:${port}/people\\.csv failed: .*ECONNREFUSED`),
        );
      });
    });

    describe('from Cloud Storage', function () {
      let gcs: RunningEmulator;
      let storage: Storage;

      before(async function () {
        gcs = await startTestFakeGcs();
        storage = new Storage({ projectId: 'test', apiEndpoint: gcs.url });
        await storage.createBucket('ingest-sources');
        await storage.bucket('ingest-sources').file('raw/people.csv').save(peopleCsv, { resumable: false });
      });
      after(() => gcs?.stop());

      it('streams a gs:// object to disk, hashes it and records its generation', async function () {
        const { ingest } = harness({ storage: { projectId: 'test', apiEndpoint: gcs.url } });
        const snapshot = await ingest({ sourceUri: 'gs://ingest-sources/raw/people.csv' });
        const [metadata] = await storage.bucket('ingest-sources').file('raw/people.csv').getMetadata();
        const manifest = readManifest(snapshot);
        assert.equal(manifest.contentHash, createHash('sha256').update(peopleCsv).digest('hex'));
        assert.deepEqual(manifest.source, {
          uri: 'gs://ingest-sources/raw/people.csv',
          format: 'csv',
          bytes: peopleCsv.length,
          hashOf: 'source-bytes',
          kind: 'gcs',
          generation: String(metadata.generation),
        });
        assert.equal(snapshot.rowCount, 3);
      });

      it('fails non-retryably with MLOPS_ERR_DATA_SOURCE_NOT_FOUND for a gs:// object that does not exist', async function () {
        const { root, ingest } = harness({ storage: { projectId: 'test', apiEndpoint: gcs.url } });
        await assertIngestFails(
          ingest({ sourceUri: 'gs://ingest-sources/raw/nope.csv' }),
          'MLOPS_ERR_DATA_SOURCE_NOT_FOUND',
          /"gs:\/\/ingest-sources\/raw\/nope\.csv" was not found/,
          /Fix: .*for gs:\/\/ check the bucket and object names/,
        );
        assert.deepEqual(storeListing(root), []);
      });

      it('fails non-retryably with MLOPS_ERR_DATA_SOURCE_FORBIDDEN, saying which role to grant, when Cloud Storage answers 403', async function () {
        // fake-gcs-server has no permissions; this stand-in answers every request as Cloud Storage does without access.
        const denied = await httpServer((_req, res) => {
          res.writeHead(403, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              error: {
                code: 403,
                message: 'ingest@p.iam.gserviceaccount.com does not have storage.objects.get access to the object.',
                errors: [{ reason: 'forbidden', message: 'no storage.objects.get access' }],
              },
            }),
          );
        });
        try {
          const { root, ingest } = harness({ storage: { projectId: 'test', apiEndpoint: denied.url } });
          await assertIngestFails(
            ingest({ sourceUri: 'gs://locked/people.csv' }),
            'MLOPS_ERR_DATA_SOURCE_FORBIDDEN',
            /"gs:\/\/locked\/people\.csv" was refused: .*storage\.objects\.get access/,
            /Fix: .*roles\/storage\.objectViewer/,
          );
          assert.deepEqual(storeListing(root), []);
        } finally {
          await denied.close();
        }
      });
    });
  });

  describe('bad input', function () {
    const cases: { file: string; code: ErrorCode; patterns: RegExp[]; what: string }[] = [
      {
        what: 'an empty file',
        file: 'empty.csv',
        code: 'MLOPS_ERR_DATA_EMPTY',
        patterns: [/empty\.csv" has no data rows: the file is empty \(0 bytes\)/],
      },
      {
        what: 'a header-only file, naming its columns',
        file: 'header-only.csv',
        code: 'MLOPS_ERR_DATA_EMPTY',
        patterns: [/header-only\.csv" has no data rows: the file has only a header line \(id, age, income\)/],
      },
      {
        what: 'a CRLF file whose header has a line break inside quotes (read as no rows), naming the column',
        file: 'header-line-break-crlf.csv',
        code: 'MLOPS_ERR_DATA_HEADER_LINE_BREAK',
        patterns: [/names a column with a line break inside its quotes \("b\\nc"\): with CRLF line ends/],
      },
      {
        what: 'a row with an extra field, naming the line and the last column',
        file: 'extra-field.csv',
        code: 'MLOPS_ERR_DATA_ROW_MALFORMED',
        patterns: [
          /extra-field\.csv" cannot be parsed at line 3: the row has 4 fields but the header has 3 \(id, age, income\): an extra value after column "income"/,
        ],
      },
      {
        what: 'a row with a missing field, naming the line and the missing column',
        file: 'missing-field.csv',
        code: 'MLOPS_ERR_DATA_ROW_MALFORMED',
        patterns: [
          /missing-field\.csv" cannot be parsed at line 4: the row has 2 fields .*: column "income" is missing/,
        ],
      },
      {
        what: 'a mis-quoted row, naming the line and the column',
        file: 'misquoted.csv',
        code: 'MLOPS_ERR_DATA_ROW_MALFORMED',
        patterns: [
          /misquoted\.csv" cannot be parsed at line 3: the value of column "city" has a quote that is not closed/,
        ],
      },
      {
        what: 'a malformed JSON line, naming the line',
        file: 'malformed.jsonl',
        code: 'MLOPS_ERR_DATA_ROW_MALFORMED',
        patterns: [/malformed\.jsonl" cannot be parsed at line 2: malformed JSON/],
      },
      {
        // Latin-1 é and ö: DuckDB's own message advises ignore_errors=true, which would drop the row.
        what: 'a Latin-1 CSV file, naming the line and the byte and saying to re-save it as UTF-8',
        file: 'latin1.csv',
        code: 'MLOPS_ERR_DATA_NOT_UTF8',
        patterns: [
          /latin1\.csv" is not UTF-8 text: line 3 has the byte 0xE9 at character 4, which is not valid UTF-8/,
          /Fix: Re-save the file as UTF-8 .*iconv -f latin1 -t utf-8/,
          /^(?![\s\S]*(ignore_errors|Possible Solution))/,
        ],
      },
      {
        what: 'a Latin-1 JSON Lines file, naming the line and the byte',
        file: 'latin1.jsonl',
        code: 'MLOPS_ERR_DATA_NOT_UTF8',
        patterns: [/latin1\.jsonl" is not UTF-8 text: line 2 has the byte 0xE9 at character 13/],
      },
      {
        what: 'a mostly numeric column with a stray word, naming the column, row and value',
        file: 'mixed-types.csv',
        code: 'MLOPS_ERR_DATA_MIXED_TYPES',
        patterns: [/Column "age" of dataset source ".*mixed-types\.csv" mixes numbers and text: row 3 has "unknown"/],
      },
      {
        what: 'NaN in a numeric column, naming the column and row',
        file: 'nan.csv',
        code: 'MLOPS_ERR_DATA_VALUE_NOT_FINITE',
        patterns: [/Column "score" of dataset source ".*nan\.csv" has NaN at row 3 \(1 NaN or infinite values/],
      },
      {
        what: '±Infinity in a numeric column, naming the column and the first row',
        file: 'infinity.jsonl',
        code: 'MLOPS_ERR_DATA_VALUE_NOT_FINITE',
        patterns: [/Column "score" of dataset source ".*infinity\.jsonl" has -Infinity at row 2 \(2 NaN or infinite/],
      },
      {
        // No step could use it: its variance overflows double precision (DuckDB: "STDDEV_SAMP is out of range").
        what: 'a number beyond the float32 range that models take, naming the column, first row and value',
        file: 'beyond-float32.csv',
        code: 'MLOPS_ERR_DATA_VALUE_OUT_OF_RANGE',
        patterns: [
          /Column "income" of dataset source ".*beyond-float32\.csv" has 1e\+308 at row 3, outside the float32 range \(±3\.4028234663852886e\+38\) that models take \(2 such values/,
        ],
      },
    ];

    for (const { what, file, code, patterns } of cases) {
      it(`rejects ${what} with ${code} and leaves no snapshot behind`, async function () {
        const { root, ingest } = harness();
        await assertIngestFails(ingest({ sourceUri: path.join(badData, file) }), code, ...patterns);
        assert.deepEqual(storeListing(root), []);
      });
    }

    it('rejects a header naming a column with a NUL character (no SQL can name it) with MLOPS_ERR_DATA_HEADER_NUL, naming it', async function () {
      const { root, ingest } = harness();
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('nul-header.csv', 'id,pl\u0000an,y\n1,a,0\n2,b,1\n') }),
        'MLOPS_ERR_DATA_HEADER_NUL',
        /nul-header\.csv" names a column with a NUL character \("pl\\u0000an"\)/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('rejects a JSON Lines key with a NUL character the same way, naming it', async function () {
      const { root, ingest } = harness();
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('nul-key.jsonl', '{"a\\u0000b": 1, "y": "u"}\n{"a\\u0000b": 2, "y": "v"}\n') }),
        'MLOPS_ERR_DATA_HEADER_NUL',
        /nul-key\.jsonl" names a column with a NUL character \("a\\u0000b"\)/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('looks past the type-detection sample: a late decimal widens the column, a late word is a mixed-types error', async function () {
      const rows = Array.from({ length: 30_000 }, (_, i) => `${i + 1},${i % 90}`).join('\n');
      const { ingest } = harness();
      const widened = await ingest({ sourceUri: writeTemp('late-decimal.csv', `id,age\n${rows}\n30001,3.5\n`) });
      assert.deepEqual(widened.columns, [
        { name: 'id', type: 'BIGINT' },
        { name: 'age', type: 'DOUBLE' },
      ]);
      assert.equal(widened.rowCount, 30_001);
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('late-word.csv', `id,age\n${rows}\n30001,unknown\n`) }),
        'MLOPS_ERR_DATA_MIXED_TYPES',
        /Column "age" of dataset source ".*late-word\.csv" mixes numbers and text: row 30001 has "unknown" while 30000 of its 30001 values are numbers/,
      );
    });

    it('warns of numbers written with thousands separators, mostly or all, naming the column, row and value; a few codes in text stay text', async function () {
      const { ingest } = harness();
      const amounts = ['812', '"2,532"', '"1,204,117.50"', '"-3,000"', '45'];
      const rows = amounts.map((a, i) => `${i + 1},${a},${i % 2 ? 'hi' : 'lo'}`).join('\n');
      const grouped = await ingest({ sourceUri: writeTemp('grouped.csv', `id,amount,y\n${rows}\n`) });
      assert.deepEqual(grouped.warnings, [
        {
          kind: 'column-number-grouping',
          column: 'amount',
          detail: 'row 2 has "2,532"; 3 of its 5 values are written so',
          message:
            'Column "amount" holds numbers written with thousands separators (row 2 has "2,532"; 3 of its 5 values are written so): it is text in the snapshot, and cannot be a feature or the target until they are written without them (2532, not "2,532").',
        },
      ]);
      // All of them grouped: the same (before, a text feature whose model ignored it).
      const all = Array.from({ length: 40 }, (_, i) => `${i},"${1 + (i % 9)},${String(100 + i).padStart(3, '0')}",a`);
      const allGrouped = await ingest({ sourceUri: writeTemp('all-grouped.csv', `id,price,y\n${all.join('\n')}\n`) });
      assert.equal(allGrouped.warnings?.[0]?.detail, 'row 1 has "1,100"; 40 of its 40 values are written so');
      // Text that holds a grouped number now and then (an address, a code among words) is text.
      const words = ['north', 'south', '"1,500"', 'east', 'west'].map((w, i) => `${i},${w},a`).join('\n');
      const text = await ingest({ sourceUri: writeTemp('few-grouped.csv', `id,area,y\n${words}\n`) });
      assert.deepEqual(text.columns[1], { name: 'area', type: 'VARCHAR' });
      assert.deepEqual(text.warnings ?? [], []);
    });

    it('fails at once when the file seems separated by semicolons, tabs or bars: its header is one column holding them and its rows agree', async function () {
      // Without a comma anywhere, the reader takes each whole line for one value: one column "a;b;target".
      const files: [string, string, RegExp][] = [
        [
          'semicolons.csv',
          'a;b;target\n1;2;x\n3;4;y\n',
          /separated by semicolons, not commas: .* first 2 data rows split by them into 3 fields/,
        ],
        ['tabs.csv', 'a\tb\ttarget\n1\t2\tx\n3\t4\ty\n', /separated by tabs, not commas/],
        ['bars.csv', 'a|"b|c"|target\n1|"2|3"|x\n', /separated by vertical bars \(\|\), not commas: .* into 3 fields/],
        // A spreadsheet's export with decimal commas agrees on semicolons too.
        [
          'decimal-commas.csv',
          'Preis;Größe;Mitglied;Ziel\n12,5;3;ja;1\n8;2;nein;0\n',
          /separated by semicolons, not commas/,
        ],
      ];
      const { root, ingest } = harness();
      for (const [name, csv, pattern] of files) {
        await assertIngestFails(
          ingest({ sourceUri: writeTemp(name, csv) }),
          'MLOPS_ERR_DATA_CSV_SEPARATOR',
          pattern,
          /only comma-separated CSV \(RFC 4180\) is read\nFix: Save the file with commas between values/,
        );
      }
      assert.deepEqual(storeListing(root), []);
    });

    it('reads a one-column file whose quoted values hold semicolons as that one column', async function () {
      const { ingest } = harness();
      const snapshot = await ingest({
        sourceUri: writeTemp('one-column.csv', '"note;comment"\n"a;b"\n"c;d"\n"e;f"\n'),
      });
      assert.deepEqual(
        snapshot.columns.map((c) => c.name),
        ['note;comment'],
      );
      assert.equal(snapshot.rowCount, 3);
    });

    it('says a file seems separated by semicolons when its header reads as one column holding them but its rows do not agree', async function () {
      // The second row has a decimal comma, the third a field too few: the reader fails on the comma.
      const csv = 'Preis;Größe;Ziel\n12,5;3;1\n8;0\n';
      const { root, ingest } = harness();
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('semicolons.csv', csv) }),
        'MLOPS_ERR_DATA_ROW_MALFORMED',
        /semicolons\.csv" cannot be parsed at line 2: the row has 2 fields but the header has 1 .*; its header is one column holding semicolons: the file seems separated by semicolons, save it with commas/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('says a file is not the format it is read as, naming dataset.format or the extension, even when its bytes were ingested before', async function () {
      const { root, ingest } = harness();
      const csv = writeTemp('people.csv', peopleCsv);
      await ingest({ sourceUri: csv });
      const before = storeListing(root);
      // The same bytes as the snapshot above: the format is checked before a snapshot is reused.
      const asParquet = await assertIngestFails(
        ingest({ sourceUri: csv, format: 'parquet' }),
        'MLOPS_ERR_DATA_FORMAT_MISMATCH',
        /people\.csv" is not a parquet file, though dataset\.format is "parquet": it does not start with Parquet's magic bytes PAR1; it is text: a CSV file\?/,
        /Fix: Set dataset\.format .* or leave it out and give the file the matching extension/,
      );
      assert.doesNotMatch(asParquet.message, /magic bytes found at end|read_parquet|LINE 1|quot/);
      const parquet = path.join(tempDir('ingest-src'), 'people.parquet');
      await withDuckDb((db) =>
        db.run(`COPY (SELECT * FROM read_csv(${literal(csv)})) TO ${literal(parquet)} (FORMAT parquet)`),
      );
      const parquetNamedCsv = writeTemp('exported.csv', '');
      fs.copyFileSync(parquet, parquetNamedCsv);
      await assertIngestFails(
        ingest({ sourceUri: parquetNamedCsv }),
        'MLOPS_ERR_DATA_FORMAT_MISMATCH',
        /exported\.csv" is not a csv file, though its name ends in \.csv: it is a Parquet file/,
      );
      const jsonl = writeTemp('people.jsonl', '{"id":1,"age":34}\n{"id":2,"age":41}\n');
      await assertIngestFails(
        ingest({ sourceUri: jsonl, format: 'csv' }),
        'MLOPS_ERR_DATA_FORMAT_MISMATCH',
        /is not a csv file, though dataset\.format is "csv": its first line is a JSON object, not a header of column names: it looks like JSON Lines/,
      );
      await assertIngestFails(
        ingest({ sourceUri: csv, format: 'jsonl' }),
        'MLOPS_ERR_DATA_FORMAT_MISMATCH',
        /is not a jsonl file, though dataset\.format is "jsonl": its first line is not a JSON object; it is text: a CSV file\?/,
      );
      const cut = path.join(tempDir('ingest-src'), 'cut.parquet');
      fs.writeFileSync(cut, fs.readFileSync(parquet).subarray(0, 100));
      await assertIngestFails(
        ingest({ sourceUri: cut }),
        'MLOPS_ERR_DATA_UNREADABLE',
        /cut\.parquet" could not be parsed: it starts like a Parquet file but does not end like one \(PAR1\): it is cut short/,
      );
      assert.deepEqual(storeListing(root), before);
    });

    it('treats a JSON Lines key of mostly numbers with some text as a CSV column of numbers with stray words, a number in quotes included', async function () {
      // "11" is text in JSON: DuckDB reads the key as JSON, which would become a categorical feature of quoted values.
      const lines = [10, '11', 12, 13].map((mix, i) => JSON.stringify({ id: i, mix }));
      const { root, ingest } = harness();
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('mixed.jsonl', `${lines.join('\n')}\n`) }),
        'MLOPS_ERR_DATA_MIXED_TYPES',
        /Column "mix" of dataset source ".*mixed\.jsonl" mixes numbers and text: row 2 has "11" while 3 of its 4 values are numbers/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('counts every way of writing a number when it checks a text column for stray words', async function () {
      // Eight of the nine values read as numbers (signs, a leading point or space, an exponent, inf and NaN): the
      // column is mostly numeric, so the one word makes it a mixed-types error that counts them all.
      const values = ['12', '-3.5', '+4', '.5', ' 7', '1e3', 'inf', 'NaN', 'n/a'];
      const csv = `id,amount\n${values.map((v, i) => `${i + 1},"${v}"`).join('\n')}\n`;
      const { root, ingest } = harness();
      await assertIngestFails(
        ingest({ sourceUri: writeTemp('spelled-numbers.csv', csv) }),
        'MLOPS_ERR_DATA_MIXED_TYPES',
        /Column "amount" .* mixes numbers and text: row 9 has "n\/a" while 8 of its 9 values are numbers/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('accepts a column with no values but records a warning naming it in the manifest and the result', async function () {
      const { ingest } = harness();
      const snapshot = await ingest({ sourceUri: path.join(badData, 'all-null-column.csv') });
      const expected = [
        {
          kind: 'column-all-null',
          column: 'notes',
          message: 'Column "notes" has no values (every row is null); it cannot be used as a feature or target.',
        },
      ];
      assert.deepEqual(snapshot.warnings, expected);
      assert.deepEqual(readManifest(snapshot).warnings, expected);
    });

    it('records a warning for each CSV header name the reader changes, naming the old and the new name', async function () {
      const { ingest } = harness();
      const file = path.join(tempDir('renamed-header'), 'renamed.csv');
      const rows = Array.from(
        { length: 5 },
        (_, i) => `${i},${i + 1},${i + 2},${i + 3},${i + 4},${i + 5},${i % 2 ? 'x' : 'z'}`,
      );
      fs.writeFileSync(file, `" lead",a,a,Age,age,,y\n${rows.join('\n')}\n`);
      const snapshot = await ingest({ sourceUri: file });
      assert.deepEqual(
        snapshot.columns.map((c) => c.name),
        ['lead', 'a', 'a_1', 'Age', 'age_1', 'column5', 'y'],
      );
      const changed = [
        { from: ' lead', to: 'lead' },
        { from: 'a', to: 'a_1' },
        { from: 'age', to: 'age_1' },
        { from: '', to: 'column5' },
      ];
      assert.deepEqual(
        snapshot.warnings,
        changed.map(({ from, to }) => ({
          kind: 'column-renamed',
          column: to,
          from,
          message: `Column ${JSON.stringify(from)} of the file's header is named "${to}" in the snapshot (header names are made unique, non-empty and trimmed); use "${to}" in target, features and prediction requests.`,
        })),
      );
      assert.deepEqual(readManifest(snapshot).warnings, snapshot.warnings);
    });

    it('records a warning for each JSON key and Parquet column name the reader changes, as for a CSV header', async function () {
      const { ingest } = harness();
      const lines = [0, 1, 2, 3].map((i) =>
        JSON.stringify({ A: i, a: i + 1, '': i + 2, x_1: i % 2, y: i % 2 ? 'p' : 'q' }),
      );
      const jsonl = await ingest({ sourceUri: writeTemp('renamed.jsonl', `${lines.join('\n')}\n`) });
      assert.deepEqual(
        jsonl.columns.map((c) => c.name),
        ['A', 'a_1', 'C2', 'x_1', 'y'],
      );
      assert.deepEqual(
        jsonl.warnings,
        [
          { from: 'a', to: 'a_1' },
          { from: '', to: 'C2' },
        ].map(({ from, to }) => ({
          kind: 'column-renamed',
          column: to,
          from,
          message: `Key ${JSON.stringify(from)} of the file's lines is named "${to}" in the snapshot (names are made unique regardless of case, and non-empty); use "${to}" in target, features and prediction requests.`,
        })),
      );
      assert.deepEqual(readManifest(jsonl).warnings, jsonl.warnings);
      // Written by another tool, a Parquet file may hold two names that differ only in case: here the footer of one
      // DuckDB wrote is edited (bbbb_col becomes AAAA_col, as long), since DuckDB itself never writes such a file.
      const written = path.join(tempDir('ingest-src'), 'written.parquet');
      await withDuckDb((db) =>
        db.run(`COPY (SELECT 1 AS aaaa_col, 2 AS bbbb_col, 'p' AS y) TO ${literal(written)} (FORMAT parquet)`),
      );
      const edited = path.join(tempDir('ingest-src'), 'renamed.parquet');
      fs.writeFileSync(
        edited,
        fs.readFileSync(written).toString('latin1').replaceAll('bbbb_col', 'AAAA_col'),
        'latin1',
      );
      const parquet = await ingest({ sourceUri: edited });
      assert.deepEqual(
        parquet.columns.map((c) => c.name),
        ['aaaa_col', 'AAAA_col_1', 'y'],
      );
      assert.deepEqual(parquet.warnings, [
        {
          kind: 'column-renamed',
          column: 'AAAA_col_1',
          from: 'AAAA_col',
          message:
            'Column "AAAA_col" of the file\'s schema is named "AAAA_col_1" in the snapshot (names are made unique regardless of case); use "AAAA_col_1" in target, features and prediction requests.',
        },
      ]);
    });

    it('rejects a local file that does not exist with MLOPS_ERR_DATA_SOURCE_NOT_FOUND', async function () {
      await assertIngestFails(
        harness().ingest({ sourceUri: path.join(badData, 'absent.csv') }),
        'MLOPS_ERR_DATA_SOURCE_NOT_FOUND',
        /absent\.csv" was not found: no file at /,
      );
    });

    it('says so when the source names a folder, with or without a format', async function () {
      await assertIngestFails(
        harness().ingest({ sourceUri: `${badData}/` }),
        'MLOPS_ERR_DATA_SOURCE_INVALID',
        /bad-data\/" is not a valid source URI: it names a folder: name one \.csv, \.parquet or \.jsonl file in it/,
      );
      // A Cloud Storage prefix is a folder too (it said to set dataset.format, then that the object was not found).
      await assertIngestFails(
        harness().ingest({ sourceUri: 'gs://bucket/exports/' }),
        'MLOPS_ERR_DATA_SOURCE_INVALID',
        /"gs:\/\/bucket\/exports\/" is not a valid source URI: it names a folder: name one/,
      );
      // Named without the slash: known for a folder once the data roots allow reading it (with a format, or a name
      // like a file's); a bare name without an extension is refused first for its format.
      for (const sourceUri of [badData, `file://${badData}`])
        await assertIngestFails(
          harness().ingest({ sourceUri, format: 'csv' }),
          'MLOPS_ERR_DATA_SOURCE_INVALID',
          /bad-data" is not a valid source URI: it names a folder: name one/,
        );
    });

    it('rejects malformed source URIs with MLOPS_ERR_DATA_SOURCE_INVALID before reading anything', async function () {
      const { ingest } = harness();
      const invalid: [IngestDatasetInput, RegExp][] = [
        [{ sourceUri: 'bq://project.dataset' }, /a table is named bq:\/\/project\.dataset\.table/],
        [{ sourceUri: 'bq://p.d.t?query=SELECT%201' }, /a query URI names only the project/],
        [{ sourceUri: 'bq://p?query=SELECT%201', query: 'SELECT 2' }, /give the query once/],
        [{ sourceUri: 'gs://bucket-only' }, /expected gs:\/\/bucket\/object/],
        [{ sourceUri: 's3://bucket/people.csv' }, /the scheme "s3:\/\/" is not supported/],
      ];
      for (const [input, pattern] of invalid)
        await assertIngestFails(ingest(input), 'MLOPS_ERR_DATA_SOURCE_INVALID', pattern);
    });
  });

  describe('the dataset catalog', function () {
    it('lists snapshots and shows what derives from one: its profile, preprocessed outputs and model versions', async function () {
      const { store, ingest } = harness();
      const people = await ingest({ sourceUri: writeTemp('people.csv', peopleCsv) });
      const other = await ingest({ sourceUri: path.join(badData, 'all-null-column.csv') });
      // Derived artifacts in the layout the profile, preprocess and registry steps write.
      await writeJson(store, store.uri('profiles', people.snapshotId, 'profile.json'), { columns: [] });
      await store.write(store.uri('profiles', people.snapshotId, 'report.html'), '<html></html>');
      const result = {
        specHash: 'abc123',
        featureColumns: ['age', 'income'],
        rows: { train: 2, validation: 0, test: 1 },
      };
      await writeJson(store, store.uri('preprocessed', people.snapshotId, 'abc123', 'result.json'), result);
      await writeJson(store, modelVersionFiles(store, 'churn', 1).record, {
        modelName: 'churn',
        version: 1,
        snapshotId: people.snapshotId,
        createdAt: '2026-01-01T00:00:00.000Z',
      });
      await writeJson(store, modelVersionFiles(store, 'churn', 2).record, {
        modelName: 'churn',
        version: 2,
        snapshotId: other.snapshotId,
        createdAt: '2026-01-02T00:00:00.000Z',
      });

      const listed = await listSnapshots(store);
      assert.deepEqual(
        listed.map(({ createdAt: _, ...rest }) => rest),
        [
          { snapshotId: people.snapshotId, rowCount: 3, columnCount: 4, source: readManifest(people).source.uri },
          {
            snapshotId: other.snapshotId,
            rowCount: 3,
            columnCount: 3,
            source: path.join(badData, 'all-null-column.csv'),
          },
        ],
      );
      const table = renderSnapshotTable(listed).split('\n');
      assert.match(table[0]!, /^ID\s+ROWS\s+COLUMNS\s+SOURCE\s+CREATED$/);
      assert.match(table[1]!, new RegExp(`^${people.snapshotId}\\s+3\\s+4\\s+\\S+people\\.csv\\s+\\d{4}-`));

      const lineage = await describeSnapshot(store, people.snapshotId);
      assert.deepEqual(lineage.manifest, readManifest(people));
      assert.deepEqual(lineage.profile, {
        profileUri: store.uri('profiles', people.snapshotId, 'profile.json'),
        reportUri: store.uri('profiles', people.snapshotId, 'report.html'),
      });
      assert.deepEqual(lineage.preprocessed, [
        {
          specHash: 'abc123',
          resultUri: store.uri('preprocessed', people.snapshotId, 'abc123', 'result.json'),
          featureCount: 2,
          rows: result.rows,
        },
      ]);
      assert.deepEqual(lineage.modelVersions, [
        {
          modelName: 'churn',
          version: 1,
          versionUri: modelVersionFiles(store, 'churn', 1).record,
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      ]);
      const text = renderSnapshotLineage(lineage);
      assert.match(text, new RegExp(`^Snapshot ${people.snapshotId}\n`));
      assert.match(text, /\n {4}income: DOUBLE\n/);
      assert.match(text, /\n {2}profile: +file:\/\/\S+\/profile\.json\n/);
      assert.match(text, /\n {4}abc123 {2}2 features, rows 2\/0\/1 /);
      assert.match(text, /\n {4}churn v1 {2}file:\/\/\S+\/version\.json\n$/);

      const bare = await describeSnapshot(store, other.snapshotId);
      assert.deepEqual(
        [bare.profile, bare.preprocessed, bare.modelVersions.map((v) => v.version)],
        [undefined, [], [2]],
      );
      assert.match(renderSnapshotLineage(bare), /warnings:\n {4}Column "notes" has no values/);
    });

    it('reports an unknown snapshot id with MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND, naming the store', async function () {
      const { store } = harness();
      for (const id of ['ds-0000000000000000', '../secrets'])
        await assertIngestFails(
          describeSnapshot(store, id),
          'MLOPS_ERR_DATA_SNAPSHOT_NOT_FOUND',
          new RegExp(`Dataset snapshot "${id.replace(/\./g, '\\.')}" is not in the artifact store file://`),
          /npm run datasets -- list/,
        );
      assert.equal(renderSnapshotTable(await listSnapshots(store)), 'No dataset snapshots in this artifact store.\n');
    });
  });

  describe('from BigQuery (goccy/bigquery-emulator)', function () {
    let emulator: RunningEmulator | undefined;

    before(async function () {
      this.timeout(30 * 60_000);
      emulator = await startTestBigQuery(bigQuerySeed);
    });
    after(async function () {
      await emulator?.stop();
    });

    const bq = () => harness({ bigquery: { projectId: 'test', apiEndpoint: emulator!.url } });

    it('ingests a table with BigQuery types mapped to DuckDB types, rows sorted by every column', async function () {
      const { ingest } = bq();
      const snapshot = await ingest({ sourceUri: 'bq://test.sales.orders' });
      assert.deepEqual(snapshot.columns, [
        { name: 'id', type: 'BIGINT' },
        { name: 'amount', type: 'DOUBLE' },
        { name: 'region', type: 'VARCHAR' },
        { name: 'placed', type: 'TIMESTAMP WITH TIME ZONE' },
      ]);
      const manifest = readManifest(snapshot);
      assert.deepEqual(manifest.source, {
        uri: 'bq://test.sales.orders',
        format: 'bigquery',
        bytes: manifest.source.bytes,
        kind: 'bigquery',
        hashOf: 'sorted-rows',
        table: 'test.sales.orders',
      });
      assert.equal(snapshot.snapshotId, `ds-${manifest.contentHash.slice(0, 16)}`);
      const rows = await withDuckDb((db) =>
        db.query(
          `SELECT id, amount, region, strftime(placed AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%f') AS placed ` +
            `FROM read_parquet(${literal(new URL(snapshot.dataUri).pathname)})`,
        ),
      );
      assert.deepEqual(rows, [
        { id: 1, amount: 12.5, region: 'north', placed: '2024-01-02T03:04:05.123456' },
        { id: 2, amount: 30, region: 'south', placed: '2024-02-03T04:05:06.000000' },
        { id: 3, amount: 7.25, region: 'north', placed: '2024-03-04T05:06:07.000000' },
      ]);
    });

    it('gives a query returning the same rows in another order the same snapshot id, and writes nothing new', async function () {
      const { root, ingest } = bq();
      const table = await ingest({ sourceUri: 'bq://test.sales.orders' });
      const before = storeListing(root);
      const query = 'SELECT * FROM sales.orders ORDER BY id DESC';
      const viaQuery = await ingest({ sourceUri: `bq://test?query=${encodeURIComponent(query)}` });
      assert.deepEqual([viaQuery.snapshotId, viaQuery.reused], [table.snapshotId, true]);
      assert.deepEqual(storeListing(root), before);
    });

    it('gives a query with different rows a new snapshot id and records the query and its job', async function () {
      const { ingest } = bq();
      const table = await ingest({ sourceUri: 'bq://test.sales.orders' });
      const query = 'SELECT region, SUM(amount) AS total FROM sales.orders GROUP BY region';
      const summary = await ingest({ sourceUri: 'bq://test', query });
      assert.notEqual(summary.snapshotId, table.snapshotId);
      assert.deepEqual(
        [summary.rowCount, summary.columns],
        [
          2,
          [
            { name: 'region', type: 'VARCHAR' },
            { name: 'total', type: 'DOUBLE' },
          ],
        ],
      );
      const { source } = readManifest(summary);
      assert.equal(source.query, query);
      assert.match(source.jobId ?? '', /^test:(\w+\.)?mlops-ingest-/);
      assert.deepEqual(await parquetRows(summary), [
        { region: 'north', total: 19.75 },
        { region: 'south', total: 30 },
      ]);
    });

    it('fails non-retryably with MLOPS_ERR_BIGQUERY_NOT_FOUND for a table that does not exist', async function () {
      const { root, ingest } = bq();
      await assertIngestFails(
        ingest({ sourceUri: 'bq://test.sales.missing' }),
        'MLOPS_ERR_BIGQUERY_NOT_FOUND',
        /BigQuery source "bq:\/\/test\.sales\.missing" names something that does not exist/,
      );
      assert.deepEqual(storeListing(root), []);
    });

    it('fails non-retryably with MLOPS_ERR_BIGQUERY_PERMISSION_DENIED, naming the roles to grant, when BigQuery answers 403', async function () {
      // The emulator has no permissions; this stand-in answers every request as BigQuery does without access.
      const requests: string[] = [];
      const denied = await httpServer((req, res) => {
        requests.push(`${req.method} ${req.url?.split('?')[0]}`);
        const message =
          'Access Denied: Table test:sales.locked: User does not have permission to query table test:sales.locked.';
        res.writeHead(403, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: { code: 403, message, errors: [{ message, domain: 'global', reason: 'accessDenied' }] },
            status: 'PERMISSION_DENIED',
          }),
        );
      });
      try {
        const { root, ingest } = harness({ bigquery: { projectId: 'test', apiEndpoint: denied.url } });
        for (const input of [
          { sourceUri: 'bq://test.sales.locked' },
          { sourceUri: 'bq://test', query: 'SELECT * FROM sales.locked' },
        ]) {
          await assertIngestFails(
            ingest(input),
            'MLOPS_ERR_BIGQUERY_PERMISSION_DENIED',
            /BigQuery refused to read source "bq:\/\/test(\.sales\.locked)?": .*Access Denied: Table test:sales\.locked/,
            /Fix: .*roles\/bigquery\.dataViewer .*roles\/bigquery\.jobUser/,
          );
        }
        assert.deepEqual(storeListing(root), []);
        // The table read and the query job each reached the API once: a refusal is not retried.
        assert.deepEqual(requests, [
          'GET /bigquery/v2/projects/test/datasets/sales/tables/locked',
          'POST /bigquery/v2/projects/test/jobs',
        ]);
      } finally {
        await denied.close();
      }
    });

    it('leaves BigQuery rate limits and backend errors to Temporal to retry, a 403 rateLimitExceeded included', async function () {
      const answers = [
        { status: 403, reason: 'rateLimitExceeded', message: 'Exceeded rate limits: too many table reads per second.' },
        { status: 503, reason: 'backendError', message: 'Backend error. Job aborted.' },
      ];
      for (const answer of answers) {
        const busy = await httpServer((_req, res) => {
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              error: {
                code: answer.status,
                message: answer.message,
                errors: [{ reason: answer.reason, message: answer.message }],
              },
            }),
          );
        });
        try {
          // The client's own retries are off here, so the one answer reaches the activity.
          const { root, ingest } = harness({
            bigquery: { projectId: 'test', apiEndpoint: busy.url, autoRetry: false },
          });
          await assertRetryable(
            ingest({ sourceUri: 'bq://test.sales.orders' }),
            new RegExp(`BigQuery failed on bq://test\\.sales\\.orders \\(retryable\\): ${answer.message.slice(0, 20)}`),
          );
          assert.deepEqual(storeListing(root), []);
        } finally {
          await busy.close();
        }
      }
    });

    it('fails with MLOPS_ERR_DATA_EMPTY when the query returns no rows', async function () {
      const { root, ingest } = bq();
      await assertIngestFails(
        ingest({ sourceUri: 'bq://test', query: 'SELECT * FROM sales.orders WHERE id > 100' }),
        'MLOPS_ERR_DATA_EMPTY',
        /"bq:\/\/test" has no data rows: the query returned no rows/,
      );
      assert.deepEqual(storeListing(root), []);
    });
  });
});

// Dataset "sales", not "ml": v0.7–v0.8.1 crash on a table in a dataset named ai, ml, obj or mysql (issue #517).
const bigQuerySeed = `projects:
  - id: test
    datasets:
      - id: sales
        tables:
          - id: orders
            columns:
              - { name: id, type: INT64 }
              - { name: amount, type: FLOAT64 }
              - { name: region, type: STRING }
              - { name: placed, type: TIMESTAMP }
            data:
              - { id: 3, amount: 7.25, region: north, placed: "2024-03-04T05:06:07Z" }
              - { id: 1, amount: 12.5, region: north, placed: "2024-01-02T03:04:05.123456Z" }
              - { id: 2, amount: 30, region: south, placed: "2024-02-03T04:05:06Z" }
`;
