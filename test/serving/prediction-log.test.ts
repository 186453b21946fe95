import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LocalArtifactStore } from '../../src/artifacts';
import { predictionLogFolder, predictionLogPartSpan } from '../../src/artifacts/layout';
import { categoryCode } from '../../src/models/recorded-values';
import { buildServer } from '../../src/serving/app';
import { ParquetPredictionSink } from '../../src/serving/prediction-log';
import type { PredictionLogOptions, PredictionRow } from '../../src/serving/prediction-log';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import { loyalCustomer, riskyCustomer, servedChurn } from '../support/served-model';
import { tempDir } from '../support/stack';

const predict = { method: 'POST' as const, url: '/v1/models/churn:predict' };

/** A row read back: as the sinks' rows, with DuckDB's timestamp. */
type LoggedRow = Omit<PredictionRow, 'ts'> & { ts: unknown };

/** Output probabilities are logged as float32 (the model's output): read back at that precision. */
function float32Probabilities(output: string): string {
  const o = JSON.parse(output) as { probabilities?: Record<string, number> };
  if (o.probabilities)
    o.probabilities = Object.fromEntries(Object.entries(o.probabilities).map(([c, p]) => [c, Math.fround(p)]));
  return JSON.stringify(o);
}

/** The log's rows, each row's `features` and `output` groups as JSON text. */
async function readLog(store: LocalArtifactStore): Promise<{ files: string[]; rows: LoggedRow[] }> {
  const files = (await store.list(predictionLogFolder(store, 'churn'))).filter((f) => f.endsWith('.parquet'));
  if (files.length === 0) return { files, rows: [] };
  const paths = files.map((f) => literal(store.localPath(f))).join(', ');
  const rows = await withDuckDb((db) =>
    db.query<LoggedRow & Record<string, unknown>>(
      `SELECT request_id, ts, model, version, instance, to_json(features)::VARCHAR AS features, to_json(output)::VARCHAR AS output, latency_ms FROM read_parquet([${paths}], union_by_name = true) ORDER BY request_id, instance`,
    ),
  );
  return { files, rows: rows.map((r) => ({ ...r, output: float32Probabilities(r.output) })) };
}

/** The churn model's server, logging with `log` (written only at flushRows or at close, unless said otherwise). */
function serverLogging(store: LocalArtifactStore, log: Partial<PredictionLogOptions> & { flushRows: number }) {
  return buildServer({ store, modelName: 'churn', alias: 'production', predictionLog: { flushMs: 60_000, ...log } });
}

describe('the prediction log', function () {
  // The served model's store is shared by the serving tests, and others log traffic of "churn" into it (the
  // playground's CSV upload): each test here reads the log of its own run only.
  beforeEach(async function () {
    const { store } = await servedChurn();
    fs.rmSync(store.localPath(predictionLogFolder(store, 'churn')), { recursive: true, force: true });
  });

  it('holds every prediction of a run after a clean shutdown, as Parquet partitions by model and date', async function () {
    this.timeout(60_000);
    const { store } = await servedChurn();
    const app = await serverLogging(store, { flushRows: 7 });
    const sent = new Map<string, unknown[]>();
    const answers = new Map<string, unknown[]>();
    try {
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const instances = i % 2 ? [riskyCustomer] : [loyalCustomer, { ...riskyCustomer, total_charges: null }];
          const response = await app.inject({
            ...predict,
            headers: { 'x-request-id': `log-${i}` },
            payload: { instances },
          });
          assert.equal(response.statusCode, 200);
          sent.set(`log-${i}`, instances);
          answers.set(`log-${i}`, response.json<{ predictions: unknown[] }>().predictions);
        }),
      );
      await app.inject({ ...predict, payload: { instances: [{}] } }); // a refused request is not a prediction
      // Nor is a v2 request refused for an output the model does not have, though its inputs are valid.
      const inputs = Object.entries(riskyCustomer).map(([name, value]) => ({
        name,
        datatype: typeof value === 'string' ? 'BYTES' : typeof value === 'boolean' ? 'BOOL' : 'FP64',
        shape: [1],
        data: [value],
      }));
      const v2 = await app.inject({
        method: 'POST',
        url: '/v2/models/churn/infer',
        payload: { inputs, outputs: [{ name: 'nope' }] },
      });
      assert.equal(v2.statusCode, 400, v2.body);
    } finally {
      await app.close();
    }
    const { files, rows } = await readLog(store);
    const today = new Date().toISOString().slice(0, 10);
    assert.ok(files.length >= 2, `written on size more than once: ${files.length} files`);
    for (const f of files) assert.match(f, new RegExp(`/predictions/churn/date=${today}/part-[^/]+\\.parquet$`));
    // Each part is named by the span of its rows' times, which a reader of a time window goes by.
    for (const f of files) {
      const [span] = await withDuckDb((db) =>
        db.query<{ first: bigint; last: bigint }>(
          `SELECT epoch_ms(min(ts)) AS first, epoch_ms(max(ts)) AS last FROM read_parquet(${literal(store.localPath(f))})`,
        ),
      );
      assert.deepEqual(predictionLogPartSpan(f), { first: Number(span!.first), last: Number(span!.last) }, f);
    }
    assert.equal(rows.length, 60);
    for (const [id, instances] of sent) {
      const logged = rows.filter((r) => r.request_id === id);
      assert.equal(logged.length, instances.length, id);
      logged.forEach((row, k) => {
        assert.deepEqual([row.model, row.version, row.instance], ['churn', 1, k]);
        assert.deepEqual(JSON.parse(row.features), instances[k]);
        assert.deepEqual(JSON.parse(row.output), answers.get(id)![k]);
        assert.ok(row.latency_ms > 0);
      });
    }
    fs.rmSync(store.localPath(predictionLogFolder(store, 'churn')), { recursive: true });
  });

  it('logs the values a request sent, whatever their JSON type, and the output it answered', async function () {
    const { store } = await servedChurn();
    const app = await serverLogging(store, { flushRows: 1000 });
    // Values a schema-valid client may send beyond the training categories: unknown categories with quotes, escapes
    // and non-ASCII text, a category sent as a number or a boolean, a boolean as its text, nulls, extreme and fractional
    // numbers.
    const instances = [
      { ...riskyCustomer, contract: 'Zwei-Jahre "Ä\\ \u0001 ✓', region: 7, senior: null, tenure_months: 1e-300 },
      { ...loyalCustomer, payment_method: '', internet_service: true, support_calls: null, total_charges: 3.4e38 },
      { ...loyalCustomer, region: 0.5, contract: 'two-year', monthly_charges: -123456789.125, senior: 'false' },
    ];
    let answered: unknown[];
    try {
      const response = await app.inject({
        ...predict,
        headers: { 'x-request-id': 'odd-values' },
        payload: { instances },
      });
      assert.equal(response.statusCode, 200, response.body);
      answered = response.json<{ predictions: unknown[] }>().predictions;
    } finally {
      await app.close();
    }
    const { rows } = await readLog(store);
    assert.equal(rows.length, instances.length);
    // A boolean feature's text is the boolean itself (as "yes" or "Y" would be), and "" a null the model imputes:
    // logged as the values monitoring compares with training's.
    const logged = [instances[0], { ...instances[1], payment_method: null }, { ...instances[2], senior: false }];
    rows.forEach((row, k) => {
      assert.deepEqual(JSON.parse(row.features), logged[k]);
      assert.deepEqual(JSON.parse(row.output), answered[k]);
    });
    fs.rmSync(store.localPath(predictionLogFolder(store, 'churn')), { recursive: true });
  });

  it("keeps an unseen category's first 200 characters: a megabyte of text sent as a category is not logged whole", async function () {
    const { store } = await servedChurn();
    const app = await serverLogging(store, { flushRows: 1000 });
    const long = 'x'.repeat(1_000_000);
    // An emoji (two UTF-16 units) across the 200th character is kept whole or not at all, never halved.
    const emoji = `${'y'.repeat(199)}😀tail`;
    const exact = 'z'.repeat(200);
    try {
      const response = await app.inject({
        ...predict,
        headers: { 'x-request-id': 'long-category' },
        payload: { instances: [{ ...riskyCustomer, contract: long, region: emoji, payment_method: exact }] },
      });
      assert.equal(response.statusCode, 200, response.body);
    } finally {
      await app.close();
    }
    const { rows } = await readLog(store);
    assert.equal(rows.length, 1);
    const logged = JSON.parse(rows[0]!.features) as Record<string, unknown>;
    assert.deepEqual(
      { contract: logged.contract, region: logged.region, payment_method: logged.payment_method },
      { contract: `${'x'.repeat(200)}…`, region: `${'y'.repeat(199)}…`, payment_method: exact },
    );
    fs.rmSync(store.localPath(predictionLogFolder(store, 'churn')), { recursive: true });
  });

  it('logs a lone surrogate that reaches the log as U+FFFD: its JSON escape would fail every monitoring read', function () {
    // The server refuses such a value (bad-requests.test.ts); the log does not rely on it.
    const side: string[] = [];
    categoryCode('x\ud83d', -1, side);
    categoryCode('\ude00y😀', -1, side);
    assert.deepEqual(side, [JSON.stringify('x\ufffd'), JSON.stringify('\ufffdy😀')]);
  });

  it('keeps serving when the log cannot be written, and counts the dropped rows', async function () {
    const { store } = await servedChurn();
    // A sink whose store root is a file: every write fails inside the real file system.
    const notAFolder = path.join(tempDir('blocked'), 'file');
    fs.writeFileSync(notAFolder, 'x');
    const app = await buildServer({
      store,
      modelName: 'churn',
      alias: 'production',
      predictionLog: {
        flushRows: 2,
        flushMs: 60_000,
        sinks: [{ name: 'parquet', sink: new ParquetPredictionSink(new LocalArtifactStore(notAFolder)) }],
      },
    });
    try {
      for (let i = 0; i < 10; i++) {
        const response = await app.inject({ ...predict, payload: { instances: [riskyCustomer] } });
        assert.equal(response.statusCode, 200, response.body);
      }
      await app.serving.log!.flush();
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /mlops_serve_prediction_log_dropped_rows_total\{reason="sink",sink="parquet"\} 10/);
    } finally {
      await app.close();
    }
  });

  it("writes its parts in this process's scratch folder, moves them into the store, and removes the folder on close", async function () {
    const { store } = await servedChurn();
    const scratchRoot = tempDir('scratch');
    const app = await serverLogging(store, { flushRows: 1000, scratchRoot });
    try {
      const response = await app.inject({ ...predict, payload: { instances: [riskyCustomer, loyalCustomer] } });
      assert.equal(response.statusCode, 200, response.body);
      await app.serving.log!.flush();
      // Named `<host>@<pid>-…` (src/scratch.ts), so a later start on the host sweeps it if this process is killed.
      assert.deepEqual(
        fs.readdirSync(scratchRoot).map((d) => d.split('@')[1]),
        [`${process.pid}-prediction-log`],
      );
      assert.deepEqual(fs.readdirSync(path.join(scratchRoot, fs.readdirSync(scratchRoot)[0]!)), [], 'the part moved');
    } finally {
      await app.close();
    }
    assert.deepEqual(fs.readdirSync(scratchRoot), []);
    assert.equal((await readLog(store)).rows.length, 2);
  });

  it('drops and counts rows beyond its capacity instead of making requests wait', async function () {
    const { store } = await servedChurn();
    const app = await serverLogging(store, { capacity: 5, flushRows: 1000 });
    try {
      for (let i = 0; i < 8; i++) {
        const response = await app.inject({ ...predict, payload: { instances: [riskyCustomer] } });
        assert.equal(response.statusCode, 200);
      }
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /mlops_serve_prediction_log_dropped_rows_total\{reason="overflow",sink="all"\} 3/);
      assert.match(metrics, /mlops_serve_prediction_log_queue_rows 5/);
      await app.serving.log!.flush();
      const after = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(after, /mlops_serve_prediction_log_queue_rows 0\n/, 'read from the log when scraped');
    } finally {
      await app.close();
    }
    const { rows } = await readLog(store);
    assert.equal(rows.length, 5, 'what fitted was written on shutdown');
    fs.rmSync(store.localPath(predictionLogFolder(store, 'churn')), { recursive: true });
  });
});
