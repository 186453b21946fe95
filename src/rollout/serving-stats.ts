/**
 * Sampling the model servers' per-version counters (`GET /v1/models/<model>/stats`, src/serving/routes-v1.ts) and
 * summing them per version. A server that does not answer in time, or answers with something other than a stats
 * document, is listed as unreachable and left out of the sum; only when no server answers does the sample fail.
 */
import { z } from 'zod';
import type { ServerRouting, ServingStatsSample, VersionCounters } from '../contracts/controller';
import type { SampleServingStatsInput } from '../contracts/rollout';
import { mlopsError } from '../errors';

export interface StatsClientOptions {
  /** Sent as `Authorization: Bearer <key>` to servers that require keys (MLOPS_SERVE_API_KEYS). */
  apiKey?: string;
  /** Milliseconds to wait for each server. */
  timeoutMs: number;
}

const count = z.number().finite().min(0);
const version = z.number().int().min(1);
const statsDocument = z.object({
  versions: z.record(
    z.string().regex(/^\d+$/),
    z.object({ requests: count, errors: count, rejected: count, latencyMsSum: count }).passthrough(),
  ),
  /** What the server routes to now (servers of earlier versions did not say). */
  routing: z
    .object({ stable: version.optional(), canary: z.object({ version, weight: z.number() }).optional() })
    .optional(),
});

interface Answer {
  server: string;
  versions?: Record<string, VersionCounters>;
  routing?: ServerRouting;
  /** Why there are no counters. */
  problem?: string;
  /** The server answered with a 4xx: asking again will not help. */
  refused?: boolean;
}

export async function sampleServingStats(
  input: SampleServingStatsInput,
  options: StatsClientOptions,
): Promise<ServingStatsSample> {
  const answers = await Promise.all(input.servers.map((server) => askServer(server, input.modelName, options)));
  const failed = answers.filter((a) => !a.versions);
  if (answers.length > 0 && failed.length === answers.length) {
    const reasons = failed.map((a) => `${a.server}: ${a.problem}`).join('; ');
    throw mlopsError(
      failed.every((a) => a.refused) ? 'MLOPS_ERR_ROLLOUT_STATS_REFUSED' : 'MLOPS_ERR_ROLLOUT_STATS_UNAVAILABLE',
      { model: input.modelName, reasons },
    );
  }
  const versions: Record<string, VersionCounters> = {};
  for (const answer of answers)
    for (const [version, c] of Object.entries(answer.versions ?? {})) {
      const sum = (versions[version] ??= { requests: 0, errors: 0, rejected: 0, latencyMsSum: 0 });
      sum.requests += c.requests;
      sum.errors += c.errors;
      sum.rejected += c.rejected;
      sum.latencyMsSum += c.latencyMsSum;
    }
  const routing: Record<string, ServerRouting> = {};
  for (const answer of answers) if (answer.routing) routing[answer.server] = answer.routing;
  return { takenAt: new Date().toISOString(), versions, unreachable: failed.map((a) => a.server), routing };
}

export function statsUrl(server: string, model: string): string {
  return `${server.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(model)}/stats`;
}

async function askServer(server: string, model: string, options: StatsClientOptions): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(statsUrl(server, model), {
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    return { server, problem: describeFetchError(err, options.timeoutMs) };
  }
  const body = await response.text().catch(() => '');
  if (!response.ok)
    return {
      server,
      problem: `answered HTTP ${response.status}${body ? ` (${body.slice(0, 200)})` : ''}`,
      refused: response.status >= 400 && response.status < 500 && response.status !== 429,
    };
  const parsed = statsDocument.safeParse(parseJson(body));
  if (!parsed.success) return { server, problem: 'answered with something other than a stats document' };
  const { stable, canary } = parsed.data.routing ?? {};
  const routing = stable === undefined ? undefined : { stable, ...(canary && { canary }) };
  return { server, versions: parsed.data.versions, ...(routing && { routing }) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Names the failure by its code (ECONNREFUSED, ENOTFOUND…) or, without one, by its cause's message ("bad port"). */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const why = e.cause?.code ?? e.cause?.message;
  return `could not be reached${why ? ` (${why.slice(0, 200)})` : ''}`;
}
