import type { SnapshotSource } from '../contracts/datasets';
import type { HashedBytes } from './hashing';

/** A source file brought to local disk and hashed, with what the manifest records about where it came from. */
export interface FetchedSource extends HashedBytes {
  localPath: string;
  lineage: Pick<SnapshotSource, 'kind' | 'generation' | 'etag'>;
}
