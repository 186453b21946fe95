import type { ArtifactStore } from '../artifacts';
import type {
  CheckLiveMetricInput,
  CheckLiveMetricResult,
  CheckModelDriftInput,
  CheckModelDriftResult,
  CompactPredictionLogInput,
  CompactPredictionLogResult,
} from '../contracts/monitoring';
import type { BigQueryLogTable } from '../monitoring/bigquery-log-window';
import type { LabelsAccess } from '../monitoring/labels-source';
import { checkLiveMetric } from '../monitoring/live-metric';
import { compactPredictionLog } from '../monitoring/log-compaction';
import { checkModelDrift } from '../monitoring/monitor-window';

export interface MonitoringDeps extends LabelsAccess {
  store: ArtifactStore;
  /** DuckDB threads for counting a window and joining labels. */
  duckDbThreads: number;
  /** The prediction log's BigQuery table, when the model server streams to one (for `log: 'bigquery'` checks). */
  bigQueryLog?: BigQueryLogTable;
}

/**
 * Monitoring (src/monitoring/): drift of a served version's traffic against its training reference, its live metric
 * on the predictions whose labels have arrived, and the compaction of the prediction log's closed hours.
 */
export interface MonitoringActivities {
  checkModelDrift: (input: CheckModelDriftInput) => Promise<CheckModelDriftResult>;
  checkLiveMetric: (input: CheckLiveMetricInput) => Promise<CheckLiveMetricResult>;
  compactPredictionLog: (input: CompactPredictionLogInput) => Promise<CompactPredictionLogResult>;
}

export function createMonitoringActivities({
  store,
  duckDbThreads,
  bigQueryLog,
  ...access
}: MonitoringDeps): MonitoringActivities {
  return {
    checkModelDrift: (input) => checkModelDrift(store, input, { threads: duckDbThreads, bigQueryLog }),
    checkLiveMetric: (input) => checkLiveMetric({ store, threads: duckDbThreads, ...access }, input),
    // Retention is counted on the worker's clock: it guards readers running now, whatever window the run judged.
    compactPredictionLog: (input) => compactPredictionLog(store, input, { now: Date.now(), threads: duckDbThreads }),
  };
}
