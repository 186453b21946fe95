import { isMlopsError, mlopsError } from '../errors';

/** The parts of a Google API error (`ApiError` of @google-cloud/common and @google-cloud/storage) ingestion reads. */
export interface GoogleApiFailure {
  /** HTTP status, when the error came from an HTTP answer. */
  status?: number;
  /** `errors[].reason`, e.g. `notFound`, `accessDenied`, `invalidQuery`, `rateLimitExceeded`. */
  reasons: string[];
  message: string;
}

export function googleApiFailure(err: unknown): GoogleApiFailure {
  const e = err as { code?: unknown; errors?: { reason?: unknown }[]; message?: unknown };
  const status = typeof e.code === 'number' ? e.code : undefined;
  const reasons = (Array.isArray(e.errors) ? e.errors : [])
    .map((x) => x?.reason)
    .filter((r): r is string => typeof r === 'string');
  return { status, reasons, message: oneLine(typeof e.message === 'string' ? e.message : String(err)) };
}

/** ApiError joins several messages as "Multiple errors occurred … 1. first 2. second"; keep the numbered ones. */
function oneLine(message: string): string {
  const numbered = [...message.matchAll(/^\s+\d+\. (.*)$/gm)].map((m) => m[1]!.trim());
  const text = numbered.length ? numbered.join('; ') : message.split('\n')[0]!;
  return text.slice(0, 500);
}

/**
 * A BigQuery API error as a catalogued one where retrying cannot help; `what` names the BigQuery thing in messages,
 * e.g. the bq:// source or the warehouse dataset.
 * Failures of the API call itself carry an HTTP status; a query job that fails carries only `errors[].reason`
 * (https://cloud.google.com/bigquery/docs/error-messages). notFound/404 → the table, dataset or project does not
 * exist; accessDenied/403 → permissions; invalidQuery, invalid/400 → the query or a name. Rate and quota limits,
 * backend and internal errors (403 rateLimitExceeded, 429, 5xx, jobInternalError) and anything unrecognized are plain
 * Errors Temporal retries.
 */
export function bigQueryFailure(what: string, err: unknown): Error {
  if (isMlopsError(err)) return err;
  const { status, reasons, message } = googleApiFailure(err);
  const has = (...names: string[]) => reasons.some((r) => names.includes(r));
  if (has('rateLimitExceeded', 'quotaExceeded', 'backendError', 'internalError', 'jobInternalError'))
    return new Error(`BigQuery failed on ${what} (retryable): ${message}`);
  if (status === 404 || has('notFound'))
    return mlopsError('MLOPS_ERR_BIGQUERY_NOT_FOUND', { source: what, reason: message });
  if (status === 401 || status === 403 || has('accessDenied'))
    return mlopsError('MLOPS_ERR_BIGQUERY_PERMISSION_DENIED', { source: what, reason: message });
  if (status === 400 || has('invalidQuery', 'invalid'))
    return mlopsError('MLOPS_ERR_BIGQUERY_REQUEST_INVALID', { source: what, reason: message });
  return new Error(`BigQuery failed on ${what}: ${message}`);
}
