/**
 * The preprocessing spec's schema and the rules that need no data: checked by the `trainingPipeline` input schema at
 * workflow start (so every problem is reported at once) and again by the preprocessing activity. Only zod is imported
 * here, so workflow code may use it.
 */
import { z } from 'zod';
import { namesText } from './message-text';
import type { FeatureOptions, FeatureType, ImputeStrategy, PreprocessingSpec } from '../contracts/datasets';

/** A problem with one field of the spec; `path` is relative to the `preprocessing` field. */
export interface SpecProblem {
  path: (string | number)[];
  message: string;
}

const quantile = z.number().min(0).max(1);
const imputeStrategy = z.enum(['median', 'mean', 'most_frequent', 'constant']);
const impute = z.union(
  [
    imputeStrategy,
    z.object({ strategy: imputeStrategy, value: z.union([z.number().finite(), z.string()]).optional() }).strict(),
  ],
  { errorMap: () => ({ message: 'must be "median", "mean", "most_frequent", "constant" or { strategy, value }' }) },
);
const clip = z.union(
  [
    z.literal(false),
    z
      .object({ lower: quantile.optional(), upper: quantile.optional() })
      .strict()
      .superRefine((c, ctx) => {
        if (c.lower === undefined && c.upper === undefined)
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must set lower, upper or both' });
        else if (c.lower !== undefined && c.upper !== undefined && c.lower >= c.upper)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['lower'],
            message: `lower (${c.lower}) must be below upper (${c.upper})`,
          });
      }),
  ],
  { errorMap: () => ({ message: 'must be false or { lower, upper } with quantiles between 0 and 1' }) },
);
const optionShape = {
  impute: impute.optional(),
  clip: clip.optional(),
  standardize: z.boolean().optional(),
  encoding: z.enum(['onehot', 'ordinal']).optional(),
  maxCategories: z.number().int().min(1).max(1000).optional(),
};
const featureType = z.enum(['numeric', 'categorical']);

function typedOptions(type: FeatureType) {
  return z
    .object(optionShape)
    .strict()
    .superRefine((o, ctx) => addProblems(ctx, optionProblems(o, type)));
}

const featureSpec = z
  .object({ type: featureType.optional(), ...optionShape })
  .strict()
  .superRefine((f, ctx) => addProblems(ctx, f.type ? optionProblems(f, f.type) : imputeProblems(f)));

const featureDefaultsDoc = 'Settings for every feature of that type (the options of `preprocessing.features.<name>`).';

export const preprocessingSpecSchema = z
  .object({
    dedupe: z
      .boolean()
      .optional()
      .describe(
        'Drop rows identical in every column before splitting, keeping the first by file row number. @default `false`',
      ),
    stratify: z
      .boolean()
      .optional()
      .describe(
        'Classification only: split each class separately, so each split keeps the class proportions. @default `false`',
      ),
    maxClasses: z
      .number()
      .int()
      .min(2)
      .max(1000)
      .optional()
      .describe(
        'Classification only: the most classes a target may have; a target with more fails with ' +
          'MLOPS_ERR_DATA_TOO_MANY_CLASSES, which says to set `task`. @default `100`',
      ),
    defaults: z
      .object({
        numeric: typedOptions('numeric').optional().describe(featureDefaultsDoc),
        categorical: typedOptions('categorical').optional().describe(featureDefaultsDoc),
      })
      .strict()
      .optional(),
    features: z
      .record(z.string().min(1), featureSpec)
      .optional()
      .describe(
        'Settings of one feature of `features`: `type` (`numeric` or `categorical`, inferred from the column type), ' +
          '`impute` (`median`, `mean`, `most_frequent` or `{ "strategy": "constant", "value": … }`), `clip` (training ' +
          'quantiles `{ "lower": 0.01, "upper": 0.99 }`, numeric), `standardize` (numeric, default `true`), `encoding` ' +
          '(`onehot` or `ordinal`, categorical), `maxCategories` (categorical, default 50).',
      ),
  })
  .strict() satisfies z.ZodType<PreprocessingSpec>;

/** Problems of a feature's options for its (declared or inferred) type: options of the other type, wrong values. */
export function optionProblems(options: FeatureOptions, type: FeatureType): SpecProblem[] {
  const problems = imputeProblems(options);
  const strategy = imputeStrategyOf(options.impute);
  const value = typeof options.impute === 'object' ? options.impute.value : undefined;
  const wrongType = (path: string[], message: string) => problems.push({ path, message });
  if (type === 'numeric') {
    if (options.encoding !== undefined) wrongType(['encoding'], 'applies to categorical features only');
    if (options.maxCategories !== undefined) wrongType(['maxCategories'], 'applies to categorical features only');
    if (strategy === 'most_frequent')
      wrongType(
        ['impute'],
        '"most_frequent" applies to categorical features; numeric ones take median, mean or constant',
      );
    if (typeof value === 'string') wrongType(['impute', 'value'], 'must be a number for a numeric feature');
    return problems;
  }
  if (options.clip) wrongType(['clip'], 'applies to numeric features only');
  if (options.standardize !== undefined) wrongType(['standardize'], 'applies to numeric features only');
  if (strategy === 'median' || strategy === 'mean')
    wrongType(['impute'], `"${strategy}" applies to numeric features; categorical ones take most_frequent or constant`);
  if (typeof value === 'number') wrongType(['impute', 'value'], 'must be a string for a categorical feature');
  return problems;
}

function imputeProblems(options: FeatureOptions): SpecProblem[] {
  const strategy = imputeStrategyOf(options.impute);
  const value = typeof options.impute === 'object' ? options.impute.value : undefined;
  if (strategy === 'constant' && value === undefined)
    return [{ path: ['impute'], message: 'constant imputation needs a value: { "strategy": "constant", "value": … }' }];
  if (strategy !== 'constant' && value !== undefined)
    return [{ path: ['impute', 'value'], message: 'is only used with strategy "constant"' }];
  return [];
}

/** The strategy of an `impute` setting, whichever form it takes. */
export function imputeStrategyOf(imputeSpec: FeatureOptions['impute']): ImputeStrategy | undefined {
  return typeof imputeSpec === 'object' ? imputeSpec.strategy : imputeSpec;
}

/** Rules that need the rest of the pipeline input: the task, the target and the feature list. */
export function specContextProblems(
  spec: PreprocessingSpec,
  context: { task?: 'classification' | 'regression'; target: string; features?: string[] },
): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (spec.stratify && context.task === 'regression')
    problems.push({ path: ['stratify'], message: 'stratification needs a classification task (task is "regression")' });
  for (const name of Object.keys(spec.features ?? {})) {
    if (name === context.target)
      problems.push({ path: ['features', name], message: `is the target "${context.target}", not a feature` });
    else if (context.features && !context.features.includes(name))
      problems.push({
        path: ['features', name],
        message: `is not one of the features (pipeline field "features"), which are ${namesText(context.features, 20)}`,
      });
  }
  return problems;
}

function addProblems(ctx: z.RefinementCtx, problems: SpecProblem[]): void {
  for (const p of problems) ctx.addIssue({ code: z.ZodIssueCode.custom, path: p.path, message: p.message });
}
