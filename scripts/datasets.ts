/**
 * `npm run datasets -- …`: the dataset snapshots in the configured artifact store (MLOPS_ARTIFACT_ROOT) as data under
 * version control: list them (of one source), show one and what derives from it, diff two, export one to a file.
 * `--json` prints the same as JSON.
 */
import { loadConfig } from '../src/config';
import { buildDependencies } from '../src/dependencies';
import { describeSnapshot, listSnapshots, renderSnapshotLineage, renderSnapshotTable } from '../src/ingest/catalog';
import { diffSnapshots, renderSnapshotDiff } from '../src/ingest/snapshot-diff';
import { exportSnapshot } from '../src/ingest/snapshot-export';

const usage = `Usage:
  npm run datasets -- list [--source <text>] [--json]   every snapshot (of sources containing <text>): id, rows, columns, source, created
  npm run datasets -- show <id> [--json]                a snapshot's manifest and what derives from it
  npm run datasets -- diff <from-id> <to-id> [--json]   columns added, removed or retyped; rows only in one; per-column changes
  npm run datasets -- export <id> <file> [--force]      the snapshot's rows as .csv, .parquet or .jsonl (--force replaces a file);
      a relative <file> is taken from the repository root, where npm runs the script: give an absolute path elsewhere`;

async function main(argv: string[]): Promise<number> {
  // `help` alone, or --help / -h anywhere: the usage on stdout, exit 0 (as `npm run models` and `monitoring` do).
  if ((argv.length === 1 && argv[0] === 'help') || argv.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(usage);
    return 0;
  }
  const json = argv.includes('--json');
  const force = argv.includes('--force');
  const sourceAt = argv.indexOf('--source');
  const source = sourceAt >= 0 ? argv[sourceAt + 1] : undefined;
  const sourceArgs = sourceAt >= 0 ? [sourceAt, sourceAt + 1] : [];
  const args = argv.filter((a, i) => a !== '--json' && a !== '--force' && !sourceArgs.includes(i));
  const [command, ...operands] = args;
  const print = (value: unknown, text: () => string) =>
    process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text());
  if (sourceAt >= 0 && (command !== 'list' || source === undefined || source.startsWith('--'))) return usageError();
  if (force && command !== 'export') return usageError();
  const { store } = buildDependencies(loadConfig());
  if (command === 'list' && operands.length === 0) {
    const all = await listSnapshots(store);
    const snapshots = source === undefined ? all : all.filter((s) => s.source.includes(source));
    print(snapshots, () => renderSnapshotTable(snapshots));
    return 0;
  }
  if (command === 'show' && operands.length === 1) {
    const lineage = await describeSnapshot(store, operands[0]!);
    print(lineage, () => renderSnapshotLineage(lineage));
    return 0;
  }
  if (command === 'diff' && operands.length === 2) {
    const diff = await diffSnapshots(store, operands[0]!, operands[1]!);
    print(diff, () => renderSnapshotDiff(diff));
    return 0;
  }
  if (command === 'export' && operands.length === 2 && !json) {
    const done = await exportSnapshot(store, operands[0]!, operands[1]!, { overwrite: force });
    process.stdout.write(
      `Wrote ${done.rows} rows of ${done.snapshotId} to ${done.file} (${done.format}, ${done.bytes} bytes)\n`,
    );
    return 0;
  }
  return usageError();
}

function usageError(): number {
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
