/**
 * `npm run demo`: the whole loop on the embedded default, on one machine.
 *
 * Starts a real Temporal dev server (building the CLI once if needed), the pipeline and training workers, runs
 * `trainingPipeline` on the bundled churn dataset while printing each step, then serves the deployed version with the
 * model server (src/serving), sends it a few rows of the dataset and prints the answers and the playground URL. It
 * exits and stops everything it started, unless `--keep` is given: then the stack stays up (Web UI, workers, model
 * server) until Ctrl-C.
 *
 *   npm run demo [-- --keep] [-- --trainer torch-tabular] [-- --epochs 30]
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { readJson } from '../src/artifacts';
import { loadConfig } from '../src/config';
import type { MlopsConfig } from '../src/config';
import type { FittedTransform } from '../src/contracts/datasets';
import type { TrainingPipelineResult } from '../src/contracts/pipeline';
import type { TrainingProgress } from '../src/contracts/training';
import { taskQueues } from '../src/contracts/task-queues';
import type { Dependencies } from '../src/dependencies';
import { startLocalStack } from '../src/dev/local-stack';
import { resolveAlias } from '../src/registry/model-registry';
import { buildServer } from '../src/serving/app';
import { pipelineStatusQuery } from '../src/workflows/definitions';
import { trainingPipeline } from '../src/workflows';

const say = (line: string) => console.log(line);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      keep: { type: 'boolean', default: false },
      trainer: { type: 'string', default: 'builtin-linear' },
      epochs: { type: 'string', default: '30' },
    },
  });
  const config = loadConfig();
  const datasetPath = path.resolve('examples/churn.csv');
  say('temporal-mlops demo: data → profile → preprocess → train → evaluate → register → deploy\n');
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  const port = (await isFree(config.devServer.port)) ? config.devServer.port : 0;
  const uiPort = (await isFree(config.devServer.uiPort)) ? config.devServer.uiPort : 0;
  const stack = await startLocalStack({ env: process.env, port, uiPort, log: (line) => say(`  ${line}`) });
  const { client, server } = stack;
  let modelServer: FastifyInstance | undefined;
  try {
    const workflowId = `churn-demo-${new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(0, 14)}`;
    const handle = await client.workflow.start(trainingPipeline, {
      taskQueue: taskQueues.pipeline,
      workflowId,
      args: [
        {
          modelName: 'churn',
          dataset: { uri: datasetPath },
          target: 'churned',
          trainer: { kind: values.trainer, hyperparameters: { epochs: Number(values.epochs) } },
        },
      ],
    });
    say(`\nStarted workflow ${workflowId}\n`);
    const result = await followProgress(handle);
    printSummary(result, workflowId, server.uiUrl!, server.address);
    modelServer = await serveModel(stack.deps, config, datasetPath);
    if (values.keep) {
      say(
        '\nThe stack stays up (--keep): Web UI, dev server, workers and model server. Press Ctrl-C to stop everything.',
      );
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
  } finally {
    // Closing the model server drains its requests and writes the buffered prediction log.
    await modelServer?.close();
    await stack.stop();
    say(`\nStopped ${modelServer ? 'the model server, ' : ''}the workers and the dev server.`);
  }
}

/** Prints each step as it starts and ends (from the pipelineStatus query) and training progress (from heartbeats). */
async function followProgress(handle: WorkflowHandle<typeof trainingPipeline>): Promise<TrainingPipelineResult> {
  const done = handle.result();
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  const shown: Shown = { announced: 0, ended: new Set<number>(), epoch: -1 };
  while (!finished) {
    await printNewSteps(handle, shown);
    await Promise.race([done.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 400))]);
  }
  await printNewSteps(handle, shown);
  return done;
}

/** Steps already announced (by count) and ended (by index: steps side by side may end out of order). */
interface Shown {
  announced: number;
  ended: Set<number>;
  epoch: number;
}

async function printNewSteps(handle: WorkflowHandle, shown: Shown): Promise<void> {
  const status = await handle.query(pipelineStatusQuery).catch(() => undefined);
  if (!status) return;
  for (const [i, step] of status.steps.entries()) {
    if (i >= shown.announced && !step.endedAt && !['completed', 'rejected', 'failed', 'cancelled'].includes(step.stage))
      say(`  … ${step.stage}`);
    if (step.endedAt && !shown.ended.has(i))
      say(`  ✓ ${step.stage.padEnd(13)} ${step.summary ?? ''}${step.reused ? ' (reused stored result)' : ''}`);
  }
  shown.announced = status.steps.length;
  status.steps.forEach((s, i) => s.endedAt && shown.ended.add(i));
  if (status.stage === 'training') shown.epoch = await printTraining(handle, shown.epoch);
}

async function printTraining(handle: WorkflowHandle, lastEpoch: number): Promise<number> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities?.[0];
  const payload = pending?.heartbeatDetails?.payloads?.[0]?.data;
  if (!payload) return lastEpoch;
  const progress = JSON.parse(Buffer.from(payload).toString('utf8')) as TrainingProgress;
  if (progress.epoch === lastEpoch) return lastEpoch;
  say(
    `      epoch ${progress.epoch}/${progress.epochs ?? '?'}  loss ${progress.loss?.toFixed(4)}  validation ${progress.metric} ${progress.value?.toFixed(4)}`,
  );
  return progress.epoch;
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
  say('\nWhere to look:');
  say(`  Web UI (this run):  ${uiUrl}/namespaces/default/workflows/${workflowId}`);
  say(`  Workflow id:        ${workflowId}`);
  say(`  Data report:        ${result.artifacts.report}`);
  say(`  Evaluation:         ${result.artifacts.evaluation}`);
  say(`  CLI:                temporal workflow describe --address ${address} --workflow-id ${workflowId}`);
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
    predictionLog: config.serve.predictionLog ?? undefined,
  });
  const port = (await isFree(config.serve.port)) ? config.serve.port : 0;
  const url = (await app.listen({ host: '127.0.0.1', port })).replace('[::1]', '127.0.0.1');
  const version = await resolveAlias(deps.store, 'churn', config.serve.alias);
  const transform = await readJson<FittedTransform>(deps.store, version.transformUri);
  const instances = sampleInstances(csv, transform, 3);
  const response = await fetch(`${url}/v1/models/churn:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
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
  say(`  Playground:         ${url}/playground`);
  say(`  Predict:            curl -s ${url}/v1/models/churn:predict -H 'content-type: application/json' -d @rows.json`);
  say(`  Metrics:            ${url}/metrics`);
  return app;
}

/** The first `n` rows of the CSV as raw instances: numbers for numeric features, text for the others, "" as null. */
function sampleInstances(csv: string, transform: FittedTransform, n: number): Record<string, unknown>[] {
  const [header, ...rows] = fs
    .readFileSync(csv, 'utf8')
    .split('\n')
    .slice(0, n + 1);
  const names = header!.split(',');
  return rows.map((line) => {
    const cells = line.split(',');
    const instance: Record<string, unknown> = {};
    for (const feature of transform.features) {
      const cell = cells[names.indexOf(feature.name)] ?? '';
      instance[feature.name] = cell === '' ? null : feature.kind === 'numeric' ? Number(cell) : cell;
    }
    return instance;
  });
}

async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
