/**
 * The drift reference stored in a profile, for a drift check: every column's `drift` field, keyed by column name.
 */
import type { ColumnReference } from '../drift/reference';
import { mlopsError } from '../errors';
import type { DatasetProfile } from './dataset-profile';
import { profileFormatVersion } from './dataset-profile';
import { setOwn } from '../contracts/own-property';

/**
 * The references of `columns` (every column with values by default) from a profile read from `uri`; a profile of an
 * older format, or a column without a stored reference, is a catalogued error naming the file and the column.
 */
export function profileDriftReference(
  profile: Pick<DatasetProfile, 'version' | 'columns'>,
  uri: string,
  columns?: string[],
): Record<string, ColumnReference> {
  const wanted = columns ?? profile.columns.filter((c) => c.drift).map((c) => c.name);
  const references: Record<string, ColumnReference> = {};
  for (const name of wanted) {
    const column = profile.columns.find((c) => c.name === name);
    if (profile.version !== profileFormatVersion || !column?.drift)
      throw mlopsError('MLOPS_ERR_DRIFT_REFERENCE_MISSING', { uri, column: name, version: String(profile.version) });
    setOwn(references, name, column.drift);
  }
  return references;
}
