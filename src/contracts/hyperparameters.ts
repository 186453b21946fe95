/**
 * The hyperparameters each built-in trainer accepts, with their defaults (docs/hyperparameters.md). The pipeline input
 * is checked against these at workflow start, so a mistyped key (`epoch`, `learning_rate` for `lr`) fails the run
 * before any data is read, with the list of valid keys. Only zod is imported here, so workflow code may use it.
 */
import { z } from 'zod';

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/** `builtin-linear`: logistic / linear regression trained with mini-batch Adam (src/trainers/linear-trainer.ts). */
export const linearHyperparametersSchema = z
  .object({
    /** Most passes over the training split; training stops earlier when the validation loss stops improving. */
    epochs: positiveInt(100_000).default(200),
    /** Epochs without a better validation loss before training stops (0: never stop early). */
    patience: z.number().int().min(0).max(100_000).default(10),
    /** Adam step size (features and a regression target are standardized, so one value suits most data). */
    learning_rate: z.number().gt(0).max(10).default(0.05),
    batch_size: positiveInt(1_000_000).default(64),
    /** L2 penalty on the weights (not the bias). */
    l2: z.number().min(0).max(100).default(1e-4),
    /** Sleep after each epoch; tests use it to interrupt a run mid-way. */
    epoch_delay_ms: z.number().int().min(0).max(600_000).default(0),
  })
  .strict();

/** The widths of `hidden_sizes` written as text ("64, 32"), a list or one number; undefined when it is none of them. */
function layerWidths(value: unknown): number[] | undefined {
  const widths =
    typeof value === 'string'
      ? /^\s*\d+(\s*,\s*\d+)*\s*$/.test(value)
        ? value.split(',').map(Number)
        : undefined
      : typeof value === 'number'
        ? [value]
        : Array.isArray(value)
          ? (value as unknown[])
          : undefined;
  if (!widths || widths.length === 0 || widths.length > 32) return undefined;
  return widths.every((w) => Number.isInteger(w) && (w as number) >= 1 && (w as number) <= 65_536)
    ? (widths as number[])
    : undefined;
}

/** `torch-tabular`: the PyTorch MLP in trainers/torch-tabular/train.py (its DEFAULTS must match these). */
export const torchHyperparametersSchema = z
  .object({
    /** Hidden layer widths: "64,32", [64, 32], or one number for one layer. */
    hidden_sizes: z
      .custom<string | number | number[]>((value) => layerWidths(value) !== undefined, {
        message:
          'must be hidden layer widths such as "64,32", [64, 32] or 64: whole numbers from 1 to 65536, at most 32 layers',
      })
      .default('64,32'),
    dropout: z.number().min(0).lt(1).default(0.1),
    lr: z.number().gt(0).max(10).default(3e-3),
    /** Most epochs; training stops earlier when the validation metric stops improving (see patience). */
    epochs: positiveInt(100_000).default(300),
    /** Epochs without a better validation metric before training stops (0: never stop early). */
    patience: z.number().int().min(0).max(100_000).default(25),
    batch_size: positiveInt(1_000_000).default(64),
    weight_decay: z.number().min(0).max(10).default(1e-4),
    checkpoint_every: positiveInt(100_000).default(1),
    /**
     * `false` makes the trainer skip model.onnx, which the pipeline needs: only for running the trainer by hand
     * (trainers/torch-tabular/README.md), so a pipeline input refuses it.
     */
    export_onnx: z
      .boolean()
      .refine((v) => v, {
        message:
          'false writes no model.onnx, which the pipeline evaluates and registers: leave it out (it is only for running the trainer by hand, trainers/torch-tabular/README.md)',
      })
      .default(true),
    num_classes: z.number().int().min(2).max(100_000).optional(),
  })
  .strict();

export type LinearHyperparameters = z.output<typeof linearHyperparametersSchema>;

export const builtinHyperparameterSchemas = {
  'builtin-linear': linearHyperparametersSchema,
  'torch-tabular': torchHyperparametersSchema,
} as const;

/** Problems with a built-in trainer's hyperparameters, each naming the key; unknown keys list the valid ones. */
export function hyperparameterProblems(
  kind: keyof typeof builtinHyperparameterSchemas,
  hyperparameters: Record<string, unknown>,
): { path: string[]; message: string }[] {
  const schema = builtinHyperparameterSchemas[kind];
  const parsed = schema.safeParse(hyperparameters);
  if (parsed.success) return [];
  const valid = Object.keys(schema.shape).join(', ');
  return parsed.error.issues.flatMap((issue) =>
    issue.code === z.ZodIssueCode.unrecognized_keys
      ? issue.keys.map((key) => ({
          path: [key],
          message: `is not a hyperparameter of the ${kind} trainer (valid: ${valid})`,
        }))
      : [{ path: issue.path.map(String), message: issue.message }],
  );
}
