/**
 * The model server: the deployment of a registered model (its alias, or the deployment record with a canary) served
 * over HTTP with onnxruntime-node. `buildServer` builds the app without listening, so tests inject requests; only
 * `server.ts` calls `listen`. Every predict route goes through one core (`PredictCore` → `Predictor`); the routes
 * only translate wire formats:
 *
 *   GET  /healthz, /readyz                         liveness; readiness (a version is loaded; the last failed swap)
 *   GET  /metrics                                  Prometheus metrics
 *   GET  /playground                               a page to try the model: a form, probabilities, CSV upload
 *   POST /v1/models/{model}:predict                Vertex AI and KServe V1: {"instances": [...], "parameters"?}
 *   POST /v1/projects/*\/locations/*\/endpoints/{model}:predict   Vertex AI's public REST path (Google's clients)
 *   GET  /v1/models, /v1/models/{model}            KServe V1 model list and model metadata
 *   GET  /v1/models/{model}/stats                  per-version counters (requests, errors, latency) for the deploy step
 *   GET  /v2, /v2/health/live|ready, /v2/models/{model}[/versions/{v}][/ready]   Open Inference Protocol v2
 *   POST /v2/models/{model}[/versions/{v}]/infer   OIP v2 inference, JSON or the binary tensor extension
 *   AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE            the Vertex AI custom-container contract, when configured
 *
 * A client's mistake is a catalogued 4xx naming the field or limit; 500 is kept for the server's own faults, and
 * only those are logged with a stack.
 */
import http from 'node:http';
import Fastify, { LogController } from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ArtifactStore } from '../artifacts';
import { predictionLogDefaults } from '../config';
import { mlopsError } from '../errors';
import { quoteText } from '../contracts/message-text';
import { checkKey, keyDigests } from './api-keys';
import { answerClientError, answerExpectationFailed } from './client-error';
import { DeploymentFollower } from './deployment-follower';
import { errorAnswer, logRefusal } from './error-answer';
import { FastLane } from './fast-lane';
import { requestIdFor, requestPath } from './http-body';
import { lanePredict } from './lane-predict';
import { ServingMetrics } from './metrics';
import { ModelSlot } from './model-slot';
import { PredictCore } from './predict-core';
import type { ServeLimits } from './predict-core';
import { ParquetPredictionSink, PredictionLog } from './prediction-log';
import type { NamedSink, PredictionLogOptions } from './prediction-log';
import type { PlaygroundModel } from './playground';
import { playgroundHtml, playgroundModel } from './playground';
import { refuseOtherMethods, routeNotFound, trackRoutes } from './method-not-allowed';
import { registerV1Routes, v1AllowedMethods } from './routes-v1';
import { registerV2Routes } from './routes-v2';

export interface ServerDeps {
  store: ArtifactStore;
  modelName: string;
  alias: string;
  /** fastify logger options (level, destination stream); false in tests. */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /** @default { bodyLimit: 1_500_000, maxInstances: 4096 } (the config defaults) */
  limits?: Partial<ServeLimits>;
  /** Extra routes of the Vertex AI custom-container contract (AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE). */
  vertex?: { predictRoute?: string; healthRoute?: string };
  /** Milliseconds between reads of the deployment record; 0 (the default here) follows only on `serving.follower.sync()`. */
  pollMs?: number;
  /** API keys; empty or absent: no key needed. */
  apiKeys?: readonly string[];
  /** The prediction log: options, and its sinks (default: Parquet in the artifact store). Absent: no log. */
  predictionLog?: Partial<PredictionLogOptions> & { sinks?: NamedSink[] };
  /** Plain predict requests answered by the fast lane (`fast-lane.ts`) instead of fastify's request cycle. @default true */
  fastLane?: boolean;
  /** Milliseconds from a request's first byte to its last; an incomplete request gets 408. @default 30000 */
  requestTimeoutMs?: number;
}

/** What a built server exposes beside its routes (tests and the entry point use it). */
export interface Serving {
  slot: ModelSlot;
  core: PredictCore;
  follower: DeploymentFollower;
  metrics: ServingMetrics;
  log?: PredictionLog;
}

declare module 'fastify' {
  interface FastifyInstance {
    serving: Serving;
  }
  interface FastifyContextConfig {
    /** Marks a prediction route, for metrics. */
    predict?: boolean;
  }
}

/** What fastify hands a server factory that its own HTTP/1.1 server would be made with (its defaults filled in). */
interface FactoryOptions {
  http?: http.ServerOptions;
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
}

const defaultLimits: ServeLimits = { bodyLimit: 1_500_000, maxInstances: 4096 };
const defaultLog: PredictionLogOptions = { ...predictionLogDefaults };
/** The metrics' route label of a request node:http refused before it had a route (bad HTTP, too slow, head too large). */
const unparsedRoute = '(unparsed)';

/** Routes a probe calls without a key. */
const openRoutes = new Set(['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/playground']);

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const limits = { ...defaultLimits, ...deps.limits };
  const keys = keyDigests(deps.apiKeys ?? []);
  const requestTimeoutMs = deps.requestTimeoutMs ?? 30_000;
  let lane: FastLane | undefined;
  const metrics = new ServingMetrics(deps.modelName);
  const countUnparsed = (_code: string, status: number): void => metrics.observe(undefined, unparsedRoute, status, 0);
  const app = Fastify({
    logger: deps.logger ?? false,
    // fastify's two INFO lines per request ("incoming request", "request completed") become one DEBUG line, written
    // in onResponse: predictions are in the prediction log, and a probe every few seconds is no news.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimit,
    // A stalled or slow client cannot hold a connection (and a worker's memory) open: 408 after this.
    requestTimeout: requestTimeoutMs,
    clientErrorHandler: (err, socket) => answerClientError(err, socket, { ...limits, requestTimeoutMs }, countUnparsed),
    requestIdHeader: false,
    // The router's own refusals (a path that is not UTF-8 once decoded, a part over 100 characters) answer like ours.
    frameworkErrors: (err, request, reply) => {
      const reason =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a part of it is over 100 characters'
          : 'it is not valid UTF-8 once percent-decoded';
      const refusal = mlopsError('MLOPS_ERR_SERVE_URL_INVALID', { path: requestPath(request), reason });
      // Refused before the hooks that set it on every other answer.
      void reply.header('x-request-id', request.id);
      void sendError(limits, refusal as unknown as FastifyError, request, reply);
    },
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    // fastify's own HTTP/1.1 server, with the fast lane in front of its connections when it is on.
    serverFactory: (handler, given) => {
      const options = given as unknown as FactoryOptions;
      const server = http.createServer(
        {
          ...options.http,
          // node:http answers a missing Host with an empty 400; the onRequest hook answers it like every refusal.
          requireHostHeader: false,
          requestTimeout: options.requestTimeout,
          headersTimeout: Math.min(60_000, options.requestTimeout),
          // How often node:http looks for timed-out requests (30 s by default, which would double a short limit).
          connectionsCheckingInterval: Math.min(1000, options.requestTimeout),
        },
        handler,
      );
      server.keepAliveTimeout = options.keepAliveTimeout;
      // A client that sends its request and then ends its half of the connection (shutdown(SHUT_WR), `nc -N`) still
      // gets its answer: by default node:http aborts a request still being handled when the client's stream ends, and
      // closes without answering (the fast lane always answered). The answer is then the connection's last.
      (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
      // An Expect other than 100-continue: node:http's own answer is an empty 417.
      server.on('checkExpectation', (request, response) =>
        answerExpectationFailed(request, response, limits, countUnparsed),
      );
      // Expect: 100-continue: the client waits for "100 Continue" before it sends the body. A request that will be
      // refused from its head gets the refusal instead (the routes answer it as usual), so no body is sent for nothing.
      server.on('checkContinue', (request, response) => {
        if (bodyWanted(request, limits.bodyLimit, keys)) response.writeContinue();
        server.emit('request', request, response);
      });
      server.setTimeout(options.connectionTimeout);
      if (deps.fastLane ?? true) lane = new FastLane(server, limits.bodyLimit);
      return server;
    },
  });
  const slot = new ModelSlot(deps.modelName);
  const follower = new DeploymentFollower(deps.store, slot, deps.alias, metrics, app.log);
  // Loaded before listening: a server that cannot load its model fails to start instead of failing requests.
  await follower.sync();
  const log = deps.predictionLog && createLog(deps.store, deps.predictionLog, metrics, app);
  const core = new PredictCore(slot, limits, log, metrics);
  app.decorate('serving', { slot, core, follower, metrics, log });
  registerBodyParsing(app);
  registerHooks(
    app,
    metrics,
    slot,
    deps.apiKeys ?? [],
    openRoutes.has(deps.vertex?.healthRoute ?? '') ? [] : [deps.vertex?.healthRoute],
  );
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(limits, err, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(limits, routeNotFound(request) as FastifyError, request, reply));
  app.addHook('onClose', async () => {
    follower.stop();
    await log?.close();
    await slot.close();
  });
  const active = lane;
  if (active) {
    const handler = lanePredict({
      core,
      metrics,
      keys,
      log: app.log,
      aipPredictRoute: deps.vertex?.predictRoute,
    });
    active.serve(handler);
    metrics.watchFastLane(active);
    app.addHook('preClose', (done) => {
      active.close();
      done();
    });
  }
  const routes = trackRoutes(app);
  registerOperationRoutes(app, core, follower, metrics, {
    healthRoute: deps.vertex?.healthRoute,
    keysOn: (deps.apiKeys ?? []).length > 0,
  });
  registerV1Routes(app, core, deps.vertex?.predictRoute);
  registerV2Routes(app, core);
  refuseOtherMethods(app, routes, v1AllowedMethods);
  follower.start(deps.pollMs ?? 0);
  return app;
}

function createLog(
  store: ArtifactStore,
  options: NonNullable<ServerDeps['predictionLog']>,
  metrics: ServingMetrics,
  app: FastifyInstance,
): PredictionLog {
  const { sinks, ...rest } = options;
  const chosen = sinks ?? [{ name: 'parquet', sink: new ParquetPredictionSink(store) }];
  return new PredictionLog(chosen, { ...defaultLog, ...rest }, metrics, app.log);
}

/** Every body is read as bytes (up to the body limit) whatever its type; routes decode and check the type. */
function registerBodyParsing(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) =>
    done(encodingError(request) ?? null, body),
  );
}

/**
 * Bodies are never decompressed (a small gzip body can inflate far past the body limit), so a body with any
 * Content-Encoding but identity is refused with 415, instead of being read as JSON and failing on its first byte.
 */
function encodingError(request: FastifyRequest): FastifyError | undefined {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (!encoding || encoding === 'identity') return undefined;
  const err = mlopsError('MLOPS_ERR_SERVE_CONTENT_ENCODING', {
    encoding: quoteText(encoding),
    path: requestPath(request),
  });
  return err as unknown as FastifyError;
}

function registerHooks(
  app: FastifyInstance,
  metrics: ServingMetrics,
  slot: ModelSlot,
  apiKeys: readonly string[],
  extraOpen: (string | undefined)[],
): void {
  const keys = keyDigests(apiKeys);
  const open = new Set([...openRoutes, ...extraOpen.filter((r): r is string => !!r)]);
  // HTTP/1.1 requires one Host header (RFC 9112, 3.2); node:http's refusal of none would be an empty 400, and it
  // takes two.
  app.addHook('onRequest', (request, _reply, done) => {
    // A request target has no fragment (RFC 9112, 3.2: a client keeps `#…` to itself); the router would route the
    // path before it, so a target that is no valid request was answered as if it were.
    if (request.url.includes('#')) {
      const reason = 'a request target has no #fragment (a client keeps it to itself), and this one has one';
      return done(mlopsError('MLOPS_ERR_SERVE_URL_INVALID', { path: requestPath(request), reason }) as FastifyError);
    }
    // (A request injected in tests has no headersDistinct: its one headers object counts.)
    const distinct = request.raw.headersDistinct as typeof request.raw.headersDistinct | undefined;
    const hosts = distinct?.host?.length ?? (request.headers.host === undefined ? 0 : 1);
    // node:http keeps the first of two Authorization headers; a proxy in front may have read the other.
    const authorizations = distinct?.authorization?.length ?? 0;
    const problem =
      hosts > 1
        ? { reason: `a request has one Host header; this one has ${hosts}`, code: 'Host repeated' }
        : hosts === 0 && request.raw.httpVersion === '1.1'
          ? { reason: 'an HTTP/1.1 request needs a Host header', code: 'no Host' }
          : authorizations > 1
            ? {
                reason: `a request has at most one Authorization header; this one has ${authorizations}`,
                code: 'Authorization repeated',
              }
            : undefined;
    done(problem ? (mlopsError('MLOPS_ERR_SERVE_HTTP_INVALID', problem) as unknown as FastifyError) : undefined);
  });
  if (keys.length > 0) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (open.has(request.routeOptions.url ?? '')) return done();
      const problem = checkKey(request.headers.authorization, keys);
      done(
        problem
          ? (mlopsError('MLOPS_ERR_SERVE_UNAUTHORIZED', { reason: problem }) as unknown as FastifyError)
          : undefined,
      );
    });
  }
  // The version a prediction route chose for a request (it sets x-model-version, also when that version refused the
  // request). A request refused before a version was chosen (an unknown model, a body that is not JSON, a wrong
  // content type, a body over the limit) is counted for no version: it says nothing of one, and the canary's judge
  // compares the versions' refusals.
  const chosenVersion = new WeakMap<FastifyRequest, number>();
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    // Answered before its body arrived (a missing key, a wrong content type): the rest of the body would be read as
    // the next request, or wait on the request timeout and get a second answer. The connection ends with this one.
    if (request.raw.complete === false) reply.header('connection', 'close');
    const chosen = reply.getHeader('x-model-version');
    if (chosen !== undefined) chosenVersion.set(request, Number(chosen));
    // The version serving, on the answers of the other routes; not on a refusal of who asks or of a path that is no
    // route (401, 404). The open routes (health probes, the playground's page) carry it, as /healthz's body does.
    else if (slot.current && reply.statusCode !== 401 && reply.statusCode !== 404)
      reply.header('x-model-version', String(slot.current.version));
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.log.level === 'debug' || request.log.level === 'trace')
      request.log.debug(
        {
          method: request.method,
          url: request.url,
          remoteAddress: request.ip,
          statusCode: reply.statusCode,
          ms: reply.elapsedTime,
        },
        'answered',
      );
    if (request.routeOptions.config.predict) {
      const route = request.routeOptions.url ?? 'unknown';
      metrics.observe(chosenVersion.get(request), route, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
  });
}

function registerOperationRoutes(
  app: FastifyInstance,
  core: PredictCore,
  follower: DeploymentFollower,
  metrics: ServingMetrics,
  { healthRoute, keysOn }: { healthRoute?: string; keysOn: boolean },
): void {
  const live = () => Promise.resolve({ status: 'ok', model: core.modelName, version: core.slot.current?.version });
  app.get('/healthz', live);
  if (healthRoute && healthRoute !== '/healthz') app.get(healthRoute, live);
  app.get('/readyz', (_request, reply) => {
    const loaded = core.slot.current;
    return reply.status(loaded ? 200 : 503).send({
      ready: !!loaded,
      model: core.modelName,
      version: loaded?.version,
      routing: core.slot.routing,
      lastSwapFailure: follower.lastFailure,
    });
  });
  const model = (): PlaygroundModel => {
    const p = core.slot.current!.predictor;
    const { maxInstances, bodyLimit } = core.limits;
    return { name: core.modelName, task: p.task, classes: p.classes, features: p.features, maxInstances, bodyLimit };
  };
  // Open to a browser (it cannot send a key on navigation); with keys on, the page holds no schema and loads it from
  // /playground/model with the key typed into it.
  app.get('/playground', (_request, reply) => {
    const page = playgroundHtml({ name: core.modelName, model: keysOn ? undefined : model() });
    return reply.header('content-type', 'text/html; charset=utf-8').send(page);
  });
  app.get('/playground/model', () => Promise.resolve(playgroundModel(model())));
  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(body);
  });
}

function sendError(limits: ServeLimits, err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const answer = errorAnswer(err, limits, request.url);
  logRefusal(request.log, answer, err);
  for (const [name, value] of answer.headers) void reply.header(name, value);
  return reply.status(answer.status).send(answer.body);
}

/**
 * Whether a request that expects `100 Continue` will be read: not when its Content-Length is over the body limit, nor,
 * with API keys on, without one valid key (the health probes take no body).
 */
function bodyWanted(request: http.IncomingMessage, bodyLimit: number, keys: readonly Buffer[]): boolean {
  if (Number(request.headers['content-length'] ?? 0) > bodyLimit) return false;
  if (keys.length === 0) return true;
  return request.headersDistinct.authorization?.length === 1 && !checkKey(request.headers.authorization, keys);
}
