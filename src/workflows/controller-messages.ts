/**
 * The shape checks of the controller's messages, for what a person or a script sends by hand (`temporal workflow
 * signal|update`). A signal has no validator: one whose payload would make its handler throw failed the workflow
 * task on every retry, wedging the controller; it is recorded and dropped instead. An update's arguments are checked
 * by its validator, before it is written to the history: a field of the wrong type (`"direct": "false"`, which read
 * as true) or a field the update does not take (a typo) is refused, naming it. Pure and deterministic.
 */

import type { z } from 'zod';

/** What a field of a message must hold. */
type FieldKind = 'version' | 'boolean' | 'text' | 'name';

/**
 * The longest text a message's field takes: a reason is kept in the state and its history, carried across every
 * continue-as-new, and shown whole by status.
 */
const maxTextLength = 1000;

const kindText: Record<FieldKind, string> = {
  version: 'a version number (1, 2, …)',
  boolean: 'true or false',
  text: `text of at most ${maxTextLength} characters`,
  name: 'a non-empty name',
};

function fits(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case 'version':
      return Number.isInteger(value) && (value as number) >= 1;
    case 'boolean':
      return typeof value === 'boolean';
    case 'text':
      return typeof value === 'string' && value.length <= maxTextLength;
    case 'name':
      return typeof value === 'string' && value.length > 0;
  }
}

/** A value as a message shows it: short, and never the whole of a large one. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Why a message's arguments do not fit (`required` and `optional` fields, nothing else), or undefined. Arguments
 * left out entirely count as `{}`.
 */
export function argumentsProblem(
  args: unknown,
  required: Readonly<Record<string, FieldKind>>,
  optional: Readonly<Record<string, FieldKind>> = {},
): string | undefined {
  const fields = { ...required, ...optional };
  const takes = Object.keys(fields).length
    ? `it takes {${Object.keys(fields)
        .map((f) => `"${f}"`)
        .join(', ')}}`
    : 'it takes none';
  if (args === undefined || args === null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) return `its arguments must be an object: ${takes}`;
  const given = args as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, kind] of Object.entries(required))
    if (given[field] === undefined) problems.push(`"${field}" is missing: it must be ${kindText[kind]}`);
  for (const [field, value] of Object.entries(given)) {
    const kind = fields[field];
    if (!kind) problems.push(`unknown field "${field}": ${takes}`);
    else if (value !== undefined && !fits(kind, value))
      problems.push(`"${field}" must be ${kindText[kind]}, not ${shown(value)}`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/** Why an `incident` signal's payload cannot be acted on, or undefined (the monitoring workflow's incidents fit). */
export function incidentProblem(incident: unknown): string | undefined {
  if (typeof incident !== 'object' || incident === null || Array.isArray(incident))
    return `an incident is an object {kind, modelName, version, reason, driftedFeatures, driftShare, …}, not ${shown(incident)}`;
  const i = incident as Record<string, unknown>;
  const problems: string[] = [];
  if (i.kind !== 'drift' && i.kind !== 'accuracy')
    problems.push(`"kind" must be "drift" or "accuracy", not ${shown(i.kind)}`);
  if (typeof i.modelName !== 'string') problems.push(`"modelName" must be text, not ${shown(i.modelName)}`);
  if (!fits('version', i.version)) problems.push(`"version" must be ${kindText.version}, not ${shown(i.version)}`);
  if (typeof i.reason !== 'string') problems.push(`"reason" must be text, not ${shown(i.reason)}`);
  if (!Array.isArray(i.driftedFeatures) || !i.driftedFeatures.every((f) => typeof f === 'string'))
    problems.push(`"driftedFeatures" must be a list of feature names, not ${shown(i.driftedFeatures)}`);
  if (i.driftShare !== undefined && typeof i.driftShare !== 'number')
    problems.push(`"driftShare" must be a number, not ${shown(i.driftShare)}`);
  if (i.alias !== undefined && typeof i.alias !== 'string')
    problems.push(`"alias" must be text, not ${shown(i.alias)}`);
  return problems.length ? problems.join('; ') : undefined;
}

/** Why a `retrainFinished` signal's payload cannot be acted on, or undefined (a retraining child's report fits). */
export function retrainOutcomeProblem(outcome: unknown): string | undefined {
  if (typeof outcome !== 'object' || outcome === null || Array.isArray(outcome))
    return `a retrain's outcome is an object {workflowId, outcome, version?, reason}, not ${shown(outcome)}`;
  const o = outcome as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof o.workflowId !== 'string') problems.push(`"workflowId" must be text, not ${shown(o.workflowId)}`);
  if (o.outcome !== 'registered' && o.outcome !== 'rejected' && o.outcome !== 'failed')
    problems.push(`"outcome" must be "registered", "rejected" or "failed", not ${shown(o.outcome)}`);
  if (o.version !== undefined && !fits('version', o.version))
    problems.push(`"version" must be ${kindText.version}, not ${shown(o.version)}`);
  if (typeof o.reason !== 'string') problems.push(`"reason" must be text, not ${shown(o.reason)}`);
  return problems.length ? problems.join('; ') : undefined;
}

/** Why a value does not fit a schema (each field and what is wrong with it), or undefined. */
export function schemaProblem(schema: z.ZodTypeAny, value: unknown): string | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  return result.error.issues
    .map((issue) => `${issue.path.length ? `"${issue.path.join('.')}"` : 'the input'}: ${issue.message}`)
    .join('; ');
}
