/**
 * `npm run demo`: the whole loop on the embedded default, on one machine.
 *
 * Starts a real Temporal dev server (building the CLI once if needed), the pipeline and training workers, runs
 * `trainingPipeline` on the bundled churn dataset while printing each step, then serves the deployed version with the
 * model server (src/serving), sends it a few rows of the dataset and prints the answers and the playground URL. It
 * exits and stops everything it started, unless `--keep` is given: then the stack stays up (Web UI, workers, model
 * server) until Ctrl-C.
 *
 * With `--loop` it then closes the loop (src/dev/closed-loop.ts): a model controller for the model, live traffic of
 * shifted customers, the monitoring Schedule triggered → drift → incident → one retraining child on the newest data →
 * gate → canary → promotion, and the server answering with the new version.
 *
 *   npm run demo [-- --keep] [-- --loop] [-- --trainer torch-tabular] [-- --epochs 30]   (--help: the options)
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config';
import type { MlopsConfig } from '../src/config';
import type { TrainingPipelineInput, TrainingPipelineResult } from '../src/contracts/pipeline';
import { taskQueues } from '../src/contracts/task-queues';
import type { Dependencies } from '../src/dependencies';
import { csvInstances, runClosedLoop } from '../src/dev/closed-loop';
import { startLocalStack } from '../src/dev/local-stack';
import { forcedStopExitCode, StopRequested, watchStopSignals } from '../src/dev/stop-signals';
import { isMlopsError } from '../src/errors';
import type { LocalStack } from '../src/dev/local-stack';
import type { FeatureSchema } from '../src/models/predictor';
import { buildServer } from '../src/serving/app';
import { followProgress } from '../src/dev/pipeline-progress';
import { trainingPipeline } from '../src/workflows';

const say = (line: string) => console.log(line);

const usage = `Usage: npm run demo [-- [--keep] [--loop] [--trainer builtin-linear|torch-tabular] [--epochs <n>]]

  --keep       leave the stack up (Web UI, workers, model server) until Ctrl-C
  --loop       then close the loop: controller, drifting traffic, monitoring, retrain, canary, promotion
  --trainer    the trainer of the churn model (default builtin-linear)
  --epochs     training epochs, a whole number from 1 to 100000 (default 30)

Environment: MLOPS_STATE_DIR (default .mlops), MLOPS_DEV_SERVER_PORT, MLOPS_DEV_UI_PORT, MLOPS_SERVE_PORT (README);
the workers read every other setting as the standalone ones do (docs/configuration.md), among them MLOPS_DATA_ROOTS
(the folders local datasets are read from) and MLOPS_TRAINERS (your own trainers, docs/trainer-contract.md).`;

/** The options, checked before anything starts; a mistake prints what is wrong and the usage (exit 2). */
function demoOptions() {
  const refuse = (reason: string): never => {
    console.error(`${reason}\n\n${usage}`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        keep: { type: 'boolean', default: false },
        loop: { type: 'boolean', default: false },
        trainer: { type: 'string', default: 'builtin-linear' },
        epochs: { type: 'string', default: '30' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return refuse((err as Error).message);
  }
  if (values.help) {
    say(usage);
    process.exit(0);
  }
  const epochs = Number(values.epochs);
  if (!/^\d+$/.test(values.epochs) || epochs < 1 || epochs > 100_000)
    refuse(`--epochs must be a whole number from 1 to 100000, got "${values.epochs}"`);
  if (values.trainer !== 'builtin-linear' && values.trainer !== 'torch-tabular')
    refuse(`--trainer must be builtin-linear or torch-tabular, got "${values.trainer}"`);
  return { ...values, epochs };
}

async function main(): Promise<void> {
  const values = demoOptions();
  // The loop's monitoring check reads the prediction log as soon as traffic has run: write it every second.
  const config = loadConfig(values.loop ? { MLOPS_SERVE_LOG_FLUSH_MS: '1000', ...process.env } : process.env);
  const datasetPath = path.resolve('examples/churn.csv');
  say('temporal-mlops demo: data → profile → preprocess → train → evaluate → register → deploy\n');
  // The demo handles Ctrl-C itself (src/dev/stop-signals.ts): the runtime's own handler would stop the workers and
  // leave a pipeline run being followed waiting forever.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
    shutdownSignals: [],
  });
  const signals = watchStopSignals(say);
  const port = await portOrFree(config.devServer.port, 'Temporal dev server', 'MLOPS_DEV_SERVER_PORT');
  const uiPort = await portOrFree(config.devServer.uiPort, 'Web UI', 'MLOPS_DEV_UI_PORT');
  const starting = startLocalStack({ env: process.env, port, uiPort, log: (line) => say(`  ${line}`) });
  const stack = await signals.race(starting).catch(async (err: unknown) => {
    // A stop asked for while the stack starts: let it finish starting, then stop all of it.
    if (err instanceof StopRequested)
      await starting.then(
        (started) => started.stop(),
        () => undefined,
      );
    throw err;
  });
  const { client, server } = stack;
  // The dev server dying under the demo (killed, crashed) ends it as a stop signal does, but as a failure that says so:
  // the workers would retry in silence, and a kept stack would claim to be up.
  const serverLost = server.unexpectedExit.then((err) => Promise.reject(err));
  serverLost.catch(() => undefined);
  const watch = <T>(work: Promise<T>) => signals.race(Promise.race([work, serverLost]));
  let modelServer: FastifyInstance | undefined;
  let pipelineEnded = false;
  let serverExited = false;
  const workflowId = `churn-demo-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}`;
  try {
    const training: TrainingPipelineInput = {
      modelName: 'churn',
      dataset: { uri: datasetPath },
      target: 'churned',
      trainer: { kind: values.trainer, hyperparameters: { epochs: values.epochs } },
    };
    const handle = await client.workflow.start(trainingPipeline, {
      taskQueue: taskQueues.pipeline,
      workflowId,
      args: [training],
    });
    say(`\nStarted workflow ${workflowId}\n`);
    const result = await watch(followProgress(handle, say));
    pipelineEnded = true;
    printSummary(result, workflowId, server.uiUrl!, server.address);
    modelServer = await serveModel(stack.deps, config, datasetPath);
    if (values.loop) await watch(closeTheLoop(stack, modelServer, training));
    if (values.keep) {
      say(
        '\nThe stack stays up (--keep): Web UI, dev server, workers and model server. Press Ctrl-C to stop everything.',
      );
      await Promise.race([signals.requested, serverLost]);
    }
  } catch (err) {
    serverExited = isMlopsError(err, 'MLOPS_ERR_DEV_SERVER_EXITED');
    if (serverExited) say(`\nThe Temporal dev server exited (${server.logFile}): stopping.`);
    if ((err instanceof StopRequested || serverExited) && !pipelineEnded)
      say(
        `Run ${workflowId} had not finished: it stays in the dev server's state (${server.dbFile}) and goes on when workers poll again (the next npm run demo).`,
      );
    throw err;
  } finally {
    try {
      // Closing the model server drains its requests and writes the buffered prediction log.
      await modelServer?.close();
    } finally {
      // Whatever the model server's close did: a dev server left running would hold its port and its state file.
      await stack.stop();
    }
    say(
      serverExited
        ? `\nStopped ${modelServer ? 'the model server and ' : ''}the workers (the dev server had exited).`
        : `\nStopped ${modelServer ? 'the model server, ' : ''}the workers and the dev server.`,
    );
    signals.dispose();
  }
}

function printSummary(result: TrainingPipelineResult, workflowId: string, uiUrl: string, address: string): void {
  const metrics = Object.entries(result.metrics)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
  say(
    `\nOutcome: ${result.outcome}${result.version ? ` (model "${result.modelName}" version ${result.version} is now "production")` : ''}`,
  );
  say(`Test metrics: ${metrics}`);
  say(`Gate: ${result.gate.reason}`);
  for (const w of result.warnings ?? []) say(`Warning: ${w.message}`);
  say('\nWhere to look:');
  say(`  Web UI (this run):  ${uiUrl}/namespaces/default/workflows/${workflowId}`);
  say(`  Workflow id:        ${workflowId}`);
  say(`  Data report:        ${result.artifacts.report}`);
  say(`  Evaluation:         ${result.artifacts.evaluation}`);
  say(`  CLI:                temporal workflow describe --address ${address} --workflow-id ${workflowId}`);
}

/** `--loop`: the controller, drifting traffic, the scheduled check, a retrain and its canary, on this stack. */
async function closeTheLoop(stack: LocalStack, app: FastifyInstance, training: TrainingPipelineInput): Promise<void> {
  const result = await runClosedLoop({
    client: stack.client,
    store: stack.deps.store,
    taskQueue: taskQueues.pipeline,
    modelName: 'churn',
    serverUrl: serverUrl(app),
    flushPredictionLog: async () => app.serving.log?.flush(),
    training,
    liveDataPath: path.join(stack.config.stateDir, 'data', 'churn-live.csv'),
    uiUrl: stack.server.uiUrl,
    say,
  });
  say(
    `\nLoop outcome: ${result.promoted ? `v${result.after} replaced v${result.before} as "production"` : `v${result.after} still serves (${result.ending})`}`,
  );
  say('\nWhere to look:');
  say(`  Controller:         ${stack.server.uiUrl}/namespaces/default/workflows/${result.controllerId}`);
  if (result.retrainId)
    say(`  Retraining child:   ${stack.server.uiUrl}/namespaces/default/workflows/${result.retrainId}`);
  say(
    `  Controller state:   temporal workflow query --address ${stack.server.address} --workflow-id ${result.controllerId} --name controllerStatus`,
  );
  say(`  Monitoring:         temporal schedule describe --address ${stack.server.address} --schedule-id monitor-churn`);
}

function serverUrl(app: FastifyInstance): string {
  const address = app.server.address();
  return typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : String(address);
}

/**
 * Serves the model's production deployment (the server follows the registry, so a later deploy swaps it in), sends it
 * the first rows of the dataset, and prints what answered and where the playground is.
 */
async function serveModel(deps: Dependencies, config: Readonly<MlopsConfig>, csv: string): Promise<FastifyInstance> {
  const app = await buildServer({
    store: deps.store,
    modelName: 'churn',
    alias: config.serve.alias,
    pollMs: config.serve.pollMs,
    limits: { bodyLimit: config.serve.bodyLimit, maxInstances: config.serve.maxInstances },
    requestTimeoutMs: config.serve.requestTimeoutMs,
    predictionLog: config.serve.predictionLog ?? undefined,
    apiKeys: config.serve.apiKeys,
  });
  const port = await portOrFree(config.serve.port, 'model server', 'MLOPS_SERVE_PORT');
  // With MLOPS_SERVE_API_KEYS set, the demo's server takes them as `npm run serve` does; its own requests send one.
  const [key] = config.serve.apiKeys;
  const url = (await app.listen({ host: '127.0.0.1', port })).replace('[::1]', '127.0.0.1');
  // The features of the version the server loaded (no second read of the registry).
  const instances = sampleInstances(csv, app.serving.slot.current!.predictor.features, 3);
  // Kept for the curl line below, so it runs as printed.
  const requestFile = path.join(config.stateDir, 'demo-request.json');
  fs.writeFileSync(requestFile, `${JSON.stringify({ instances }, null, 2)}\n`);
  const response = await fetch(`${url}/v1/models/churn:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify({ instances }),
  });
  const body = (await response.json()) as {
    modelVersionId?: string;
    predictions?: { label: string; probabilities: Record<string, number> }[];
  };
  say(`\nServing model "churn" version ${body.modelVersionId ?? '?'} at ${url} (HTTP ${response.status})`);
  for (const [i, p] of (body.predictions ?? []).entries()) {
    const probabilities = Object.entries(p.probabilities)
      .map(([label, value]) => `${label} ${value.toFixed(3)}`)
      .join(', ');
    say(`  row ${i + 1}: ${p.label.padEnd(6)} (${probabilities})`);
  }
  say(`  Playground:         ${url}/playground${key ? ' (type one of MLOPS_SERVE_API_KEYS into it)' : ''}`);
  // The key itself is not printed: the line names where it comes from.
  const auth = key ? ` -H "authorization: Bearer <one of MLOPS_SERVE_API_KEYS>"` : '';
  say(
    `  Predict:            curl -s ${url}/v1/models/churn:predict -H 'content-type: application/json'${auth} -d @${requestFile}`,
  );
  say(`  Metrics:            ${url}/metrics${key ? ' (with the key too)' : ''}`);
  return app;
}

/** The first `n` rows of the CSV as raw instances: numbers for numeric features, text for the others, "" as null. */
function sampleInstances(csv: string, features: readonly FeatureSchema[], n: number): Record<string, unknown>[] {
  const [header, ...rows] = fs
    .readFileSync(csv, 'utf8')
    .split('\n')
    .slice(0, n + 1);
  return csvInstances(header!, rows, features);
}

/**
 * The configured port, or 0 (a free one) when something else holds it, said aloud: commands run later (`npm run
 * models`, `npm run monitoring`, `temporal`) connect to the configured port, so they would reach that other process.
 */
async function portOrFree(port: number, what: string, variable: string): Promise<number> {
  if (await isFree(port)) return port;
  say(
    `Note: port ${port} (${variable}) is taken, so the ${what} takes a free port, printed below; commands that connect to ${port} by default reach whatever holds it, not this demo (pass the printed address, or stop the other process).`,
  );
  return 0;
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * The error and every cause under it: a failed workflow's own message says only that it failed, and the step's
 * catalogued error (with its fix) is its cause's cause.
 */
function failureText(err: unknown): string {
  const lines: string[] = [];
  for (let e: unknown = err; e !== undefined && lines.length < 5; e = (e as { cause?: unknown }).cause) {
    const message = e instanceof Error ? e.message : JSON.stringify(e);
    // A cause whose text an outer message already quotes adds nothing; nor does the SDK's "Activity task failed".
    if (message && message !== 'Activity task failed' && !lines.some((l) => l.includes(message))) lines.push(message);
    if (!(e instanceof Error)) break;
  }
  return lines.join('\n  caused by: ');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof StopRequested) process.exit(forcedStopExitCode);
    console.error(failureText(err));
    process.exit(1);
  },
);
