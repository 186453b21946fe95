/**
 * Orchestration overhead of training through the pipeline vs running the same trainer directly.
 *
 *   npx tsx bench/training-overhead.ts [--rows 250000] [--epochs 60] [--repeats 3]
 *
 * Both sides train the built-in linear trainer on the same preprocessed splits with the same flags:
 *   direct   — the trainer process, spawned by this script;
 *   pipeline — trainingPipeline on a real Temporal dev server with real workers (ingest, profile and preprocess reuse
 *              their stored outputs, so the run is training + evaluation + registration + deployment).
 * Runs alternate (direct, pipeline, direct, …) and the medians are compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { TrainingPipelineInput } from '../src/contracts/pipeline';
import { generateChurnCsv } from '../src/data/churn-generator';
import { startLocalStack } from '../src/dev/local-stack';
import { createPipelineActivities } from '../src/activities';
import { trainerCommand } from '../src/trainers/trainer-commands';
import { trainerContractFlags } from '../src/trainers/contract-flags';
import { pipelineStatusQuery } from '../src/workflows/definitions';
import { trainingPipeline } from '../src/workflows';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '250000' },
      epochs: { type: 'string', default: '60' },
      repeats: { type: 'string', default: '3' },
    },
  });
  const epochs = Number(values.epochs);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-bench-'));
  // In the state folder's data/, a data root by default (the source must be inside one).
  fs.mkdirSync(path.join(tmp, 'data'));
  const csv = path.join(tmp, 'data', 'churn.csv');
  fs.writeFileSync(csv, [...generateChurnCsv({ rows: Number(values.rows), seed: 11 })].join('\n') + '\n');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await startLocalStack({ env: { ...process.env, MLOPS_STATE_DIR: tmp }, port: 0, uiPort: false });
  const { client, config: workerConfig, deps } = stack;
  const input: TrainingPipelineInput = {
    modelName: 'bench',
    dataset: { uri: csv },
    target: 'churned',
    trainer: { hyperparameters: { epochs } },
  };
  try {
    // Prepare the splits once (and warm every code path) with a short run.
    await client.workflow.execute(trainingPipeline, {
      taskQueue: 'mlops-pipeline',
      workflowId: 'bench-warmup',
      args: [{ ...input, trainer: { hyperparameters: { epochs: 1 } } }],
    });
    const activities = createPipelineActivities(deps);
    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    const prepared = await activities.preprocessDataset({
      ...snapshot,
      target: 'churned',
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 },
    });
    const flags = (out: string) =>
      trainerContractFlags({
        train: prepared.trainUri,
        validation: prepared.validationUri,
        transform: prepared.transformUri,
        output: `file://${out}`,
        task: 'classification',
        labelColumn: prepared.labelColumn,
        featureColumns: prepared.featureColumns,
        hyperparameters: { epochs },
        seed: 42,
      });
    const direct: number[] = [];
    const piped: number[] = [];
    const trainingStep: number[] = [];
    for (let i = 0; i < Number(values.repeats); i++) {
      const out = path.join(tmp, `direct-${i}`);
      let t = performance.now();
      const result = spawnSync(
        trainerCommand(workerConfig, 'builtin-linear')[0]!,
        [...trainerCommand(workerConfig, 'builtin-linear').slice(1), ...flags(out)],
        { stdio: 'ignore' },
      );
      if (result.status !== 0) throw new Error(`direct trainer run failed: ${result.status}`);
      direct.push((performance.now() - t) / 1000);

      t = performance.now();
      const handle = await client.workflow.start(trainingPipeline, {
        taskQueue: 'mlops-pipeline',
        workflowId: `bench-${i}`,
        args: [input],
      });
      await handle.result();
      piped.push((performance.now() - t) / 1000);
      const step = (await handle.query(pipelineStatusQuery)).steps.find((s) => s.stage === 'training')!;
      trainingStep.push((Date.parse(step.endedAt!) - Date.parse(step.startedAt)) / 1000);
      console.log(
        `run ${i + 1}: direct ${direct.at(-1)!.toFixed(2)} s, pipeline ${piped.at(-1)!.toFixed(2)} s (training step ${trainingStep.at(-1)!.toFixed(2)} s)`,
      );
    }
    const d = median(direct);
    const p = median(piped);
    const s = median(trainingStep);
    const summary = {
      machine: `${os.cpus()[0]?.model} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      temporalCli: execFileSync(stack.cliPath, ['--version'], { encoding: 'utf8' }).trim(),
      rows: Number(values.rows),
      epochs,
      repeats: Number(values.repeats),
      directSeconds: d,
      pipelineSeconds: p,
      trainingStepSeconds: s,
      pipelineOverheadPercent: (p / d - 1) * 100,
      trainingStepOverheadPercent: (s / d - 1) * 100,
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await stack.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
