/**
 * Request bodies. Every body arrives as raw bytes (bounded by the server's body limit, 413 above it) and each route
 * decodes it itself, so a wrong content type, an empty body or invalid JSON is a catalogued 4xx naming the problem,
 * never a 500. JSON.parse is iterative in V8, so deeply nested documents parse without a stack overflow, and nothing
 * downstream recurses into a value.
 */
import type { FastifyRequest } from 'fastify';
import { mlopsError } from '../errors';
import { namesText } from '../contracts/message-text';

/** Media types of JSON bodies; parameters such as `charset=utf-8` are ignored. */
const jsonTypes = new Set(['application/json']);

export function mediaType(request: FastifyRequest): string | undefined {
  const header = request.headers['content-type'];
  return header ? header.split(';')[0]!.trim().toLowerCase() : undefined;
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
      contentType: type ? JSON.stringify(type) : '(none)',
      route: request.routeOptions.url ?? request.url,
      accepted: 'application/json',
    });
  }
  return parseJson(body);
}

export function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', { reason: (err as Error).message.slice(0, 200) });
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
  const instances = (body as { instances?: unknown }).instances;
  if (!Array.isArray(instances)) throw inputInvalid('"instances" must be an array of objects');
  return instances;
}

function inputInvalid(problems: string): Error {
  return mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems });
}
