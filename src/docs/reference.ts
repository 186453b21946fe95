/** Renders the reference docs that must stay in step with the code (see scripts/docs.ts and test/docs.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { trainingPipelineInputSchema } from '../contracts/pipeline';
import { errorCatalogue } from '../errors';
import type { ErrorSpec } from '../errors';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderErrorsDoc(): string {
  const rows = Object.entries(errorCatalogue as Record<string, ErrorSpec>).map(
    ([code, spec]) =>
      `| \`${code}\` | ${spec.retryable ? 'yes' : 'no'} | ${spec.httpStatus ?? ''} | ${cell(spec.message)} | ${cell(spec.fix)} |`,
  );
  return `# Error catalogue

Every error temporal-mlops raises on purpose carries one of these codes: as the Temporal failure \`type\` (so workflows,
the CLI and the Web UI show it), at the start of the message, and in \`details[0].code\`. The message ends with the fix.
Non-retryable errors are raised with \`nonRetryable: true\`, so Temporal does not retry what cannot succeed; transient
faults (network, HTTP 5xx, a busy machine) are plain errors that Temporal retries under each step's retry policy.

Generated from \`src/errors.ts\` by \`npm run docs\`; \`test/docs.test.ts\` fails when the two differ.

| code | retryable | HTTP | message | how to fix |
|---|---|---|---|---|
${rows.join('\n')}
`;
}

interface ConfigField {
  name: string;
  doc: string;
}

/** Reads the TSDoc comment above each variable of `configSchema` in src/config.ts. */
function configFields(): ConfigField[] {
  const source = fs.readFileSync(path.resolve(__dirname, '..', 'config.ts'), 'utf8');
  const start = source.indexOf('export const configSchema');
  const schema = source.slice(start, source.indexOf('} as const;', start));
  const fields: ConfigField[] = [];
  const pattern = /\/\*\*\s*([\s\S]*?)\s*\*\/\s*\n\s*([A-Z_]+):/g;
  for (let match = pattern.exec(schema); match; match = pattern.exec(schema)) {
    fields.push({ name: match[2]!, doc: match[1]!.replace(/\s*\n\s*\*\s*/g, ' ').trim() });
  }
  return fields;
}

export function renderConfigurationDoc(): string {
  const rows = configFields().map(({ name, doc }) => {
    const [text, fallback] = doc.split(/\s*@default\s*/);
    return `| \`${name}\` | ${cell(text ?? '')} | ${cell(fallback ?? '')} |`;
  });
  return `# Configuration

All settings come from environment variables, read once by \`loadConfig()\` (\`src/config.ts\`) and validated together:
a bad value or an unknown \`MLOPS_*\` name stops the process with one \`MLOPS_ERR_CONFIG_INVALID\` error listing every
problem. The Temporal connection uses the SDK's environment configuration (\`TEMPORAL_ADDRESS\`, \`TEMPORAL_NAMESPACE\`,
\`TEMPORAL_API_KEY\`, \`TEMPORAL_TLS_*\`, \`TEMPORAL_PROFILE\`, or a \`temporal.toml\` profile); without an address the
dev server's \`127.0.0.1:MLOPS_DEV_SERVER_PORT\` is used.

Generated from \`src/config.ts\` by \`npm run docs\`; \`test/docs.test.ts\` fails when the two differ.

| variable | meaning | default |
|---|---|---|
${rows.join('\n')}

Other variables, read outside the configuration:

| variable | read by | meaning |
|---|---|---|
| \`GOOGLE_APPLICATION_CREDENTIALS\` | the Google Cloud clients | a service account key file; otherwise Application Default Credentials (docs/datasets.md, "Emulators") |
| \`CHROMIUM_PATH\` | \`npm test\` (setup, browser tests) | the Chromium the browser tests drive; default \`/usr/bin/chromium\` (Debian's package, installed when absent) |
| \`FAKE_GCS_SERVER_PATH\`, \`BIGQUERY_EMULATOR_PATH\` | \`npm test\` (setup, Cloud tests) | emulator binaries to use instead of building them from Go modules into the cache |
| \`UPDATE_SCREENSHOTS\` | the browser tests | \`1\` rewrites the screenshots under \`docs/\` |
`;
}

/** One row of the pipeline input table: a field path and what its schema says about it. */
export interface InputField {
  path: string;
  required: boolean;
  fallback: string;
  meaning: string;
}

/** A schema with its wrappers (optional, default, refinements) peeled off, and what they said. */
interface Peeled {
  core: z.ZodTypeAny;
  optional: boolean;
  defaultValue?: unknown;
  description?: string;
}

function peel(schema: z.ZodTypeAny): Peeled {
  const peeled: Peeled = { core: schema, optional: false, description: schema.description };
  for (;;) {
    const { core } = peeled;
    peeled.description ??= core.description;
    if (core instanceof z.ZodOptional) peeled.optional = true;
    else if (core instanceof z.ZodDefault) {
      peeled.optional = true;
      peeled.defaultValue ??= (core._def as { defaultValue: () => unknown }).defaultValue();
    } else if (!(core instanceof z.ZodEffects)) return peeled;
    peeled.core =
      (core._def as { innerType?: z.ZodTypeAny; schema?: z.ZodTypeAny }).innerType ??
      (core._def as { schema: z.ZodTypeAny }).schema;
  }
}

/** The object shape a field holds (directly, or as the value of a record), if any. */
function childShape(core: z.ZodTypeAny): { shape: z.ZodRawShape; prefix: string } | undefined {
  if (core instanceof z.ZodObject) return { shape: core.shape as z.ZodRawShape, prefix: '' };
  if (core instanceof z.ZodRecord) {
    const value = peel(core._def.valueType as z.ZodTypeAny).core;
    if (value instanceof z.ZodObject) return { shape: value.shape as z.ZodRawShape, prefix: '<name>.' };
  }
  return undefined;
}

/** True when at least one field of the shape carries a description, i.e. the fields are documented one by one. */
const documentsChildren = (shape: z.ZodRawShape) =>
  Object.values(shape).some((child) => peel(child).description !== undefined);

const defaultText = (value: unknown) => (typeof value === 'string' ? `\`${value}\`` : `\`${JSON.stringify(value)}\``);

/**
 * Walks an object schema: a described field is a row (its `@default …` suffix, or the schema's default value, fills the
 * default column); an object whose fields are described is walked into. A field that is neither fails, so no input
 * field goes undocumented.
 */
export function describeInputFields(shape: z.ZodRawShape, prefix = ''): InputField[] {
  return Object.entries(shape).flatMap(([name, schema]) => {
    const peeled = peel(schema);
    const children = childShape(peeled.core);
    // A record of objects is keyed by the user's names (preprocessing.features.<name>): the row is about one entry.
    const path = `${prefix}${name}${children?.prefix ? `.${children.prefix.slice(0, -1)}` : ''}`;
    const rows: InputField[] = [];
    if (peeled.description !== undefined) {
      const [meaning, fallback] = peeled.description.split(/\s*@default\s*/);
      const fromSchema = peeled.defaultValue === undefined ? '' : defaultText(peeled.defaultValue);
      rows.push({
        path,
        required: !peeled.optional,
        fallback: fallback?.trim() ?? fromSchema,
        meaning: meaning?.trim() ?? '',
      });
    }
    if (children && documentsChildren(children.shape))
      return [...rows, ...describeInputFields(children.shape, `${prefix}${name}.${children.prefix}`)];
    if (rows.length === 0) throw new Error(`pipeline input field "${path}" has no .describe() text`);
    return rows;
  });
}

const pipelineInputExample = {
  modelName: 'churn',
  dataset: { uri: 'examples/churn.csv' },
  target: 'churned',
  features: ['tenure_months', 'monthly_charges', 'contract'],
  task: 'classification',
  split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 },
  trainer: { kind: 'builtin-linear', hyperparameters: { epochs: 30 } },
  gate: { metric: 'auc', minImprovement: 0.005 },
  deployAlias: 'production',
};

/** JSON with one top-level field a line and everything below it inline, as a person would write the example. */
function exampleJson(value: Record<string, unknown>): string {
  const inline = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
    if (v && typeof v === 'object')
      return `{ ${Object.entries(v)
        .map(([k, x]) => `${JSON.stringify(k)}: ${inline(x)}`)
        .join(', ')} }`;
    return JSON.stringify(v);
  };
  const lines = Object.entries(value).map(([k, v]) => `  ${JSON.stringify(k)}: ${inline(v)}`);
  return `{\n${lines.join(',\n')}\n}`;
}

/** docs/pipeline-input.md: the `trainingPipeline` input, field by field, from `trainingPipelineInputSchema`. */
export function renderPipelineInputDoc(): string {
  // The example must stay a valid input: a schema change that breaks it fails `npm run docs` and the docs test.
  trainingPipelineInputSchema.parse(pipelineInputExample);
  const object = peel(trainingPipelineInputSchema).core as z.AnyZodObject;
  const rows = describeInputFields(object.shape as z.ZodRawShape).map(
    (f) => `| \`${f.path}\` | ${f.required ? 'yes' : 'no'} | ${cell(f.fallback)} | ${cell(f.meaning)} |`,
  );
  return `# \`trainingPipeline\` input

The workflow takes one JSON object. It is validated once, when the run starts, against
\`trainingPipelineInputSchema\` (\`src/contracts/pipeline.ts\`): every invalid field is listed in one non-retryable
\`MLOPS_ERR_PIPELINE_INPUT_INVALID\` failure, and unknown fields are rejected (a typo never silently falls back to a
default).

Generated from the schema's field descriptions by \`npm run docs\`; \`test/docs.test.ts\` fails when the two differ.

\`\`\`json
${exampleJson(pipelineInputExample)}
\`\`\`

| field | required | default | meaning |
|---|---|---|---|
${rows.join('\n')}

## Task inference

When \`task\` is left out, preprocessing decides it from the target column of the snapshot (\`src/preprocessing/task.ts\`):

- a **numeric** target (integer, float or decimal column) with a fractional value, or with **more than 20 distinct
  values**, is \`regression\`;
- every other target (text, boolean, a numeric code with at most 20 distinct integer values) is \`classification\`.

The task used is in the preprocessing result, the pipeline result (\`task\`) and the \`pipelineStatus\` query (\`task\`,
and the preprocessing step's summary). A classification target, given or inferred, may have at most
\`preprocessing.maxClasses\` classes (default 100, up to 1000); one with more fails with
\`MLOPS_ERR_DATA_TOO_MANY_CLASSES\`, which says to set \`task\` to \`regression\` for a quantity. Set \`task\` explicitly for
the cases the rule gets wrong (an integer class code with more than 20 values, a count to predict as a quantity with
few values).

## The gate

The challenger is scored on its test split. When the deploy alias already names a champion, the champion is
**re-scored on the same test rows**: their raw rows are read from the snapshot by row number and put through the
champion's own fitted transform (whatever snapshot, split or spec it was trained on), and classes are matched by
name. \`evaluation.json\` holds both: \`metrics\` (the challenger) and \`champion.metrics\` (re-scored), with
\`champion.recordedMetrics\` (its own test split at registration), and \`predictionChange\` — \`{against, distance, rows}\`,
the Jensen–Shannon distance between the two models' predictions on those rows, binned as a canary's bake bins the
prediction log — which a canary of this version beside that champion is allowed in serving
([rollout.md](rollout.md#judging-a-canary)). Only when the champion cannot answer these rows (a
column it needs is missing) are its recorded metrics used, and the reason says so. A champion of the other task
(regression against classification) is no champion to compare with: the step fails with
\`MLOPS_ERR_EVALUATION_TASK_MISMATCH\`, since a model name keeps one task for its clients; nor is a champion of another
target column (its metrics measure another quantity): \`MLOPS_ERR_EVALUATION_TARGET_MISMATCH\`. Both are checked once
preprocessing has settled the task, before training (the run fails at step preprocessing, nothing is trained), and again
at evaluation, for a champion deployed meanwhile. A classification test split
of one class (a rare class can miss it) judges nothing, and fails the step with \`MLOPS_ERR_EVALUATION_ONE_CLASS\`
(\`preprocessing.stratify\` keeps the class proportions in each split). The challenger deploys when its improvement over the champion is strictly greater than \`gate.minImprovement\`.
When the champion was trained on another split of the same data, some of these test rows may have been in its
training split; that favours the champion, so a challenger that wins has won on rows it never saw.

Before any metric is taken, the challenger's output must be what [trainer-contract.md](trainer-contract.md) says: a
\`probabilities\` output of one column per class (two for a binary target) whose every row is a distribution (values in
[0, 1] summing to 1: logits under that name would score a log loss of about 0), or a \`prediction\` output of one
column, finite in every test row, and a batch axis that is not fixed at one row; otherwise the step fails with
\`MLOPS_ERR_MODEL_INVALID\` naming what is wrong and a test row that shows it. The model server refuses to load such a
version for the same reasons.

Metrics: classification reports \`accuracy\`, \`f1\` (of the positive class for a binary target; otherwise the
unweighted mean over the classes found among the labels or the predictions, as scikit-learn's macro average: a class
absent from the test split is not scored as 0), \`log_loss\` (probabilities clamped to [1e-15, 1 − 1e-15]) and, for a
binary target, \`auc\`; regression reports \`rmse\`, \`mae\` and \`r2\`.

## Result

\`outcome\` is \`deployed\` (with the new \`version\`), \`registered\` (\`deploy: false\`: the challenger passed the gate and
was registered with its \`version\`, but not deployed) or \`rejected\` (the gate said no; the champion stays deployed).
Each carries the \`task\`, \`metrics\` on the test split, the \`gate\` decision with its reason, the \`snapshotId\`, and
the URIs of the profile, report, transform, model and evaluation artifacts; \`leftOut\` (columns that are not
features, with why) and \`warnings\` (problems in the data) when there are any.

## Status while it runs

\`temporal workflow query --workflow-id … --type pipelineStatus\` returns the current stage, the task, each step's start
and end time, a summary of what it did, and whether its stored output was reused. The search attributes
\`MlopsModelName\`, \`MlopsPipelineStage\`, \`MlopsDatasetSnapshot\` and \`MlopsModelVersion\` follow the same stages
(\`validating\`, then one per step, \`ingesting\` … \`deploying\`, and the end: \`completed\` for a deployed run,
\`registered\`, \`rejected\`, \`failed\` or \`cancelled\`, so finished runs are
\`MlopsPipelineStage IN ("completed", "registered", "rejected")\`); a
run whose input fails validation still carries its model name and the stage \`failed\`, and a cancelled run ends in
stage \`cancelled\`. \`temporal workflow cancel\` stops the step under way (a trainer is sent SIGTERM within a couple
of seconds) and the run ends CANCELED once the step has stopped. A step whose worker is gone cannot hear the
cancellation: the run ends CANCELED when the step's heartbeat timeout passes (\`trainer.heartbeatTimeoutSeconds\`,
120 s by default, for training), with how the step ended in the status's \`error\`.
`;
}
