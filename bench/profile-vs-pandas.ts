/**
 * Profiling + preprocessing throughput and memory: temporal-mlops (DuckDB via the real activities) vs pandas doing the
 * same profile and preprocessing on the same CSV, side by side in one run.
 *
 *   npx tsx bench/profile-vs-pandas.ts [--rows 1000000] [--repeats 3] [--threads 2]
 *
 * The dataset has 20 columns (16 numeric with some nulls, 3 categorical, a binary target). Each side runs in its own
 * process (so its peak RSS is its own), alternating, and the medians are compared. A second, 4× smaller file shows
 * whether memory grows with the row count.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { literal, withDuckDb } from '../src/warehouse/duckdb';

interface Timing {
  readSeconds: number;
  profileSeconds: number;
  preprocessSeconds: number;
  totalSeconds: number;
  /** Process CPU time (user + system) per phase: above the wall time when a phase uses several cores. */
  cpuSeconds: { read: number; profile: number; preprocess: number };
  maxRssMiB: number;
}

const benchDir = __dirname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A cached venv with the pinned pandas stack (bench/requirements.txt). */
function pandasPython(): string {
  const requirements = path.join(benchDir, 'requirements.txt');
  const venv = path.join(loadConfig().cacheDir, 'python', 'bench-venv');
  const python = path.join(venv, 'bin', 'python');
  const stamp = path.join(venv, '.stamp');
  const want = crypto.createHash('sha256').update(fs.readFileSync(requirements)).digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return python;
  console.log(`[bench] creating ${venv} with ${requirements}`);
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(python, ['-m', 'pip', 'install', '-q', '-r', requirements], { stdio: 'inherit' });
  fs.writeFileSync(stamp, want);
  return python;
}

/** Writes the benchmark CSV with DuckDB (seeded, so every run measures the same file). */
async function writeDataset(file: string, rows: number): Promise<void> {
  const numeric = Array.from({ length: 16 }, (_, i) => {
    const value = `round(${(i + 1) * 10} + ${i + 2} * sqrt(-2 * ln(random())) * cos(2 * pi() * random()), 4)`;
    return i % 4 === 0 ? `CASE WHEN random() < 0.02 THEN NULL ELSE ${value} END AS x${i}` : `${value} AS x${i}`;
  });
  const categorical = [
    `'region_' || CAST(floor(random() * 12) AS INT) AS region`,
    `'plan_' || CAST(floor(random() * random() * 40) AS INT) AS plan`,
    `CASE WHEN random() < 0.3 THEN 'web' WHEN random() < 0.6 THEN 'store' ELSE 'phone' END AS channel`,
  ];
  await withDuckDb(async (db) => {
    await db.run('SELECT setseed(0.42)');
    await db.run(
      `COPY (SELECT ${[...numeric, ...categorical].join(', ')}, CASE WHEN random() < 0.35 THEN 'yes' ELSE 'no' END AS target
             FROM range(${rows})) TO ${literal(file)} (HEADER, DELIMITER ',')`,
    );
  });
}

function runSide(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Timing {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Timing;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      repeats: { type: 'string', default: '3' },
      // Our side's MLOPS_DATA_THREADS; pandas uses one core whatever it is.
      threads: { type: 'string', default: '2' },
    },
  });
  const rows = Number(values.rows);
  const python = pandasPython();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-bench-profile-'));
  const ours = (csv: string) =>
    runSide(
      process.execPath,
      ['--require', require.resolve('tsx/cjs'), path.join(benchDir, 'ours-profile-preprocess.ts'), csv, 'target'],
      // The generated files are a data root of this run (the default roots are examples/ and the state folder's data/).
      { ...process.env, MLOPS_DATA_THREADS: values.threads, MLOPS_DATA_ROOTS: tmp },
    );
  const pandas = (csv: string) => runSide(python, [path.join(benchDir, 'pandas_profile_preprocess.py'), csv, 'target']);
  try {
    const big = path.join(tmp, `data-${rows}.csv`);
    const small = path.join(tmp, `data-${rows / 4}.csv`);
    await writeDataset(big, rows);
    await writeDataset(small, rows / 4);
    console.log(`[bench] ${rows} rows × 20 columns, ${(fs.statSync(big).size / 2 ** 20).toFixed(0)} MiB CSV`);
    ours(small); // warm the page cache and the module cache
    const results = { ours: [] as Timing[], pandas: [] as Timing[] };
    for (let i = 0; i < Number(values.repeats); i++) {
      results.ours.push(ours(big));
      results.pandas.push(pandas(big));
      console.log(
        `run ${i + 1}: ours ${results.ours.at(-1)!.totalSeconds.toFixed(2)} s, pandas ${results.pandas.at(-1)!.totalSeconds.toFixed(2)} s`,
      );
    }
    const smallOurs = ours(small);
    const smallPandas = pandas(small);
    const summarize = (runs: Timing[]) => ({
      readSeconds: median(runs.map((r) => r.readSeconds)),
      profileSeconds: median(runs.map((r) => r.profileSeconds)),
      preprocessSeconds: median(runs.map((r) => r.preprocessSeconds)),
      totalSeconds: median(runs.map((r) => r.totalSeconds)),
      cpuSeconds: {
        read: median(runs.map((r) => r.cpuSeconds.read)),
        profile: median(runs.map((r) => r.cpuSeconds.profile)),
        preprocess: median(runs.map((r) => r.cpuSeconds.preprocess)),
      },
      maxRssMiB: median(runs.map((r) => r.maxRssMiB)),
    });
    const o = summarize(results.ours);
    const p = summarize(results.pandas);
    console.log(
      JSON.stringify(
        {
          machine: `${os.cpus()[0]?.model} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
          rows,
          columns: 20,
          dataThreads: Number(values.threads),
          ours: { ...o, rowsPerSecond: rows / o.totalSeconds },
          pandas: { ...p, rowsPerSecond: rows / p.totalSeconds },
          speedup: p.totalSeconds / o.totalSeconds,
          memory: {
            oursMiB: { [rows / 4]: smallOurs.maxRssMiB, [rows]: o.maxRssMiB },
            pandasMiB: { [rows / 4]: smallPandas.maxRssMiB, [rows]: p.maxRssMiB },
          },
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
