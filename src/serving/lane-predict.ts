/**
 * The v1 predict routes in the fast lane (`fast-lane.ts`): `POST /v1/models/{model}:predict`, Vertex AI's
 * `/v1/projects/{p}/locations/{l}/endpoints/{model}:predict` and `AIP_PREDICT_ROUTE`, for this server's model, with a
 * JSON body in UTF-8. The answer is the fastify route's, byte for byte (`predictV1`, `errorAnswer`), with the same
 * headers, API-key check, metrics and log lines; any other request is left to fastify.
 */
import type { Socket } from 'node:net';
import { checkKey } from './api-keys';
import { errorAnswer, logRefusal } from './error-answer';
import type { RefusalLogger, ServedError } from './error-answer';
import type { LaneAnswer, LaneHandler, LaneHead } from './fast-lane';
import { isJsonType, parseJson, requestIdFor } from './http-body';
import type { ServingMetrics } from './metrics';
import type { PredictContext, PredictCore } from './predict-core';
import { modelUrl, predictV1, vertexPath } from './routes-v1';

interface Logger extends RefusalLogger {
  isLevelEnabled?(level: string): boolean;
  debug(details: object, message: string): void;
}

export interface LanePredictDeps {
  core: PredictCore;
  metrics: ServingMetrics;
  /** API key digests (`api-keys.ts`); empty: no key needed. */
  keys: readonly Buffer[];
  log: Logger;
  aipPredictRoute?: string;
}

/** A path segment as the router takes it for a parameter: no slash, percent-escape or query, at most 100 characters. */
const segment = '[^/%?#;]{1,100}';
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function lanePredict(deps: LanePredictDeps): LaneHandler {
  const { core, metrics, keys, log, aipPredictRoute } = deps;
  const model = core.modelName;
  // The metrics' route label of each path the lane answers (the fastify route it stands for).
  const exact = new Map<string, string>([[`/v1/models/${model}:predict`, modelUrl]]);
  if (aipPredictRoute) exact.set(aipPredictRoute, aipPredictRoute);
  const vertex = new RegExp(`^/v1/projects/${segment}/locations/${segment}/endpoints/${escapeRegExp(model)}:predict$`);
  const routeOf = (path: string) => exact.get(path) ?? (vertex.test(path) ? vertexPath : undefined);

  return {
    // A request without a valid key goes to fastify, which refuses it from its head (401) without waiting for its body.
    accepts: (head) =>
      head.method === 'POST' &&
      routeOf(head.path) !== undefined &&
      isJsonType(head.headers.get('content-type')) &&
      (keys.length === 0 || checkKey(head.headers.get('authorization'), keys) === undefined),
    answer: async (head, body, socket) => {
      const started = process.hrtime.bigint();
      const requestId = requestIdFor(head.headers.get('x-request-id'));
      // One DEBUG line per request, as fastify's routes write it (app.ts); predictions are in the prediction log.
      const verbose = log.isLevelEnabled?.('debug') ?? false;
      const ctx: PredictContext = { requestId };
      let answer: LaneAnswer;
      try {
        const text = await predictV1(core, model, ctx, () => parseJson(body));
        answer = { status: 200, headers: versionHeaders(core, ctx, requestId), body: text };
      } catch (err) {
        const refusal = errorAnswer(err as ServedError, core.limits, head.path);
        logRefusal(log, refusal, err as Error, requestId);
        const headers = [...versionHeaders(core, ctx, requestId), ...refusal.headers];
        answer = { status: refusal.status, headers, body: JSON.stringify(refusal.body) };
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.observe(ctx.answeredBy, routeOf(head.path)!, answer.status, ms / 1000);
      if (verbose)
        log.debug({ reqId: requestId, ...describeRequest(head, socket), statusCode: answer.status, ms }, 'answered');
      return answer;
    },
  };
}

/** The version that answered (also when it refused the request), else the stable one; and the request id. */
function versionHeaders(core: PredictCore, ctx: PredictContext, requestId: string): [string, string][] {
  const version = ctx.answeredBy ?? core.slot.current?.version;
  const headers: [string, string][] = version === undefined ? [] : [['x-model-version', String(version)]];
  headers.push(['x-request-id', requestId]);
  return headers;
}

/** The request as the DEBUG line of fastify's routes describes it (app.ts). */
function describeRequest(head: LaneHead, socket: Socket) {
  return { method: head.method, url: head.path, remoteAddress: socket.remoteAddress };
}
