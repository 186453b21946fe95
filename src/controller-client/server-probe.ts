/**
 * A first look at the model servers that `start --servers` and `servers` name, so that a mistyped URL shows now and
 * not when a canary's counters are sampled: each server gets one `GET /readyz` (src/serving/app.ts), and each that
 * does not answer ready for the model is one warning naming the URL and what went wrong. Nothing is refused: a
 * server may legitimately start after its controller.
 */
import { describeFetchError } from '../rollout/serving-stats';

/** The readiness route answers at once, from memory; a server slower than this is not there (or not this one). */
export const serverProbeTimeoutMs = 2_000;

/** The warnings for the servers that are not ready to serve the model, in the order given. */
export async function probeServers(
  servers: readonly string[],
  modelName: string,
  timeoutMs = serverProbeTimeoutMs,
): Promise<string[]> {
  const problems = await Promise.all(servers.map((server) => probeServer(server, modelName, timeoutMs)));
  return servers.flatMap((server, i) =>
    problems[i]
      ? [
          `Warning: model server ${server} did not answer ready on GET ${readyUrl(server)}: ${problems[i]}. A canary is judged only on the servers that answer: check the URL, or start the server before the next rollout.`,
        ]
      : [],
  );
}

function readyUrl(server: string): string {
  return `${server.replace(/\/+$/, '')}/readyz`;
}

/** Why the server is not ready for the model, or undefined when it is. */
async function probeServer(server: string, modelName: string, timeoutMs: number): Promise<string | undefined> {
  let response: Response;
  try {
    // No API key: /readyz is open on every model server. A redirect is an error, as when the counters are sampled.
    response = await fetch(readyUrl(server), { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    return unreachable(err, timeoutMs);
  }
  const text = await response.text().catch(() => '');
  const body = readiness(text);
  if (!response.ok)
    return `HTTP ${response.status}${body?.ready === false ? ' (up, but no version of the model is loaded)' : ''}`;
  // Any web server answers 200 to something (the Temporal Web UI serves its page at every path): only a model
  // server's readiness document says the URL is one.
  if (typeof body?.model !== 'string' || typeof body.ready !== 'boolean')
    return `it answered HTTP ${response.status} with ${describeBody(response, text)}, not a model server's readiness document ({"ready": true, "model": "${modelName}", …}): it is not a model server`;
  if (body.model !== modelName) return `it serves model "${body.model}", not "${modelName}"`;
  if (!body.ready) return 'it answered, but says it is not ready (no version of the model is loaded)';
  return undefined;
}

/** The answer's type and its first characters, to recognise what answered (`text/html: "<!DOCTYPE html>…"`). */
function describeBody(response: Response, text: string): string {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim() || 'no content type';
  const start = text.replace(/\s+/g, ' ').trim();
  if (!start) return `${type} and an empty body`;
  return `${type}: ${JSON.stringify(start.length > 60 ? `${start.slice(0, 60)}…` : start)}`;
}

/** The system error a person recognises, then its code; a timeout or another failure as the stats sampler says it. */
function unreachable(err: unknown, timeoutMs: number): string {
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  const plain = typeof code === 'string' ? systemErrors[code] : undefined;
  return plain ? `${plain} (${String(code)})` : describeFetchError(err, timeoutMs);
}

const systemErrors: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** The readiness document of a model server (`{ready, model, …}`), or undefined for anything else. */
function readiness(text: string): { ready?: unknown; model?: unknown } | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
