/**
 * Detection quality of the drift engine (not speed): false alarms on windows drawn from the training distribution,
 * and detection of a mean shift of 0.4 × IQR in one column, for each preset and reference size.
 *
 *   npx tsx bench/drift-detection.ts [--windows 100] [--sizes 1000,10000,100000] [--references 100000,1000]
 *
 * Traffic comes from test/support/drift-windows.ts (rows drawn in DuckDB SQL from the row number, windows disjoint
 * from each other and from the reference). Prints a Markdown table for docs/monitoring.md.
 */
import { parseArgs } from 'node:util';
import type { DriftReport } from '../src/drift/compute-drift';
import type { PresetName } from '../src/drift/presets';
import { withDuckDb } from '../src/warehouse/duckdb';
import { amountIqr, syntheticColumns, syntheticReference, windowDrift } from '../test/support/drift-windows';

interface Tally {
  windows: number;
  alarms: Map<string, number>;
  datasetAlarms: number;
}

function tally(reports: DriftReport[]): Tally {
  const alarms = new Map(syntheticColumns.map((c) => [c.name, 0]));
  for (const r of reports) for (const name of r.dataset.driftedColumns) alarms.set(name, (alarms.get(name) ?? 0) + 1);
  return { windows: reports.length, alarms, datasetAlarms: reports.filter((r) => r.dataset.drifted).length };
}

/** References of at most this many rows are redrawn per window. */
const smallReference = 10_000;

const percent = (n: number, of: number) => `${((100 * n) / of).toFixed(1)} %`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      windows: { type: 'string', default: '100' },
      sizes: { type: 'string', default: '1000,10000,100000' },
      references: { type: 'string', default: '100000,1000' },
    },
  });
  const windows = Number(values.windows);
  const sizes = values.sizes.split(',').map(Number);
  const shift = 0.4 * amountIqr;
  console.log(
    '| reference rows | preset | window rows | tests chosen | worst per-feature false alarms | dataset false alarms | shift detected (amount) | other features flagged under shift |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  await withDuckDb(
    async (db) => {
      for (const referenceRows of values.references.split(',').map(Number)) {
        // A large reference is drawn once, as in production. A small one is redrawn for every window: a p-value test's
        // 5 % false-alarm rate is over draws of both samples, and one fixed small sample would decide every window.
        const fixed = referenceRows > smallReference ? await syntheticReference(db, referenceRows) : undefined;
        const referenceFor = (w: number) => fixed ?? syntheticReference(db, referenceRows, referenceRows * w);
        for (const size of sizes) {
          const same: Record<PresetName, DriftReport>[] = [];
          const shifted: Record<PresetName, DriftReport>[] = [];
          for (let w = 0; w < windows; w++) {
            same.push(await windowDrift(db, await referenceFor(w), size, w));
            shifted.push(await windowDrift(db, await referenceFor(windows + w), size, windows + w, shift));
          }
          for (const preset of ['evidently', 'vertex'] as PresetName[]) {
            const s = tally(same.map((r) => r[preset]));
            const t = tally(shifted.map((r) => r[preset]));
            const worst = [...s.alarms.entries()].sort((a, b) => b[1] - a[1])[0]!;
            const others = [...t.alarms.entries()].filter(([n]) => n !== 'amount').reduce((a, [, n]) => a + n, 0);
            const tests = [...new Set(same[0]![preset].rows.map((r) => r.metric))].join(', ');
            console.log(
              `| ${referenceRows} | ${preset} | ${size} | ${tests} | ${percent(worst[1], windows)}${worst[1] ? ` (${worst[0]})` : ''} | ${percent(s.datasetAlarms, windows)} | ${percent(t.alarms.get('amount') ?? 0, windows)} | ${percent(others, windows * (syntheticColumns.length - 1))} |`,
            );
          }
        }
      }
    },
    { threads: 1 },
  );
  console.log(`\n${windows} windows per cell; shift = 0.4 × IQR = ${shift.toFixed(4)} added to amount (σ = 2).`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
