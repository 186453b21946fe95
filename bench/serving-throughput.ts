/**
 * Serving throughput, side by side in one run on one model (the churn model: 9 raw features, 25 model inputs) and the
 * same payloads, at 1 and 64 rows per request:
 *   in-process   — the server's loop without HTTP: JSON.parse → validate → transform → session.run → encode (the
 *                  server's encoder: each prediction's JSON text joined into the body);
 *   raw run      — session.run alone on already-transformed rows;
 *   node         — `src/serving/server.ts`, strict validation always on, prediction log on and off, in one process
 *                  and in its multi-core mode (MLOPS_SERVE_WORKERS=2); `-nolane`: with the fast lane off;
 *   node-bare    — the ceiling reference: node:http reading the body, JSON.parse and a fixed answer (the model
 *                  server's answer to the payload), no model (bench/bare-http-server.ts), 1 and 2 processes;
 *   fastapi      — bench/fastapi_server.py (FastAPI + uvicorn + onnxruntime, the same transform.json and model.onnx)
 *                  with 1 and 2 uvicorn workers, on uvloop + httptools and on asyncio + h11 (venv made by
 *                  bench/setup-python-serving.sh).
 * Every server is driven by the same load generator, bench/serving-load.ts, in its own process (16 keep-alive
 * connections, 3 s warm-up), one server at a time. Prints one line per measurement, then a JSON summary.
 *
 *   bash bench/setup-python-serving.sh   # once
 *   npx tsx bench/serving-throughput.ts [--seconds 5] [--rows 1,64] [--only node-1-log,fastapi-1] [--threads]
 *       [--server-cpus 2,3 --generator-cpus 8-11]
 * (`--threads`: each server thread's CPU per request over the measured window; `--server-cpus`/`--generator-cpus`:
 * every server, and the load generator, pinned to those CPUs with `taskset`, on a machine with cores to spare.)
 *
 * On a machine without the project's packages (the device machine: more cores, so the generator need not share the
 * servers' CPUs), the run is split in two (bench/device-serving.sh):
 *   npx tsx bench/serving-throughput.ts --prepare <dir>   # here: the model's store and the compiled code, in <dir>
 *   node <dir>/built/bench/serving-throughput.js --store "$(cat <dir>/store-path)" --python python3 [options]
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { LocalArtifactStore } from '../src/artifacts';
import { resolveAlias } from '../src/registry/model-registry';
import { serverNodeFlags } from '../src/serving/cluster';
import { loadVersion } from '../src/serving/load-version';
import { loyalCustomer, riskyCustomer } from '../test/support/churn-customers';

interface Prediction {
  label: string;
  probabilities: Record<string, number>;
}

interface Load {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Connections the generator opened again (a server that closed or refused them). */
  reconnects: number;
  generatorCpu: number;
  /** Server CPU seconds (all its processes and threads) per request over the measured window, in microseconds. */
  serverCpuUs?: number;
}

/** Clock ticks per second of /proc's utime and stime. */
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds used so far by a process and all its descendants (Linux /proc); 0 where /proc is absent. */
function treeCpuSeconds(root: number): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.existsSync('/proc') ? fs.readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the process ended meanwhile
    }
  }
  let ticks = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    ticks += procs.get(pid)?.ticks ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) pending.push(child);
  }
  return ticks / ticksPerSecond;
}

/**
 * CPU ticks of every thread of a process tree, by `pid/tid name`, and the time each spent runnable but waiting for a
 * CPU (nanoseconds, `/proc/…/schedstat`; Linux only, empty where it is absent).
 */
function treeThreadTicks(root: number): Map<string, { ticks: number; waitNs: number }> {
  const out = new Map<string, { ticks: number; waitNs: number }>();
  const children = new Map<number, number[]>();
  for (const entry of fs.existsSync('/proc') ? fs.readdirSync('/proc') : []) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended meanwhile
    }
  }
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    pending.push(...(children.get(pid) ?? []));
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const waitNs = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
        out.set(`${pid}/${tid} ${name}`, { ticks: Number(f[11]) + Number(f[12]), waitNs });
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

type ThreadTicks = ReturnType<typeof treeThreadTicks>;

/**
 * `--threads`: each thread's CPU per request over the measured window, the busiest first, and after a slash the time
 * it spent runnable and waiting for a CPU, per request.
 */
function threadShares(before: ThreadTicks, after: ThreadTicks, requests: number): string {
  return [...after]
    .map(([thread, now]) => {
      const was = before.get(thread) ?? { ticks: 0, waitNs: 0 };
      const cpu = ((now.ticks - was.ticks) / ticksPerSecond / requests) * 1e6;
      return [thread, cpu, (now.waitNs - was.waitNs) / 1000 / requests] as const;
    })
    .filter(([, us]) => us >= 0.5)
    .sort((a, b) => b[1] - a[1])
    .map(([thread, us, wait]) => `${thread} ${us.toFixed(1)}/${wait.toFixed(1)}`)
    .join('; ');
}

interface ServerSpec {
  name: string;
  /** `answer`: a file holding the model server's answer to the payload (for the bare reference server). */
  start(port: number, answer: string): ChildProcess;
  /** Resolves once the server takes requests on every process. */
  ready(child: ChildProcess, port: number): Promise<void>;
}

const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? riskyCustomer : loyalCustomer));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Our code as deployed: `src` (and the bench's in-process loop and bare server) compiled by tsc and run by plain
 * `node`, as the compose service runs `dist/` (not through tsx, whose module interop adds a getter call to every
 * cross-module call). Built under node_modules/.cache, where the built files still find the project's packages;
 * removed with the run's other files.
 */
function compile(keep?: string): string {
  fs.mkdirSync(path.join('node_modules', '.cache'), { recursive: true });
  const out = keep ?? fs.mkdtempSync(path.join('node_modules', '.cache', 'serving-bench-'));
  if (!keep) cleanups.push(() => fs.rmSync(out, { recursive: true, force: true }));
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'bench/tsconfig.serving.json', '--outDir', out],
    {
      stdio: 'inherit',
    },
  );
  return out;
}

/** The in-process limit, measured by the compiled loop in its own process (bench/in-process-loop.ts). */
async function inProcess(built: string, store: LocalArtifactStore, seconds: number, rows: number) {
  const bodyFile = path.join(scratch, `body-${rows}.json`);
  fs.writeFileSync(bodyFile, JSON.stringify({ instances: rowsOf(rows) }));
  // On the servers' CPUs when they are pinned: the same work, the same cores.
  const out = execFileSync(
    ...pinned(pinning.server, process.execPath, [
      ...serverNodeFlags,
      path.join(built, 'bench/in-process-loop.js'),
      store.root,
      'churn',
      'production',
      bodyFile,
      String(seconds),
    ]),
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const measured = JSON.parse(out.trim().split('\n').pop()!) as { loop: number; loopCpuUs: number; raw: number };
  const loaded = await loadVersion(store, await resolveAlias(store, 'churn', 'production'));
  const expected = (await loaded.predictor.predict(rowsOf(rows))) as Prediction[];
  await loaded.predictor.close();
  return { ...measured, expected };
}

/** `--server-cpus` and `--generator-cpus`: the CPU lists (`taskset -c`) every server and the load generator run on. */
const pinning: { server?: string; generator?: string } = {};

/** The command line that runs `command` on the CPUs `cpus` when given (taskset execs it: the pid is the command's). */
function pinned(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  return cpus ? ['taskset', ['-c', cpus, command, ...args]] : [command, args];
}

/** spawn, on the CPUs `cpus` when given. */
function launch(cpus: string | undefined, command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn(...pinned(cpus, command, args), options);
}

/** Node flags to try on our server besides its own (`MLOPS_BENCH_NODE_FLAGS`, space-separated; e.g. `--cpu-prof`). */
const extraNodeFlags = (process.env.MLOPS_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** `lane`: the fast lane on (the default), or off (`-nolane`: every request through node:http and fastify). */
function nodeServer(built: string, root: string, workers: number, log: boolean, lane = true): ServerSpec {
  return {
    name: `node-${workers}-${log ? 'log' : 'nolog'}${lane ? '' : '-nolane'}`,
    start: (port) =>
      // Started as the compose service starts it: the built server with the server's Node flags.
      launch(
        pinning.server,
        process.execPath,
        [...serverNodeFlags, ...extraNodeFlags, path.join(built, 'src/serving/server.js')],
        {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            MLOPS_ARTIFACT_ROOT: root,
            MLOPS_SERVE_MODEL: 'churn',
            MLOPS_SERVE_PORT: String(port),
            MLOPS_SERVE_WORKERS: String(workers),
            MLOPS_SERVE_LOG: String(log),
            MLOPS_SERVE_FAST_LANE: String(lane),
            MLOPS_LOG_LEVEL: 'WARN',
            MLOPS_STATE_DIR: fs.mkdtempSync(path.join(scratch, 'state-')),
            // Prediction log settings to compare (e.g. MLOPS_SERVE_LOG_FLUSH_ROWS) pass through.
            ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MLOPS_SERVE_LOG_'))),
          },
          stdio: ['ignore', workers > 1 ? 'pipe' : 'ignore', 'inherit'],
        },
      ),
    ready: async (child, port) => {
      if (workers === 1) return pollReady(port);
      // The primary prints its listening line once every worker listens.
      for await (const line of readline.createInterface({ input: child.stdout! })) {
        if (line.includes('"model server listening"')) return;
      }
      throw new Error('the clustered server exited before listening');
    },
  };
}

/** The ceiling reference: HTTP, JSON.parse and a fixed answer, no model (bench/bare-http-server.ts). */
function bareServer(built: string, processes: number): ServerSpec {
  return {
    name: `node-bare-${processes}`,
    start: (port, answer) =>
      launch(
        pinning.server,
        process.execPath,
        [...serverNodeFlags, path.join(built, 'bench/bare-http-server.js'), String(port), answer, String(processes)],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      ),
    ready: async (_child, port) => {
      await pollReady(port);
      if (processes > 1) await pause(2000);
    },
  };
}

/**
 * `standard`: uvloop + httptools, what `uvicorn[standard]` installs and deployments use; `asyncio`: uvicorn's pure
 * Python fallback (asyncio + h11), what a bare `pip install uvicorn` gives.
 */
function fastapiServer(
  python: string,
  record: { transform: string; model: string },
  workers: number,
  stack: 'standard' | 'asyncio',
): ServerSpec {
  const loop =
    stack === 'asyncio' ? ['--loop', 'asyncio', '--http', 'h11'] : ['--loop', 'uvloop', '--http', 'httptools'];
  return {
    name: `fastapi-${workers}${stack === 'asyncio' ? '-asyncio' : ''}`,
    start: (port) =>
      launch(
        pinning.server,
        python,
        [
          '-m',
          'uvicorn',
          'fastapi_server:app',
          '--app-dir',
          'bench',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
        ].concat(['--workers', String(workers), '--log-level', 'warning', '--no-access-log', ...loop]),
        {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            // Where the Python packages were installed with --target (the device machine's run).
            ...(process.env.PYTHONPATH ? { PYTHONPATH: process.env.PYTHONPATH } : {}),
            MODEL_ONNX: record.model,
            TRANSFORM_JSON: record.transform,
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      ),
    ready: async (_child, port) => {
      await pollReady(port);
      // uvicorn's workers start independently; give the later ones time to import and load the model.
      if (workers > 1) await pause(3000);
    },
  };
}

async function pollReady(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await pause(100);
  }
  throw new Error(`nothing ready on port ${port}`);
}

/** Every server must answer the payload as the in-process Predictor does (same transform, same model). */
async function checkParity(url: string, body: string, expected: Prediction[]): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const { predictions } = (await response.json()) as { predictions: Prediction[] };
  expected.forEach((want, i) => {
    const got = predictions[i]!;
    const close = Object.entries(want.probabilities).every(([k, p]) => Math.abs(got.probabilities[k]! - p) < 1e-5);
    if (got.label !== want.label || !close)
      throw new Error(`${url} answered ${JSON.stringify(got)} for row ${i}, the Predictor ${JSON.stringify(want)}`);
  });
}

let perThread = false;

async function drive(
  spec: ServerSpec,
  built: string,
  seconds: number,
  rows: number,
  expected: Prediction[],
): Promise<Load> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  const answer = path.join(scratch, `answer-${rows}.json`);
  fs.writeFileSync(
    answer,
    JSON.stringify({ predictions: expected, deployedModelId: '1', model: 'churn', modelVersionId: '1' }),
  );
  const child = spec.start(port, answer);
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await spec.ready(child, port);
    const bodyFile = path.join(scratch, `body-${rows}.json`);
    fs.writeFileSync(bodyFile, JSON.stringify({ instances: rowsOf(rows) }));
    const url = `http://127.0.0.1:${port}/v1/models/churn:predict`;
    await checkParity(url, fs.readFileSync(bodyFile, 'utf8'), expected);
    const generator = launch(
      pinning.generator,
      process.execPath,
      [path.join(built, 'bench/serving-load.js'), url, bodyFile, '16', String(seconds)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let cpuBefore = 0;
    let threadsBefore: ThreadTicks = new Map();
    let generatorBefore: ThreadTicks = new Map();
    for await (const line of readline.createInterface({ input: generator.stdout! })) {
      if (line.includes('"phase"')) {
        cpuBefore = treeCpuSeconds(child.pid!);
        if (perThread) {
          threadsBefore = treeThreadTicks(child.pid!);
          generatorBefore = treeThreadTicks(generator.pid!);
        }
        continue;
      }
      const load = JSON.parse(line) as Load;
      // Server CPU (every process and thread of it) per request: less sensitive than throughput to what else runs.
      load.serverCpuUs = ((treeCpuSeconds(child.pid!) - cpuBefore) / load.requests) * 1e6;
      if (perThread) {
        console.log(
          `  ${spec.name}, us of CPU / us waiting for a CPU, per request, by thread: ${threadShares(threadsBefore, treeThreadTicks(child.pid!), load.requests)}`,
        );
        console.log(
          `  the load generator: ${threadShares(generatorBefore, treeThreadTicks(generator.pid!), load.requests)}`,
        );
      }
      return load;
    }
    throw new Error('the load generator exited without a result');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const fmt = (l: Load) =>
  `${l.rps.toFixed(0)} req/s, p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms, server CPU ${l.serverCpuUs?.toFixed(0)} us/request, generator ${(l.generatorCpu * 100).toFixed(0)}% of a core${l.errors ? `, ${l.errors} ERRORS` : ''}${l.reconnects ? `, ${l.reconnects} reconnects` : ''}`;

async function main() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      rows: { type: 'string', default: '1,64' },
      only: { type: 'string' },
      threads: { type: 'boolean', default: false },
      store: { type: 'string' },
      python: { type: 'string' },
      prepare: { type: 'string' },
      'server-cpus': { type: 'string' },
      'generator-cpus': { type: 'string' },
    },
  });
  perThread = values.threads;
  pinning.server = values['server-cpus'];
  pinning.generator = values['generator-cpus'];
  const seconds = Number(values.seconds);
  if (values.prepare) return prepare(values.prepare);
  const store = values.store ? new LocalArtifactStore(values.store) : await churnStore(scratch);
  const record = await resolveAlias(store, 'churn', 'production');
  const files = { transform: store.localPath(record.transformUri), model: store.localPath(record.modelUri) };
  // Run compiled (the device machine's run), the code beside this file is what is measured.
  const built = __filename.endsWith('.js') ? path.resolve(__dirname, '..') : compile();
  const python =
    values.python ??
    execFileSync('bash', ['bench/setup-python-serving.sh'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const specs = [
    nodeServer(built, store.root, 1, true),
    nodeServer(built, store.root, 1, false),
    nodeServer(built, store.root, 2, true),
    nodeServer(built, store.root, 2, false),
    nodeServer(built, store.root, 1, true, false),
    nodeServer(built, store.root, 2, true, false),
    bareServer(built, 1),
    bareServer(built, 2),
    fastapiServer(python, files, 1, 'standard'),
    fastapiServer(python, files, 2, 'standard'),
    fastapiServer(python, files, 1, 'asyncio'),
    fastapiServer(python, files, 2, 'asyncio'),
  ].filter((s) => !values.only || values.only.split(',').includes(s.name));
  const load = os.loadavg().map((l) => l.toFixed(1));
  console.log(`node ${process.version}, ${os.cpus()[0]?.model} × ${os.cpus().length}, load average ${load.join(' ')}`);
  if (pinning.server || pinning.generator)
    console.log(`servers on CPUs ${pinning.server ?? 'any'}, the load generator on CPUs ${pinning.generator ?? 'any'}`);
  const summary: Record<string, unknown> = {};
  for (const rows of values.rows.split(',').map(Number)) {
    const { expected, ...ip } = await inProcess(built, store, seconds, rows);
    console.log(
      `${rows} row(s): in-process loop ${ip.loop.toFixed(0)} req/s (${ip.loopCpuUs.toFixed(0)} us CPU each), raw session.run ${ip.raw.toFixed(0)} calls/s`,
    );
    summary[`${rows}:in-process`] = ip;
    for (const spec of specs) {
      const result = await drive(spec, built, seconds, rows, expected);
      const cpuRatio = result.serverCpuUs ? ` (CPU: ${(ip.loopCpuUs / result.serverCpuUs).toFixed(2)})` : '';
      console.log(
        `${rows} row(s): ${spec.name} ${fmt(result)}; ÷ in-process ${(result.rps / ip.loop).toFixed(2)}${cpuRatio}`,
      );
      summary[`${rows}:${spec.name}`] = result;
    }
  }
  console.log(JSON.stringify({ loadAfter: os.loadavg(), summary }));
}

/**
 * The churn model, built by the tests' helper with the real activities (imported only here: the compiled runner on the
 * device machine is given a store instead). They need no Temporal server: only the stack's temp folder (where the
 * example data is staged) and an address that is never dialled.
 */
async function churnStore(under: string): Promise<LocalArtifactStore> {
  const { setStack } = await import('../test/support/stack');
  const { servedChurn } = await import('../test/support/served-model');
  const tmpRoot = fs.mkdtempSync(path.join(under, 'model-'));
  setStack({ tmpRoot, server: { address: '127.0.0.1:1', namespace: 'default' } } as never);
  return (await servedChurn()).store;
}

/**
 * `--prepare <dir>`: what a machine without the project's packages needs to run the benchmark: the model's store,
 * built under `<dir>` (its records hold absolute file URIs: the other machine unpacks `<dir>` at the same path; the
 * store's path is written to `<dir>/store-path`), and the compiled code (`<dir>/built`, this runner included).
 * bench/device-serving.sh adds Node and the packages the compiled code loads.
 */
async function prepare(dir: string): Promise<void> {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  const store = await churnStore(root);
  fs.writeFileSync(path.join(root, 'store-path'), store.localPath(store.root));
  compile(path.join(root, 'built'));
  console.log(`prepared ${root}: the store at ${store.localPath(store.root)}, the compiled code in built/`);
}

/**
 * Everything the run writes (the model's store with the servers' prediction logs, state folders, payloads): hundreds
 * of MB per run, removed when the run ends.
 */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-bench-'));
const cleanups: (() => void)[] = [() => fs.rmSync(scratch, { recursive: true, force: true })];

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanups.forEach((clean) => clean()));
