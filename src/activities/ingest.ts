import type { DatasetSnapshot, IngestDatasetInput } from '../contracts/datasets';
import type { IngestDeps } from '../ingest/ingest-dataset';
import { ingestDataset } from '../ingest/ingest-dataset';

export type { IngestDeps };

/**
 * Data ingestion (src/ingest/ingest-dataset.ts): a file, URL, Cloud Storage object or BigQuery table/query becomes a
 * content-addressed dataset snapshot, written completely or not at all.
 */
export interface IngestActivities {
  ingestDataset: (input: IngestDatasetInput) => Promise<DatasetSnapshot>;
}

export function createIngestActivities(deps: IngestDeps): IngestActivities {
  return {
    ingestDataset: (input) => ingestDataset(deps, input),
  };
}
