import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes the pipeline sets as it moves, so runs can be found and filtered in the Web UI and with
 * `temporal workflow list --query`. The dev server registers them at start (`src/dev/temporal-server.ts`).
 */
export const searchAttributes = {
  modelName: defineSearchAttributeKey('MlopsModelName', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('MlopsPipelineStage', SearchAttributeType.KEYWORD),
  datasetSnapshot: defineSearchAttributeKey('MlopsDatasetSnapshot', SearchAttributeType.KEYWORD),
  modelVersion: defineSearchAttributeKey('MlopsModelVersion', SearchAttributeType.INT),
  /** Set by `monitorModel`: share of the features that drifted in the window, its drifted count and live metric. */
  driftShare: defineSearchAttributeKey('MlopsDriftShare', SearchAttributeType.DOUBLE),
  driftedFeatures: defineSearchAttributeKey('MlopsDriftedFeatures', SearchAttributeType.INT),
  liveMetric: defineSearchAttributeKey('MlopsLiveMetric', SearchAttributeType.DOUBLE),
} as const;

const flagTypes: Partial<Record<SearchAttributeType, string>> = {
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
};

/** `Name=Type` pairs, the form `temporal server start-dev --search-attribute` and `operator` commands take. */
export const searchAttributeFlags: string[] = Object.values(searchAttributes).map(
  (key) => `${key.name}=${flagTypes[key.type] ?? 'Keyword'}`,
);
