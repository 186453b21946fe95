/**
 * trainingPipeline: data to a deployed model, one named activity per step, passing artifact URIs only.
 *
 *   validate input → ingest → profile ∥ preprocess → train (training task queue) → evaluate + gate
 *     → register → deploy
 *
 * A challenger that fails the gate ends the run with outcome `rejected` (not a failure). The `getStatus` query and the
 * search attributes MlopsModelName, MlopsPipelineStage, MlopsDatasetSnapshot and MlopsModelVersion follow each step.
 */
import { patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { PipelineActivities } from '../activities';
import type { PipelineStatus, TrainingPipelineInput, TrainingPipelineResult } from '../contracts/pipeline';
import { settledTask, trainingPipelineInputSchema } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';
import { getStatusQuery } from './definitions';
import { describeFailure, enterStage, stepTracker } from './pipeline-status';
import { train } from './train-model';

/** Data and registry steps: minutes at most; transient faults (network, busy disk) retried a few times. */
const dataStep = {
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
} as const;
const data = proxyActivities<PipelineActivities>(dataStep);

/**
 * Profiling and preprocessing both read only the snapshot, so they run side by side (on DuckDB the worker's cores
 * are shared between them; on BigQuery both wait on query jobs at once). Histories recorded before this change ran
 * them one after the other and replay that way. If one fails, the other still finishes and stores its result, which
 * the next run reuses.
 */
const profileBesidePreprocess = 'profile-beside-preprocess';

export async function trainingPipeline(rawInput: TrainingPipelineInput): Promise<TrainingPipelineResult> {
  const claimedName = (rawInput as { modelName?: unknown } | undefined)?.modelName;
  const status: PipelineStatus = {
    modelName: typeof claimedName === 'string' ? claimedName : '',
    stage: 'validating',
    steps: [],
  };
  setHandler(getStatusQuery, () => status);
  const { step, failedStage } = stepTracker(status);
  const spec = parseWorkflowInput(trainingPipelineInputSchema, rawInput, 'trainingPipeline');
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  try {
    const snapshot = await step(
      'ingesting',
      () => data.ingestDataset({ sourceUri: spec.dataset.uri, format: spec.dataset.format }),
      (s) => [`${s.rowCount} rows, ${s.columns.length} columns`, s.reused],
    );
    status.snapshotId = snapshot.snapshotId;
    upsertSearchAttributes([{ key: searchAttributes.datasetSnapshot, value: snapshot.snapshotId }]);
    const profileStep = () =>
      step(
        'profiling',
        () =>
          data.profileDataset({
            snapshotId: snapshot.snapshotId,
            dataUri: snapshot.dataUri,
            target: spec.target,
            warehouse: spec.warehouse,
          }),
        (p) => [`${p.columnCount} columns profiled`, p.reused],
      );
    const preprocessStep = () =>
      step(
        'preprocessing',
        () =>
          data.preprocessDataset({
            ...snapshot,
            target: spec.target,
            features: spec.features,
            task: spec.task,
            split: spec.split,
            preprocessing: spec.preprocessing,
            warehouse: spec.warehouse,
          }),
        (p) => [
          `${p.rows.train}/${p.rows.validation}/${p.rows.test} rows, ${p.featureColumns.length} features, ${settledTask(p, spec)}`,
          p.reused,
        ],
      );
    const [profile, prepared] = patched(profileBesidePreprocess)
      ? await Promise.all([profileStep(), preprocessStep()])
      : [await profileStep(), await preprocessStep()];
    const task = settledTask(prepared, spec);
    status.task = task;
    const trained = await step(
      'training',
      () => train(spec, prepared),
      (t) => [t.resumedFromEpoch ? `resumed from epoch ${t.resumedFromEpoch}` : 'trained', false],
    );
    const evaluation = await step(
      'evaluating',
      () =>
        data.evaluateModel({
          modelName: spec.modelName,
          modelUri: trained.modelUri,
          testUri: prepared.testUri,
          transformUri: prepared.transformUri,
          featureColumns: prepared.featureColumns,
          labelColumn: prepared.labelColumn,
          task,
          outputUri: trained.outputUri,
          gate: spec.gate,
          championAlias: spec.deployAlias,
        }),
      (e) => [e.gate.reason, false],
    );
    const artifacts = {
      profile: profile.profileUri,
      report: profile.reportUri,
      transform: prepared.transformUri,
      model: trained.modelUri,
      evaluation: evaluation.reportUri,
    };
    const result = {
      modelName: spec.modelName,
      snapshotId: snapshot.snapshotId,
      task,
      metrics: evaluation.metrics,
      gate: evaluation.gate,
      artifacts,
    };
    if (!evaluation.gate.passed) {
      enterStage(status, 'rejected');
      return { outcome: 'rejected', ...result };
    }
    const registered = await step(
      'registering',
      () =>
        data.registerModel({
          modelName: spec.modelName,
          modelUri: trained.modelUri,
          transformUri: prepared.transformUri,
          evaluationUri: evaluation.reportUri,
          snapshotId: snapshot.snapshotId,
          metrics: evaluation.metrics,
          registrationKey: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
        }),
      (r) => [`version ${r.version}`, false],
    );
    status.modelVersion = registered.version;
    upsertSearchAttributes([{ key: searchAttributes.modelVersion, value: registered.version }]);
    await step(
      'deploying',
      () => data.deployModel({ modelName: spec.modelName, version: registered.version, alias: spec.deployAlias }),
      (d) => [`${d.alias} → v${d.version}${d.previousVersion ? ` (was v${d.previousVersion})` : ''}`, false],
    );
    enterStage(status, 'completed');
    return { outcome: 'deployed', version: registered.version, ...result };
  } catch (err) {
    status.error = err instanceof Error ? err.message : String(err);
    const failedAt = failedStage() ?? status.stage;
    enterStage(status, 'failed');
    throw describeFailure(err, spec.modelName, failedAt);
  }
}
