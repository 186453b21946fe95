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
