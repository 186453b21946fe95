import { ingestDataset } from '../ingest/ingest-dataset';
import type { IngestDeps } from '../ingest/ingest-dataset';
import type { BoundSteps } from './bind';
import { bindSteps } from './bind';

/** Ingestion (src/ingest/ingest-dataset.ts): a source becomes a content-addressed snapshot, complete or absent. */
export type IngestActivities = BoundSteps<{ ingestDataset: typeof ingestDataset }>;

export function createIngestActivities(deps: IngestDeps): IngestActivities {
  return bindSteps(deps, { ingestDataset });
}
