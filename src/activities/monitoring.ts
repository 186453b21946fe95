import type { ArtifactStore } from '../artifacts';
import type { CheckModelDriftInput, CheckModelDriftResult } from '../contracts/monitoring';
import { checkModelDrift } from '../monitoring/monitor-window';

export interface MonitoringDeps {
  store: ArtifactStore;
  /** DuckDB threads for counting a window. */
  duckDbThreads: number;
}

/** Monitoring (src/monitoring/): drift of a served version's traffic against its training reference. */
export interface MonitoringActivities {
  checkModelDrift: (input: CheckModelDriftInput) => Promise<CheckModelDriftResult>;
}

export function createMonitoringActivities({ store, duckDbThreads }: MonitoringDeps): MonitoringActivities {
  return {
    checkModelDrift: (input) => checkModelDrift(store, input, duckDbThreads),
  };
}
