import { z } from 'zod';
import { preprocessingSpecSchema, specContextProblems } from './preprocessing-spec';
import { hyperparameterProblems } from './hyperparameters';
import { taskQueues } from './task-queues';

/**
 * Input of the `trainingPipeline` workflow. Validated once at workflow start; every invalid field is reported in one
 * non-retryable `MLOPS_ERR_PIPELINE_INPUT_INVALID` failure. Defaults live here and nowhere else.
 */
export const trainingPipelineInputSchema = z
  .object({
    /** Registered model name: lowercase letters, digits and dashes. */
    modelName: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, starting with a letter'),
    dataset: z
      .object({
        /** Local path, `file://`, `https://` or `gs://` URI of the source data. */
        uri: z.string().min(1, 'must name a file or URI'),
        /** Format; inferred from the extension when absent. */
        format: z.enum(['csv', 'parquet', 'jsonl']).optional(),
      })
      .strict(),
    /** Column to predict. */
    target: z.string().min(1),
    /** Feature columns; all columns but the target when absent. */
    features: z.array(z.string().min(1)).min(1).optional(),
    /**
     * What to predict; inferred from the target when absent (docs/pipeline-input.md, "Task inference"): a numeric
     * target with a fractional value or more than 20 distinct values is regression, any other target classification.
     */
    task: z.enum(['classification', 'regression']).optional(),
    split: z
      .object({
        testFraction: z.number().gt(0).lt(0.9).default(0.2),
        validationFraction: z.number().gt(0).lt(0.9).default(0.1),
        seed: z.number().int().min(0).default(42),
      })
      .strict()
      .refine((s) => s.testFraction + s.validationFraction < 0.9, 'testFraction + validationFraction must be below 0.9')
      .default({}),
    /** Deduplication, stratification and per-feature settings (docs/preprocessing.md); absent: every default. */
    preprocessing: preprocessingSpecSchema.optional(),
    /** Where profiling and preprocessing run: `duckdb` (embedded, the default) or `bigquery` (the pipeline worker
     *  needs MLOPS_GCP_PROJECT and MLOPS_BIGQUERY_DATASET; docs/preprocessing.md, "BigQuery"). */
    warehouse: z.enum(['duckdb', 'bigquery']).optional(),
    trainer: z
      .object({
        /** `builtin-linear`: the project's own linear/logistic model (Node); `torch-tabular`: the PyTorch reference
         *  trainer; `command`: your own trainer following docs/trainer-contract.md. */
        kind: z.enum(['builtin-linear', 'torch-tabular', 'command']).default('builtin-linear'),
        /** argv of your trainer, for kind `command`. */
        command: z.array(z.string().min(1)).min(1).optional(),
        hyperparameters: z.record(z.union([z.number(), z.string(), z.boolean()])).default({}),
        /** `local`: a trainer process on a training worker; `vertex`: a Vertex AI CustomJob. */
        backend: z.enum(['local', 'vertex']).default('local'),
        /** Vertex AI job settings (backend `vertex`); unset fields come from MLOPS_VERTEX_* configuration. */
        vertex: z
          .object({
            imageUri: z.string().min(1).optional(),
            command: z.array(z.string().min(1)).min(1).optional(),
            machineType: z.string().min(1).optional(),
            acceleratorType: z.string().min(1).optional(),
            acceleratorCount: z.number().int().min(0).max(16).optional(),
            pollSeconds: z.number().min(0.1).max(600).default(30),
          })
          .strict()
          .default({}),
        /** Task queue of the training workers to run on (a GPU pool). */
        taskQueue: z.string().min(1).default(taskQueues.training),
        /** Seconds without a progress line before the attempt is considered hung. */
        heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).default(120),
      })
      .strict()
      .refine((t) => t.kind !== 'command' || t.command !== undefined, {
        message: 'trainer.command is required when trainer.kind is "command"',
        path: ['command'],
      })
      .default({}),
    gate: z
      .object({
        /** Metric compared; must be one the evaluation reports for the task. */
        metric: z.enum(['accuracy', 'auc', 'f1', 'log_loss', 'rmse', 'mae', 'r2']).optional(),
        /** Improvement over the current champion (in the metric's units; lower-is-better handled) the challenger must
         *  exceed; with 0 any strictly positive improvement passes, and a tie never deploys. */
        minImprovement: z.number().min(0).default(0),
      })
      .strict()
      .default({}),
    /** Registry alias to point at the new version when it passes the gate. */
    deployAlias: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/)
      .default('production'),
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
    for (const p of input.preprocessing ? specContextProblems(input.preprocessing, input) : [])
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['preprocessing', ...p.path], message: p.message });
    // On Vertex AI the hyperparameters go to the image's own trainer, whatever trainer.kind says.
    if (input.trainer.backend === 'local' && input.trainer.kind !== 'command') {
      for (const p of hyperparameterProblems(input.trainer.kind, input.trainer.hyperparameters))
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
  outcome: 'deployed' | 'rejected';
  modelName: string;
  snapshotId: string;
  /** The task, as given or inferred from the target (absent in results of runs before task inference). */
  task?: 'classification' | 'regression';
  /** Registered version; absent when the gate rejected the challenger. */
  version?: number;
  metrics: Record<string, number>;
  gate: GateDecision;
  artifacts: { profile: string; report: string; transform: string; model: string; evaluation: string };
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
