/**
 * A deployed churn model with a profiled training snapshot, in its own store, for monitoring tests: the real
 * activities ingest, profile, preprocess, train (builtin-linear), evaluate, register and deploy it; `deployAs` gives
 * the same model under other names (each name has its own prediction log and watermark). Traffic is drawn by the
 * project's churn generator and written as the model server writes its log (ParquetPredictionSink).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPipelineActivities, createTrainingQueueActivities } from '../../src/activities';
import { LocalArtifactStore } from '../../src/artifacts';
import type { ChurnOptions } from '../../src/data/churn-generator';
import { generateChurnCsv } from '../../src/data/churn-generator';
import { ParquetPredictionSink, PredictionBatch } from '../../src/serving/prediction-log';
import { mockEnv, runActivity } from './activity-env';
import { testDeps } from './dependencies';
import { prepareChurn, trainInput } from './prepared-data';
import { exampleDataset, tempDir } from './stack';

export interface MonitoredChurn {
  store: LocalArtifactStore;
  snapshotId: string;
  /** Registers the trained model as `modelName` (training snapshot `snapshotId`) and deploys it as `production`. */
  deployAs(modelName: string, snapshotId?: string): Promise<number>;
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
  const trained = await runActivity(
    mockEnv(),
    createTrainingQueueActivities(deps).trainModel,
    trainInput(prepared, { hyperparameters: { epochs: 3 } }, 'monitoring/run'),
  );
  const evaluation = await activities.evaluateModel({
    modelName: 'churn',
    modelUri: trained.modelUri,
    testUri: prepared.testUri,
    transformUri: prepared.transformUri,
    featureColumns: prepared.featureColumns,
    labelColumn: prepared.labelColumn,
    task: 'classification',
    outputUri: trained.outputUri,
    gate: { minImprovement: -1 },
    championAlias: 'production',
  });
  const deployAs = async (modelName: string, snapshotId = prepared.snapshotId): Promise<number> => {
    const registered = await activities.registerModel({
      modelName,
      modelUri: trained.modelUri,
      transformUri: prepared.transformUri,
      evaluationUri: evaluation.reportUri,
      snapshotId,
      metrics: evaluation.metrics,
      registrationKey: `monitoring-test-${modelName}`,
    });
    await activities.deployModel({ modelName, version: registered.version, alias: 'production' });
    return registered.version;
  };
  return { store, snapshotId: prepared.snapshotId, deployAs };
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

/**
 * Writes instances to the model's prediction log as served by `version`, one request each, the first at `start`
 * and `spacingMs` apart, as the model server's Parquet sink writes them (one part per UTC day).
 */
export async function writePredictionLog(
  store: LocalArtifactStore,
  modelName: string,
  version: number,
  start: string,
  instances: Record<string, unknown>[],
  spacingMs = 1,
): Promise<string> {
  const t0 = Date.parse(start);
  const sink = new ParquetPredictionSink(store);
  const batches = new Map<string, PredictionBatch>();
  const output = JSON.stringify({ label: 'no', probability: 0.2 });
  instances.forEach((features, i) => {
    const time = t0 + i * spacingMs;
    const date = new Date(time).toISOString().slice(0, 10);
    const batch = batches.get(date) ?? new PredictionBatch(modelName, date);
    batches.set(date, batch);
    batch.append(`req-${t0}-${i}`, time, version, 1, 1, [features], (x) => JSON.stringify(x), [output]);
  });
  const dir = tempDir('prediction-log');
  for (const batch of batches.values()) {
    const file = path.join(dir, `${batch.date}-${t0}.parquet`);
    fs.writeFileSync(file, batch.toParquet());
    const { model, date, rows } = batch;
    await sink.write({ model, date, rows, firstTime: batch.firstTime!, file, rowList: [] });
  }
  return new Date(t0 + (instances.length - 1) * spacingMs).toISOString();
}
