/**
 * `npm run datasets -- list` and `npm run datasets -- show <snapshot id>`: the dataset snapshots in the configured
 * artifact store (MLOPS_ARTIFACT_ROOT) and what derives from each (profile, preprocessed outputs, model versions).
 * `--json` prints the same as JSON.
 */
import { loadConfig } from '../src/config';
import { buildDependencies } from '../src/dependencies';
import { describeSnapshot, listSnapshots, renderSnapshotLineage, renderSnapshotTable } from '../src/ingest/catalog';

const usage = `Usage:
  npm run datasets -- list [--json]         every snapshot: id, rows, columns, source, created
  npm run datasets -- show <id> [--json]    a snapshot's manifest and what derives from it`;

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const [command, id, ...extra] = argv.filter((a) => a !== '--json');
  const { store } = buildDependencies(loadConfig());
  if (command === 'list' && id === undefined) {
    const snapshots = await listSnapshots(store);
    process.stdout.write(json ? `${JSON.stringify(snapshots, null, 2)}\n` : renderSnapshotTable(snapshots));
    return 0;
  }
  if (command === 'show' && id !== undefined && extra.length === 0) {
    const lineage = await describeSnapshot(store, id);
    process.stdout.write(json ? `${JSON.stringify(lineage, null, 2)}\n` : renderSnapshotLineage(lineage));
    return 0;
  }
  console.error(usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
