/**
 * Drift computation speed and memory: temporal-mlops (the monitor's check in DuckDB over Parquet against the stored
 * reference) vs Evidently's `DataDriftPreset` on the same files, side by side in one run.
 *
 *   bash bench/setup-python-drift.sh   # once (the benchmark runs it too): Evidently, pandas, pyarrow in a cached venv
 *   npx tsx bench/drift-vs-evidently.ts [--rows 350000] [--large 3500000] [--repeats 3] [--evidently-large]
 *
 * The data (bench/drift-data.ts): `rows` reference and `rows` current rows × 50 columns of mixed types, drift injected
 * in 12 known columns. Each run, one process each: our reference build (what profiling stores once per training
 * snapshot), our check of the current file (what every monitoring run does), Evidently's report (which computes both
 * sides every time). Then our check of `large` current rows against the same reference (memory flat in rows?), and
 * Evidently's on them with --evidently-large. Prints JSON: medians, peak RSS, the load average, and how the two sides
 * agree on which columns drift and on each column's score.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { driftedColumns, writeCurrentData, writeReferenceData } from './drift-data';

interface Side {
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
  /** Wall time of the whole process as the benchmark sees it: start-up and imports included. */
  processSeconds: number;
  /** One-minute load average when the process started. */
  load: number;
}

interface Checked extends Side {
  drifted: string[];
  columns: Record<string, { metric?: string; method?: string; value: number }>;
}

const benchDir = __dirname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function evidentlyPython(): string {
  const out = execFileSync('bash', [path.join(benchDir, 'setup-python-drift.sh')], { encoding: 'utf8' });
  return out.trim().split('\n').at(-1)!;
}

function runSide<T extends Side>(command: string, args: string[]): T {
  const load = os.loadavg()[0]!;
  const started = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  const processSeconds = (performance.now() - started) / 1000;
  return { ...(JSON.parse(result.stdout.trim().split('\n').at(-1)!) as T), processSeconds, load };
}

function summarize<T extends Side>(runs: T[]) {
  return {
    seconds: median(runs.map((r) => r.seconds)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    processSeconds: median(runs.map((r) => r.processSeconds)),
    maxRssMiB: median(runs.map((r) => r.maxRssMiB)),
    runs: runs.map((r) => Number(r.seconds.toFixed(2))),
    load: runs.map((r) => Number(r.load.toFixed(1))),
  };
}

/** Which columns each side flags, against the injected ones, and how far apart the scores are per statistic. */
function agreement(ours: Checked, evidently: Checked) {
  const o = new Set(ours.drifted);
  const e = new Set(evidently.drifted);
  const injected = new Set(driftedColumns);
  const differences: Record<string, { columns: number; maxAbs: number; worst: string }> = {};
  for (const [name, mine] of Object.entries(ours.columns)) {
    const theirs = evidently.columns[name];
    if (!theirs) continue;
    const key = `${mine.metric} / ${theirs.method}`;
    const diff = Math.abs(mine.value - theirs.value);
    const entry = (differences[key] ??= { columns: 0, maxAbs: 0, worst: name });
    entry.columns++;
    if (diff >= entry.maxAbs) Object.assign(entry, { maxAbs: diff, worst: name });
  }
  const differ = (a: Set<string>, b: Set<string>) => [...a].filter((c) => !b.has(c));
  return {
    injected: driftedColumns,
    ours: ours.drifted,
    evidently: evidently.drifted,
    sameDecisions: Object.keys(ours.columns).filter((c) => o.has(c) === e.has(c)).length,
    of: Object.keys(ours.columns).length,
    onlyOurs: differ(o, e),
    onlyEvidently: differ(e, o),
    oursMissedInjected: differ(injected, o),
    oursFlaggedClean: differ(o, injected),
    scoreDifferences: differences,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '350000' },
      large: { type: 'string', default: '3500000' },
      repeats: { type: 'string', default: '3' },
      'evidently-large': { type: 'boolean', default: false },
    },
  });
  const rows = Number(values.rows);
  const large = Number(values.large);
  const python = evidentlyPython();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-bench-drift-'));
  const file = (name: string) => path.join(tmp, name);
  const tsx = ['--require', require.resolve('tsx/cjs'), path.join(benchDir, 'ours-drift.ts')];
  const oursReference = () =>
    runSide<Side>(process.execPath, [...tsx, 'reference', file('reference.parquet'), file('reference.json')]);
  const oursCheck = (current: string) =>
    runSide<Checked>(process.execPath, [...tsx, 'check', file('reference.json'), file(current)]);
  const evidently = (current: string) =>
    runSide<Checked>(python, [path.join(benchDir, 'evidently_drift.py'), file('reference.parquet'), file(current)]);
  try {
    await writeReferenceData(file('reference.parquet'), rows);
    await writeCurrentData(file('current.parquet'), rows);
    if (large) await writeCurrentData(file('current-large.parquet'), large);
    const mib = (name: string) => Math.round(fs.statSync(file(name)).size / 2 ** 20);
    console.log(
      `[bench] ${rows} + ${rows} rows × 50 columns, Parquet ${mib('reference.parquet')} + ${mib('current.parquet')} MiB`,
    );
    oursReference(); // warms the page cache and the module cache
    const runs = { reference: [] as Side[], check: [] as Checked[], evidently: [] as Checked[] };
    for (let i = 0; i < Number(values.repeats); i++) {
      runs.reference.push(oursReference());
      runs.check.push(oursCheck('current.parquet'));
      runs.evidently.push(evidently('current.parquet'));
      const [r, c, e] = [runs.reference, runs.check, runs.evidently].map((x) => x.at(-1)!.seconds.toFixed(2));
      console.log(`[bench] run ${i + 1}: ours reference ${r} s, check ${c} s; evidently ${e} s`);
    }
    const largeCheck = large ? [oursCheck('current-large.parquet'), oursCheck('current-large.parquet')] : [];
    const largeEvidently = large && values['evidently-large'] ? evidently('current-large.parquet') : undefined;
    const ours = { reference: summarize(runs.reference), check: summarize(runs.check) };
    const peer = summarize(runs.evidently);
    console.log(
      JSON.stringify(
        {
          machine: `${os.cpus()[0]?.model} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
          rows: { reference: rows, current: rows, large },
          ours,
          evidently: { ...peer, version: (runs.evidently[0] as Checked & { version?: string }).version },
          speedup: {
            check: peer.seconds / ours.check.seconds,
            referenceAndCheck: peer.seconds / (ours.reference.seconds + ours.check.seconds),
            checkCpu: peer.cpuSeconds / ours.check.cpuSeconds,
          },
          large: large
            ? {
                ours: summarize(largeCheck),
                evidently: largeEvidently && summarize([largeEvidently]),
                agreement: largeEvidently && agreement(largeCheck[0]!, largeEvidently),
              }
            : undefined,
          agreement: agreement(runs.check[0]!, runs.evidently[0]!),
        },
        null,
        2,
      ),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
