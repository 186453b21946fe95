import { z } from 'zod';
import { mlopsError } from '../errors';
import type { DataWarning, FeatureWarning, LeftOutColumn, SnapshotWarning } from './datasets';
import { hyperparameterProblems } from './hyperparameters';
import { preprocessingSpecSchema, specContextProblems } from './preprocessing-spec';
import { taskQueues } from './task-queues';

/**
 * Metrics where a lower value is better: the gate flips its comparison for these, and for the live metric a value
 * above the evaluation's is the drop.
 */
export const lowerIsBetter: ReadonlySet<string> = new Set(['log_loss', 'rmse', 'mae']);

/** Registry model names: lowercase letters, digits and dashes, starting with a letter; 63 characters at most. */
export const modelNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
/** What a name failing {@link modelNamePattern} is told. */
export const modelNameRule =
  'must be a registry model name (lower-case letters, digits and "-", starting with a letter)';
/** Registry aliases: as model names, 32 characters at most. */
export const aliasPattern = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Input of the `trainingPipeline` workflow. Validated once at workflow start; every invalid field is reported in one
 * non-retryable `MLOPS_ERR_PIPELINE_INPUT_INVALID` failure. Defaults live here and nowhere else. Each field's
 * `.describe()` text is its row in docs/pipeline-input.md (`npm run docs`); a trailing `@default …` gives the default
 * column where the default is not a value in the schema.
 */
export const trainingPipelineInputSchema = z
  .object({
    modelName: z
      .string()
      .regex(modelNamePattern, 'must be lowercase letters, digits and dashes, starting with a letter')
      .describe('Registry name: lowercase letters, digits and dashes, starting with a letter.'),
    dataset: z
      .object({
        uri: z
          .string()
          .min(1, 'must name a file or URI')
          .describe(
            "A local path (relative to the pipeline worker's directory), `file://`, `http(s)://`, " +
              '`gs://bucket/object` or `bq://` (BigQuery table or query) URI; see [security.md](security.md) for ' +
              'where a pipeline may read from.',
          ),
        format: z
          .enum(['csv', 'parquet', 'jsonl'])
          .optional()
          .describe('`csv`, `parquet` or `jsonl`. @default from the extension'),
      })
      .strict(),
    target: z.string().min(1).describe('The column to predict.'),
    features: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Feature columns. Numeric columns are imputed with the training median and standardized; others are ' +
          'one-hot encoded (the 50 most frequent training categories, plus an unknown bucket). Date and time columns, ' +
          'nested ones (lists, structs, maps), binary ones and JSON Lines keys whose values are of several kinds ' +
          'cannot be features ' +
          '(derive numbers or text from them in the data). ' +
          '@default all other columns but those (the result lists them as leftOut, with the reason)',
      ),
    task: z
      .enum(['classification', 'regression'])
      .optional()
      .describe(
        '`classification` or `regression`. Left out, it is inferred from the target: a numeric target with a ' +
          'fractional value or more than 20 distinct values is regression, any other target classification; the ' +
          'result and the `pipelineStatus` query show the task used. @default inferred',
      ),
    split: z
      .object({
        testFraction: z
          .number()
          .gt(0)
          .lt(0.9)
          .default(0.2)
          .describe(
            'Share of rows held out for the test split; with `validationFraction` below 0.9. The split is a hash of ' +
              'the row number and the seed, so it is reproducible.',
          ),
        validationFraction: z
          .number()
          .gt(0)
          .lt(0.9)
          .default(0.1)
          .describe('Share of rows held out for the validation split; with `testFraction` below 0.9.'),
        seed: z.number().int().min(0).default(42).describe('Seed of the split and of the trainer.'),
      })
      .strict()
      .refine((s) => s.testFraction + s.validationFraction < 0.9, 'testFraction + validationFraction must be below 0.9')
      .default({}),
    preprocessing: preprocessingSpecSchema
      .optional()
      .describe(
        'Declarative preprocessing (deduplication, stratification, per-feature settings). Every field is optional. ' +
          '@default the defaults in [preprocessing.md](preprocessing.md)',
      ),
    warehouse: z
      .enum(['duckdb', 'bigquery'])
      .optional()
      .describe(
        'Where profiling and preprocessing run: `duckdb` (embedded, on the pipeline worker) or `bigquery` (the ' +
          'snapshot is staged into the BigQuery dataset `MLOPS_BIGQUERY_DATASET`; the worker also needs ' +
          '`MLOPS_GCP_PROJECT`). See [preprocessing.md](preprocessing.md#bigquery). @default `duckdb`',
      ),
    trainer: z
      .object({
        kind: z
          .string()
          .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a trainer name: lowercase letters, digits and dashes')
          .refine((kind) => kind !== 'command', {
            message:
              'a workflow input names a trainer, never a command line: register yours on the training workers ' +
              '(MLOPS_TRAINERS) and give its name here',
          })
          .default('builtin-linear')
          .describe(
            "`builtin-linear` (the project's logistic/linear model, in Node), `torch-tabular` (the PyTorch reference " +
              'trainer in `trainers/`), or the name of a trainer the training workers register in `MLOPS_TRAINERS` ' +
              '(see [trainer-contract.md](trainer-contract.md)); a name they do not register fails the training step ' +
              'with `MLOPS_ERR_TRAIN_TRAINER_UNKNOWN`, listing the registered names.',
          ),
        hyperparameters: z
          .record(z.union([z.number(), z.string(), z.boolean()]))
          .default({})
          .describe(
            'Passed to the trainer as JSON. For `builtin-linear` and `torch-tabular` (backend `local`) every key is ' +
              "checked at input validation against the trainer's schema: an unknown key (`epoch`, `learning_rate` " +
              'for `lr`) or a bad value fails the run with `MLOPS_ERR_PIPELINE_INPUT_INVALID`, listing the valid ' +
              'keys. Keys, defaults and ranges: [hyperparameters.md](hyperparameters.md).',
          ),
        backend: z
          .enum(['local', 'vertex'])
          .default('local')
          .describe('`local`: a trainer process on a training worker; `vertex`: a Vertex AI CustomJob.'),
        vertex: z
          .object({
            imageUri: z
              .string()
              .min(1)
              .optional()
              .describe('Trainer container image. @default `MLOPS_VERTEX_IMAGE_URI`'),
            command: z
              .array(z.string().min(1))
              .min(1)
              .optional()
              .describe(
                "argv run in the container, replacing the image's entrypoint; the contract's flags are its arguments. " +
                  "@default the image's entrypoint",
              ),
            machineType: z
              .string()
              .min(1)
              .optional()
              .describe('Machine type of the worker pool. @default `MLOPS_VERTEX_MACHINE_TYPE`'),
            acceleratorType: z
              .string()
              .min(1)
              .optional()
              .describe('Accelerator type, e.g. `NVIDIA_TESLA_T4`. @default `MLOPS_VERTEX_ACCELERATOR_TYPE`'),
            acceleratorCount: z
              .number()
              .int()
              .min(0)
              .max(16)
              .optional()
              .describe('Accelerators per replica. @default `MLOPS_VERTEX_ACCELERATOR_COUNT`'),
            pollSeconds: z
              .number()
              .min(0.1)
              .max(600)
              .default(30)
              .describe("Seconds between checks of the job's state."),
          })
          .strict()
          .default({})
          .describe(
            'Vertex AI job settings, for backend `vertex`; unset fields come from the MLOPS_VERTEX_* configuration.',
          ),
        taskQueue: z
          .string()
          .min(1)
          .default(taskQueues.training)
          .describe(
            'Task queue of the training workers to run on (for example a pool of A100 machines): a training worker polls the queue its MLOPS_TRAINING_TASK_QUEUE names. With no worker on it, the training step waits there.',
          ),
        heartbeatTimeoutSeconds: z
          .number()
          .int()
          .min(5)
          .max(3600)
          .default(120)
          .describe(
            'A trainer that prints no progress line for this long is killed, and the attempt is retried from its ' +
              'last checkpoint.',
          ),
      })
      .strict()
      .default({}),
    gate: z
      .object({
        metric: z
          .enum(['accuracy', 'auc', 'f1', 'log_loss', 'rmse', 'mae', 'r2'])
          .optional()
          .describe(
            'Metric the challenger is judged on; one the evaluation reports for the task (with an inferred task, ' +
              'checked once preprocessing settles it, before training). ' +
              '@default `auc` (binary), `accuracy` (multi-class), `rmse` (regression)',
          ),
        minImprovement: z
          .number()
          .min(0)
          .default(0)
          .describe(
            "Improvement over the current champion the challenger must exceed, in the metric's units (direction-aware " +
              'for `rmse`, `mae`, `log_loss`); the champion is re-scored on the same test rows, so with 0 any strictly ' +
              'positive improvement passes and a tie never deploys. Without a champion the challenger must beat the ' +
              'trivial baseline. A pass judged on fewer than 100 test rows says so in its reason (chance wins often ' +
              "there), and so does one whose model takes other request fields than the champion's.",
          ),
      })
      .strict()
      .default({}),
    stepHeartbeatTimeoutSeconds: z
      .number()
      .int()
      .min(2)
      .max(600)
      .default(60)
      .describe(
        'Heartbeat timeout of the data, evaluation and registry steps: they heartbeat every few seconds while they ' +
          'run, so an attempt whose worker died (killed, lost machine, dropped completion) is retried on another ' +
          'worker after this long instead of after its 30-minute start-to-close timeout.',
      ),
    deployAlias: z
      .string()
      .regex(aliasPattern)
      .default('production')
      .describe('Registry alias that moves to the new version when it passes the gate.'),
    deploy: z
      .boolean()
      .default(true)
      .describe(
        'Whether a version that passes the gate is deployed (`deployAlias` moved to it). The model controller ' +
          'starts its retraining runs with `false`: they register the version (outcome `registered`) and the ' +
          'controller rolls it out by canary.',
      ),
    reportTo: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Workflow id of a model controller to signal (`retrainFinished`) when the run ends, whatever its outcome; ' +
          'set by the controller on its retraining runs. @default none',
      ),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.features?.includes(input.target)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['features'],
        message: `must not contain the target "${input.target}"`,
      });
    }
    for (const [i, name] of (input.features ?? []).entries()) {
      const first = input.features!.indexOf(name);
      if (first < i)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['features', i],
          message: `names "${name}" again (item ${first} names it): list each column once`,
        });
    }
    for (const p of input.preprocessing ? specContextProblems(input.preprocessing, input) : [])
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['preprocessing', ...p.path], message: p.message });
    // On Vertex AI the hyperparameters go to the image's own trainer, whatever trainer.kind says.
    const kind = input.trainer.kind;
    if (input.trainer.backend === 'local' && (kind === 'builtin-linear' || kind === 'torch-tabular')) {
      for (const p of hyperparameterProblems(kind, input.trainer.hyperparameters))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['trainer', 'hyperparameters', ...p.path],
          message: p.message,
        });
    }
    const regressionMetrics = ['rmse', 'mae', 'r2'];
    const metric = input.gate.metric;
    if (metric && input.task && (input.task === 'regression') !== regressionMetrics.includes(metric)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['gate', 'metric'],
        message: `"${metric}" is not a ${input.task} metric`,
      });
    }
  });

/** What callers send (defaults optional). */
export type TrainingPipelineInput = z.input<typeof trainingPipelineInputSchema>;
/** What the workflow works with after validation (defaults filled). */
export type TrainingPipelineSpec = z.output<typeof trainingPipelineInputSchema>;

export const pipelineStages = [
  'validating',
  'ingesting',
  'profiling',
  'preprocessing',
  'training',
  'evaluating',
  'registering',
  'deploying',
  'completed',
  'registered',
  'rejected',
  'failed',
  'cancelled',
] as const;
export type PipelineStage = (typeof pipelineStages)[number];

export interface StepRecord {
  stage: PipelineStage;
  /** Workflow time the step started and ended (ISO strings). */
  startedAt: string;
  endedAt?: string;
  /** True when the step's stored output was reused instead of recomputed. */
  reused?: boolean;
  /** Short human summary, e.g. "5000 rows, 9 columns". */
  summary?: string;
}

/** Answer of the `pipelineStatus` query. */
export interface PipelineStatus {
  modelName: string;
  stage: PipelineStage;
  steps: StepRecord[];
  snapshotId?: string;
  /** The task, as given or inferred from the target at preprocessing. */
  task?: 'classification' | 'regression';
  modelVersion?: number;
  /** Latest training heartbeat as reported by the training activity progress. */
  error?: string;
}

export interface TrainingPipelineResult {
  /** `registered`: passed the gate and registered, not deployed (input `deploy: false`). */
  outcome: 'deployed' | 'registered' | 'rejected';
  modelName: string;
  snapshotId: string;
  /** The task, as given or inferred from the target (absent in results of runs before task inference). */
  task?: 'classification' | 'regression';
  /** Registered version; absent when the gate rejected the challenger. */
  version?: number;
  metrics: Record<string, number>;
  gate: GateDecision;
  artifacts: { profile: string; report: string; transform: string; model: string; evaluation: string };
  /** Columns that are no features although no feature list left them out (date and time columns), and why. */
  leftOut?: LeftOutColumn[];
  /**
   * Problems in the data: from ingestion (a column with no values, a column name the reader changed), from profiling
   * (values spelled several ways), then features that will serve poorly, from preprocessing (e.g. an identifier whose
   * values mostly fall in the unknown bucket).
   */
  warnings?: (SnapshotWarning | DataWarning | FeatureWarning)[];
}

export interface GateDecision {
  passed: boolean;
  metric: string;
  challenger: number;
  champion?: number;
  championVersion?: number;
  reason: string;
}

/**
 * The task of a run as preprocessing settled it (given in the input, or inferred from the target). Preprocessing
 * results stored before inference existed carry no task; theirs is the input's, whose default was classification.
 */
export function settledTask(
  prepared: { task?: 'classification' | 'regression' },
  spec: { task?: 'classification' | 'regression' },
): 'classification' | 'regression' {
  return prepared.task ?? spec.task ?? 'classification';
}

/**
 * The input schema checks gate.metric against a task given in the input; an inferred task is only known once
 * preprocessing settled it, so preprocessing (before training) and evaluation check it then, instead of judging on a
 * metric never computed.
 */
export function checkGateMetric(input: { task: 'classification' | 'regression'; gate: { metric?: string } }): void {
  const metric = input.gate.metric;
  if (!metric || ['rmse', 'mae', 'r2'].includes(metric) === (input.task === 'regression')) return;
  throw mlopsError('MLOPS_ERR_PIPELINE_INPUT_INVALID', {
    workflow: 'trainingPipeline',
    problems: `- gate.metric: "${metric}" is not a ${input.task} metric (the task was inferred from the target; set task to choose it)`,
  });
}
