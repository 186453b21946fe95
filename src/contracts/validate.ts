import type { z } from 'zod';
import { mlopsError } from '../errors';

/**
 * Parses a workflow's raw input against its schema. Every invalid field is listed in one non-retryable
 * `MLOPS_ERR_PIPELINE_INPUT_INVALID` failure, so a user fixes them all at once. Safe to call inside workflows.
 */
export function parseWorkflowInput<S extends z.ZodTypeAny>(schema: S, raw: unknown, workflow: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data as z.output<S>;
  const problems = result.error.issues.map(
    (issue) => `- ${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.message}`,
  );
  throw mlopsError('MLOPS_ERR_PIPELINE_INPUT_INVALID', { workflow, problems: problems.join('\n') });
}
