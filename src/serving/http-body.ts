/**
 * Request bodies. Every body arrives as raw bytes (bounded by the server's body limit, 413 above it) and each route
 * decodes it itself, so a wrong content type, an empty body or invalid JSON is a catalogued 4xx naming the problem,
 * never a 500. JSON.parse is iterative in V8, so deeply nested documents parse without a stack overflow, and nothing
 * downstream recurses into a value.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { mlopsError } from '../errors';
import { namesText, quoteText } from '../contracts/message-text';
import { describeValue } from '../models/transform-instance';

/** Media types of JSON bodies; a `charset` parameter must say UTF-8 (`jsonCharset`), other parameters are ignored. */
const jsonTypes = new Set(['application/json']);

export function mediaType(request: FastifyRequest): string | undefined {
  const header = request.headers['content-type'];
  return header ? header.split(';')[0]!.trim().toLowerCase() : undefined;
}

const charsetParameter = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/** True for a Content-Type that `jsonBody` takes as it is: `application/json`, in UTF-8 or with no charset. */
export function isJsonType(header: string | undefined): boolean {
  if (!header || !jsonTypes.has(header.split(';')[0]!.trim().toLowerCase())) return false;
  const charset = charsetParameter.exec(header)?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

/** Request ids a client may choose (x-request-id); anything else gets a generated one. */
const requestIdPattern = /^[\w.:@-]{1,128}$/;

/** The request id of a request: the client's x-request-id when it is a plain one, else a new UUID. */
export function requestIdFor(given: string | string[] | undefined): string {
  return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
}

/**
 * Refuses a JSON body declared in another charset than UTF-8 (415): JSON travels as UTF-8 (RFC 8259), and reading
 * Latin-1 bytes as UTF-8 would turn "Zürich" into an unknown category and answer 200 with a guess.
 */
export function jsonCharset(request: FastifyRequest): void {
  const header = request.headers['content-type'] ?? '';
  const charset = charsetParameter.exec(header)?.[1]?.toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return;
  throw mlopsError('MLOPS_ERR_SERVE_MEDIA_TYPE', {
    contentType: quoteText(header.slice(0, 100)),
    path: requestPath(request),
    accepted: 'application/json in UTF-8 (charset=utf-8, or no charset)',
  });
}

/** Characters of a request path an error message shows; the rest is counted. */
const shownPathLength = 200;
/** C0 and C1 control characters and DEL: a path may carry them (inject, or a lenient proxy), a message never does. */
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * The path the client called (without its query), for an error message: control characters escaped as \uXXXX, not
 * echoed, and cut after 200 characters, since a path can be as long as the server's header limit.
 */
export function requestPath(request: FastifyRequest): string {
  const path = request.url.split('?')[0]!;
  const shown = path
    .slice(0, shownPathLength)
    .replace(controlCharacters, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return path.length > shownPathLength ? `${shown}… (${path.length} characters)` : shown;
}

export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** The JSON document of a request that must be `application/json`. */
export function jsonBody(request: FastifyRequest): unknown {
  const body = rawBody(request);
  if (body.length === 0) throw mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', { reason: 'the body is empty' });
  const type = mediaType(request);
  if (!type || !jsonTypes.has(type)) {
    throw mlopsError('MLOPS_ERR_SERVE_MEDIA_TYPE', {
      contentType: type ? quoteText(type) : '(none)',
      path: requestPath(request),
      accepted: 'application/json',
    });
  }
  jsonCharset(request);
  return parseJson(body);
}

export function parseJson(bytes: Buffer): unknown {
  if (!isUtf8(bytes))
    throw mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', {
      reason: 'the body is not UTF-8 text; JSON must be sent in UTF-8 (was it written in Latin-1 or UTF-16?)',
    });
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    // JSON.parse quotes the mark itself as the unexpected token, which no terminal shows.
    const reason =
      bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
        ? 'the body starts with a byte-order mark (U+FEFF), which JSON text does not take (an editor or a ' +
          'PowerShell redirect may have added it): send the JSON without it'
        : (err as Error).message.slice(0, 200);
    throw mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', { reason });
  }
}

/** Top-level fields of Vertex AI's PredictRequest body (`labels` is sent by Google's clients) and KServe V1's. */
const requestFields = new Set(['instances', 'parameters', 'labels']);

/** The `instances` array of a `{"instances": [...], "parameters"?, "labels"?}` body (Vertex AI, KServe V1). */
export function instancesOf(body: unknown): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw inputInvalid('the body must be an object {"instances": [...]}');
  const extra = Object.keys(body).filter((k) => !requestFields.has(k));
  if (extra.length > 0)
    throw inputInvalid(
      `unknown top-level field ${namesText(extra)}; expected "instances" and optionally "parameters" and "labels"`,
    );
  const { instances, parameters, labels } = body as { instances?: unknown; parameters?: unknown; labels?: unknown };
  const problems: string[] = [];
  if (!Array.isArray(instances)) problems.push('"instances" must be an array of objects');
  // Vertex AI treats a null `parameters` as absent, and so does this server.
  problems.push(...parametersProblem(parameters, '', true), ...labelsProblem(labels));
  if (problems.length > 0) throw inputInvalid(problems.join('; '));
  return instances as unknown[];
}

/**
 * `parameters` (of a Vertex AI or KServe request, or of a v2 request, input or output) is a JSON object when present;
 * `nullIsAbsent`: null counts as left out. `where` prefixes the problem (a v2 input's name).
 */
export function parametersProblem(parameters: unknown, where: string, nullIsAbsent: boolean): string[] {
  if (parameters === undefined || (nullIsAbsent && parameters === null) || isJsonObject(parameters)) return [];
  return [`${where}"parameters" must be an object such as {} (or left out), got ${describeValue(parameters)}`];
}

/** Vertex AI's `labels`: a map of strings to strings (request metadata this server does not use), null as absent. */
function labelsProblem(labels: unknown): string[] {
  if (labels === undefined || labels === null) return [];
  if (!isJsonObject(labels))
    return [
      `"labels" must be an object of strings such as {"team": "risk"} (or left out), got ${describeValue(labels)}`,
    ];
  const bad = Object.entries(labels).find(([, v]) => typeof v !== 'string');
  return bad ? [`"labels" must map names to strings: ${quoteText(bad[0], 60)} is ${describeValue(bad[1])}`] : [];
}

/** A JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function inputInvalid(problems: string): Error {
  return mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems });
}
