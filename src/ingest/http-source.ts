import dns from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { SourceAccess } from '../config';
import { mlopsError } from '../errors';
import type { FetchedSource } from './fetched-source';
import { stepSignal } from '../step-context';
import { saveAndHash } from './hashing';

/**
 * Downloads to `work` while hashing. 404/410 and 401/403 cannot succeed on retry, so they are catalogued
 * non-retryable failures; everything else (5xx, 429, refused connections, resets) is a plain Error that Temporal
 * retries. Hosts on internal addresses are refused unless `allowedHosts` names them (see {@link checkHost}).
 */
export async function fetchHttp(
  uri: string,
  work: string,
  fileName: string,
  access: Pick<SourceAccess, 'httpAllowedHosts' | 'httpStallMs'>,
): Promise<FetchedSource> {
  const stall = new StallWatch(uri, access.httpStallMs ?? defaultStallMs);
  try {
    return await download(uri, work, fileName, access.httpAllowedHosts, stall);
  } catch (err) {
    throw stall.fired ? stall.failure() : err;
  } finally {
    stall.stop();
  }
}

const defaultStallMs = 60_000;

/**
 * Aborts a download that receives nothing for `ms`: no answer head, or no more of its body. Armed from the first
 * request; every hop and chunk re-arms it.
 */
class StallWatch {
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  fired = false;

  constructor(
    private readonly uri: string,
    private readonly ms: number,
  ) {
    this.touch();
  }

  /** The step's cancellation and the stall, as one signal for fetch and the body stream. */
  signal(): AbortSignal {
    const step = stepSignal();
    return step ? AbortSignal.any([step, this.#controller.signal]) : this.#controller.signal;
  }

  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.fired = true;
      this.#controller.abort();
    }, this.ms);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** Retryable: the server may answer on the next attempt. */
  failure(): Error {
    return new Error(
      `GET ${this.uri} stalled: nothing arrived for ${this.ms / 1000} s (MLOPS_HTTP_STALL_SECONDS); retrying may succeed`,
    );
  }
}

async function download(
  uri: string,
  work: string,
  fileName: string,
  allowedHosts: string[],
  stall: StallWatch,
): Promise<FetchedSource> {
  const response = await fetchFollowingAllowedRedirects(uri, allowedHosts, stall);
  const answer = `HTTP ${response.status} ${response.statusText}`.trim();
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', { source: uri, reason: `the server answered ${answer}` });
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_FORBIDDEN', { source: uri, reason: `the server answered ${answer}` });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`GET ${uri} answered ${answer}; retrying may succeed`);
  }
  const localPath = path.join(work, fileName);
  const watched = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        stall.touch();
        controller.enqueue(chunk);
      },
    }),
  );
  try {
    const hashed = await saveAndHash(Readable.fromWeb(watched), localPath);
    return { localPath, ...hashed, lineage: { kind: 'http', etag: response.headers.get('etag') ?? undefined } };
  } catch (err) {
    if (stepSignal()?.aborted || stall.fired) throw err;
    throw new Error(`GET ${uri} broke off mid-download: ${(err as Error).message}`);
  }
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);
const maxRedirects = 5;

/** Redirects are followed here, not by fetch, so that every hop's host passes {@link checkHost} first. */
async function fetchFollowingAllowedRedirects(
  uri: string,
  allowedHosts: string[],
  stall: StallWatch,
): Promise<Response> {
  let url = parseUrl(uri);
  for (let hop = 0; ; hop++) {
    await checkHost(uri, url, allowedHosts, hop > 0);
    const signal = stall.signal();
    const response = await fetch(url, { redirect: 'manual', signal }).catch((err: Error & { cause?: Error }) => {
      if (signal.aborted) throw err;
      throw new Error(`GET ${uri} failed: ${err.cause?.message ?? err.message}`);
    });
    stall.touch();
    const location = response.headers.get('location');
    if (!redirectStatuses.has(response.status) || !location) return response;
    await response.body?.cancel();
    // A loop, or a chain no client follows: the URL does not lead to a file (not a question of access).
    if (hop === maxRedirects)
      throw mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_FOUND', {
        source: uri,
        reason: `it redirects more than ${maxRedirects} times (last to ${url.href}; a redirect loop?)`,
      });
    url = new URL(location, url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw notAllowed(uri, `it redirects to a ${url.protocol}// URL`);
  }
}

/**
 * Loopback, link-local (cloud metadata at 169.254.169.254), private, carrier-grade NAT, "this network" and
 * IPv4-mapped IPv6 addresses: what a worker can reach that the workflow author usually cannot.
 */
const internalRanges = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  internalRanges.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  internalRanges.addSubnet(address, prefix, 'ipv6');

/**
 * Refuses a host that resolves to any internal address unless it is listed (or the list holds `*`). Every address the
 * name resolves to is checked, since fetch may connect to any of them. A name that resolves to a public address here
 * and to an internal one when fetch resolves it again (DNS rebinding) is not caught; list-only setups should resolve
 * names through a resolver that never returns internal addresses for outside names.
 */
async function checkHost(source: string, url: URL, allowedHosts: string[], redirected: boolean): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (allowedHosts.includes('*') || allowedHosts.some((h) => h.replace(/^\[|\]$/g, '') === host)) return;
  const addresses = net.isIP(host)
    ? [host]
    : await dns.lookup(host, { all: true, verbatim: true }).then(
        (found) => found.map((a) => a.address),
        (err: Error) => {
          throw new Error(`GET ${source} failed: ${host} did not resolve (${err.message})`);
        },
      );
  const internal = addresses.find((a) => internalRanges.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4'));
  if (internal === undefined) return;
  const via = redirected ? ' (a redirect leads there)' : '';
  throw notAllowed(
    source,
    `the host ${host}${via} resolves to ${internal}, a loopback, link-local or private address; ` +
      'list the host in MLOPS_HTTP_ALLOWED_HOSTS on the pipeline worker to allow it',
  );
}

function parseUrl(uri: string): URL {
  try {
    return new URL(uri);
  } catch (err) {
    throw mlopsError('MLOPS_ERR_DATA_SOURCE_INVALID', { source: uri, kind: 'http(s)', reason: (err as Error).message });
  }
}

function notAllowed(source: string, reason: string): Error {
  return mlopsError('MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED', { source, reason });
}
