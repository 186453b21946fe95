/**
 * A deployed churn model with a profiled training snapshot, in its own store, for monitoring tests: the real
 * activities ingest, profile, preprocess, train (builtin-linear), evaluate, register and deploy it; `deployAs` gives
 * the same model under other names (each name has its own prediction log and watermark). Traffic is drawn by the
 * project's churn generator and written as the model server writes its log (ParquetPredictionSink).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPipelineActivities } from '../../src/activities';
import type { MonitoringDeps } from '../../src/activities/monitoring';
import { createMonitoringActivities } from '../../src/activities/monitoring';
import type { ArtifactStore } from '../../src/artifacts';
import { LocalArtifactStore } from '../../src/artifacts';
import type { ChurnOptions } from '../../src/data/churn-generator';
import { generateChurnCsv } from '../../src/data/churn-generator';
import type { ClassPrediction } from '../../src/models/predictor';
import { resolveAlias } from '../../src/registry/model-registry';
import { predictionLogPart } from '../../src/artifacts/layout';
import { loadVersion } from '../../src/serving/load-version';
import { literal, withDuckDb } from '../../src/warehouse/duckdb';
import type { FeatureSchema } from '../../src/models/predictor';
import type { LogSpec, LoggedBatch, PredictionRow } from '../../src/serving/prediction-log';
import { ParquetPredictionSink, batchParquet } from '../../src/serving/prediction-log';
import { batchSpan, newTypedBatch } from '../../src/serving/typed-rows';
import { appendInstances } from './logged-instances';
import { testDeps } from './dependencies';
import { prepareChurn, trainedChurn } from './prepared-data';
import { exampleDataset, tempDir } from './stack';

export interface MonitoredChurn {
  store: LocalArtifactStore;
  snapshotId: string;
  /** Registers the trained model as `modelName` (training snapshot `snapshotId`) and deploys it as `production`. */
  deployAs(modelName: string, snapshotId?: string): Promise<number>;
  /** Registers the trained model once more as `modelName` (one version per `key`), without deploying it. */
  register(modelName: string, key: string): Promise<number>;
}

let shared: Promise<MonitoredChurn> | undefined;

export function monitoredChurn(): Promise<MonitoredChurn> {
  shared ??= build();
  return shared;
}

async function build(): Promise<MonitoredChurn> {
  const store = new LocalArtifactStore(tempDir('monitoring-store'));
  const prepared = await prepareChurn(store);
  const deps = testDeps({ store });
  const activities = createPipelineActivities(deps);
  const snapshot = await activities.ingestDataset({ sourceUri: exampleDataset });
  await activities.profileDataset({ snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target: 'churned' });
  const registerTrained = await trainedChurn(store, prepared, 'monitoring/run', 3);
  const register = (modelName: string, key = 'first', snapshotId = prepared.snapshotId): Promise<number> =>
    registerTrained(
      modelName,
      key === 'first' ? `monitoring-test-${modelName}` : `monitoring-test-${modelName}-${key}`,
      snapshotId,
    );
  const deployAs = async (modelName: string, snapshotId = prepared.snapshotId): Promise<number> => {
    const version = await register(modelName, 'first', snapshotId);
    await activities.deployModel({ modelName, version, alias: 'production' });
    return version;
  };
  return { store, snapshotId: prepared.snapshotId, deployAs, register };
}

/** Churn records drawn by the generator (the target left out), typed as a client sends them. */
export function churnInstances(options: ChurnOptions): Record<string, unknown>[] {
  const [header, ...lines] = [...generateChurnCsv(options)];
  const names = header!.split(',');
  return lines.map((line) => {
    const values = line.split(',');
    const record: Record<string, unknown> = {};
    names.forEach((name, i) => {
      if (name === 'churned') return;
      const v = values[i]!;
      record[name] =
        v === '' ? null : v === 'true' || v === 'false' ? v === 'true' : Number.isNaN(Number(v)) ? v : Number(v);
    });
    return record;
  });
}

/** The generator's target for the same options as {@link churnInstances}, row for row ("yes" / "no"). */
export function churnTargets(options: ChurnOptions): string[] {
  const [header, ...lines] = [...generateChurnCsv(options)];
  const at = header!.split(',').indexOf('churned');
  return lines.map((line) => line.split(',')[at]!);
}

/** The request id `writePredictionLog` gives the `i`-th instance written from `start`. */
export function loggedRequestId(start: string, i: number): string {
  return `req-${Date.parse(start)}-${i}`;
}

/**
 * Writes instances to the model's prediction log as served by `version`, one request each, the first at `start`
 * and `spacingMs` apart, as the model server's Parquet sink writes them (one part per UTC day). `outputs` are the
 * logged predictions (a fixed stand-in when absent, for checks that read only the features).
 */
export async function writePredictionLog(
  store: LocalArtifactStore,
  modelName: string,
  version: number,
  start: string,
  instances: Record<string, unknown>[],
  spacingMs = 1,
  outputs?: unknown[],
): Promise<string> {
  const t0 = Date.parse(start);
  await writeLogRows(store, modelName, predictionRows(modelName, version, start, instances, spacingMs, outputs));
  return new Date(t0 + (instances.length - 1) * spacingMs).toISOString();
}

/**
 * The rows of one UTC day as a batch for a sink that takes rows (the BigQuery sink), as the prediction log hands them
 * over.
 */
export function rowBatch(model: string, date: string, rows: PredictionRow[]): LoggedBatch {
  return { model, date, rows: rows.length, firstTime: Date.parse(rows[0]!.ts), file: '', rowList: rows };
}

/** The log rows {@link writePredictionLog} writes, for writing the same rows to another sink. */
export function predictionRows(
  modelName: string,
  version: number,
  start: string,
  instances: Record<string, unknown>[],
  spacingMs = 1,
  outputs?: unknown[],
): PredictionRow[] {
  const t0 = Date.parse(start);
  const standIn = JSON.stringify({ label: 'no', probability: 0.2 });
  return instances.map((features, i) => ({
    request_id: loggedRequestId(start, i),
    ts: new Date(t0 + i * spacingMs).toISOString(),
    model: modelName,
    version,
    instance: 0,
    features: JSON.stringify(features),
    output: outputs ? JSON.stringify(outputs[i]) : standIn,
    latency_ms: 1,
  }));
}

/**
 * Writes log rows (one instance per request) through the model server's Parquet writer and sink, one batch per UTC
 * day, as the server's log hands them over. Each version's schema is read off its rows: a feature whose values are
 * all numbers (or null) is numeric, any other a category (so values of another JSON type land as the model server
 * would log a category's); an output with a `value` makes a regressor, else a classifier over the labels (as text) and
 * probability keys seen (an output without probabilities is its label's one-hot row).
 */
export async function writeLogRows(store: ArtifactStore, model: string, rows: PredictionRow[]): Promise<void> {
  const sink = new ParquetPredictionSink(store);
  const days = new Map<string, PredictionRow[]>();
  for (const row of rows) days.set(row.ts.slice(0, 10), [...(days.get(row.ts.slice(0, 10)) ?? []), row]);
  const dir = tempDir('prediction-log');
  for (const [date, dayRows] of days) {
    const specs = new Map<number, LogSpec>();
    for (const version of new Set(dayRows.map((r) => r.version)))
      specs.set(version, specOf(dayRows.filter((r) => r.version === version)));
    const batch = newTypedBatch(model, date, dayRows.length);
    for (const row of dayRows) {
      const spec = specs.get(row.version)!;
      const request = {
        requestId: row.request_id,
        time: Date.parse(row.ts),
        version: row.version,
        latencyMs: row.latency_ms,
      };
      const output = outputRow(spec, JSON.parse(row.output) as LoggedOutput);
      appendInstances(batch, spec, request, [JSON.parse(row.features)], output, 1);
    }
    const file = path.join(dir, `${date}-${batch.times[0]}.parquet`);
    fs.writeFileSync(file, batchParquet(batch));
    await sink.write({ model, date, rows: batch.rows, ...batchSpan(batch), file, rowList: [] });
  }
}

/**
 * Writes log rows as a model server before 2026-12-02 wrote them (`features` and `output` as JSON text columns), one
 * part per UTC day, into the log's folder: the older layout the monitoring steps still read.
 */
export async function writeEarlierLayoutLog(store: LocalArtifactStore, model: string, rows: PredictionRow[]) {
  const days = new Map<string, PredictionRow[]>();
  for (const row of rows) days.set(row.ts.slice(0, 10), [...(days.get(row.ts.slice(0, 10)) ?? []), row]);
  for (const [date, dayRows] of days) {
    const staged = path.join(tempDir('earlier-log'), 'rows.json');
    fs.writeFileSync(staged, dayRows.map((r) => JSON.stringify(r)).join('\n'));
    const part = store.localPath(predictionLogPart(store, model, date, `earlier-${dayRows[0]!.request_id}`));
    fs.mkdirSync(path.dirname(part), { recursive: true });
    const columns =
      'request_id::VARCHAR AS request_id, ts::TIMESTAMPTZ AS ts, model::VARCHAR AS model, version::INTEGER AS version, ' +
      'instance::INTEGER AS instance, features::JSON AS features, output::JSON AS output, latency_ms::DOUBLE AS latency_ms';
    await withDuckDb((db) =>
      db.run(
        `COPY (SELECT ${columns} FROM read_json(${literal(staged)}, format = 'newline_delimited', columns = {request_id: 'VARCHAR', ts: 'VARCHAR', model: 'VARCHAR', version: 'INTEGER', instance: 'INTEGER', features: 'VARCHAR', output: 'VARCHAR', latency_ms: 'DOUBLE'})) TO ${literal(part)} (FORMAT parquet)`,
      ),
    );
  }
}

interface LoggedOutput {
  /** A label as logged: text, or another JSON scalar (read as its text). */
  label?: string | number | boolean;
  probabilities?: Record<string, number>;
  value?: number;
}

function specOf(rows: PredictionRow[]): LogSpec {
  const values = new Map<string, unknown[]>();
  const classes = new Set<string>();
  let regression = false;
  for (const row of rows) {
    for (const [name, v] of Object.entries(JSON.parse(row.features) as Record<string, unknown>))
      values.set(name, [...(values.get(name) ?? []), v]);
    const output = JSON.parse(row.output) as LoggedOutput;
    if (typeof output.value === 'number') regression = true;
    if (output.label !== undefined) classes.add(String(output.label));
    for (const c of Object.keys(output.probabilities ?? {})) classes.add(c);
  }
  const features = [...values].map(([name, vs]): FeatureSchema => {
    if (vs.every((v) => v === null || typeof v === 'number'))
      return { name, type: 'number', impute: 0, imputedWith: 'median' };
    const categories = [...new Set(vs.filter((v): v is string => typeof v === 'string'))];
    return { name, type: 'category', categories, impute: categories[0] ?? '', imputedWith: 'constant' };
  });
  return regression
    ? { task: 'regression', classes: [], outputWidth: 1, features }
    : { task: 'classification', classes: [...classes], outputWidth: classes.size, features };
}

/** The output as the model's output row; one without label or probabilities is a row of NaN (logged without label). */
function outputRow(spec: LogSpec, output: LoggedOutput): Float32Array {
  if (spec.task === 'regression') return Float32Array.of(output.value ?? NaN);
  const p = output.probabilities ?? {};
  if (spec.classes.some((c) => c in p)) return Float32Array.from(spec.classes, (c) => p[c] ?? NaN);
  const row = new Float32Array(spec.classes.length).fill(output.label === undefined ? NaN : 0);
  if (output.label !== undefined) row[spec.classes.indexOf(String(output.label))] = 1;
  return row;
}

/** What {@link logServedPredictions} logged: the model's P(true) per request, and the true targets ("yes" / "no"). */
export interface ServedPredictions {
  version: number;
  classes: string[];
  scores: number[];
  targets: string[];
}

/**
 * Deploys the churn model as `modelName`, predicts `rows` generated records with its real Predictor (as the model
 * server does) and logs the predictions from `start`; the generator's targets are the labels that arrive later.
 */
export async function logServedPredictions(
  churn: MonitoredChurn,
  modelName: string,
  start: string,
  options: ChurnOptions,
): Promise<ServedPredictions> {
  const version = await churn.deployAs(modelName);
  const instances = churnInstances(options);
  const loaded = await loadVersion(churn.store, await resolveAlias(churn.store, modelName, 'production'));
  try {
    const predictions = (await loaded.predictor.predict(instances)) as ClassPrediction[];
    await writePredictionLog(churn.store, modelName, version, start, instances, 1, predictions);
    return {
      version,
      classes: loaded.predictor.classes,
      scores: predictions.map((p) => p.probabilities.true!),
      targets: churnTargets(options),
    };
  } finally {
    await loaded.predictor.close();
  }
}

/** The real monitoring activities over `store` (one DuckDB thread, no data roots); `more` replaces dependencies. */
export function monitoringActivitiesOver(store: ArtifactStore, more: Partial<MonitoringDeps> = {}) {
  return createMonitoringActivities({
    store,
    duckDbThreads: 1,
    sources: { dataRoots: [], httpAllowedHosts: [] },
    storage: {},
    bigquery: {},
    ...more,
  });
}
