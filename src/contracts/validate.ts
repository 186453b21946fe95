import type { z } from 'zod';
import { mlopsError } from '../errors';

/**
 * Parses a workflow's raw input against its schema. Every invalid field is listed in one non-retryable
 * `MLOPS_ERR_PIPELINE_INPUT_INVALID` failure, so a user fixes them all at once; its fix names `inputDocs`, the page
 * that describes the workflow's input (default: docs/pipeline-input.md, trainingPipeline's). Safe to call inside
 * workflows.
 */
export function parseWorkflowInput<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  workflow: string,
  inputDocs?: string,
): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data as z.output<S>;
  const problems = result.error.issues.map(
    (issue) => `- ${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`,
  );
  throw mlopsError('MLOPS_ERR_PIPELINE_INPUT_INVALID', { workflow, problems: problems.join('\n'), inputDocs });
}

/** Where a command line's input came from, and which option sets each field (a field path, e.g. `labels.uri`). */
export interface CommandLineInput {
  script: string;
  command: string;
  /** The option (`--min-rows`) or argument (`<urls>`) that sets a field; the longest known prefix of its path counts. */
  options: Readonly<Record<string, string>>;
  /** Prefix of the field paths in messages, when the schema checks a part of a larger input (`training`). */
  within?: string;
}

/**
 * Parses a command line's input against the workflow's schema, as the workflow will: every invalid field in one
 * non-retryable `MLOPS_ERR_CLI_ARGUMENT_INVALID` that names the options to correct, each problem with its option and
 * the input field it sets (what `--json` output and the docs show).
 */
export function parseCommandLineInput<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  where: CommandLineInput,
): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data as z.output<S>;
  const named = result.error.issues.map((issue) => {
    const path = [...(where.within ? [where.within] : []), ...issue.path.map(String)];
    const option = optionOfPath(path, where.options) ?? '(input)';
    return { option, line: `- ${option} (${path.join('.') || 'input'}): ${issue.message}` };
  });
  throw mlopsError('MLOPS_ERR_CLI_ARGUMENT_INVALID', {
    argument: [...new Set(named.map((n) => n.option))].join(', '),
    script: where.script,
    command: where.command,
    reason: `\n${named.map((n) => n.line).join('\n')}`,
  });
}

function optionOfPath(path: string[], options: Readonly<Record<string, string>>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const option = options[path.slice(0, n).join('.')];
    if (option !== undefined && Object.hasOwn(options, path.slice(0, n).join('.'))) return option;
  }
  return undefined;
}
