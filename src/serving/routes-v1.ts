/**
 * Vertex AI and KServe V1 routes. Both post `{"instances": [...], "parameters"?: ...}` to a `:predict` verb; the
 * answer carries Vertex's PredictResponse fields (`predictions`, `deployedModelId`, `model`, `modelVersionId`), of
 * which KServe V1 clients read `predictions`. The colon verb is matched by hand: `/v1/models/:target` with
 * `target = "<model>:predict"` (find-my-way has no param-then-literal-colon form).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mlopsError } from '../errors';
import { instancesOf, jsonBody } from './http-body';
import { methodNotAllowed, refuseOtherMethods } from './method-not-allowed';
import type { PredictContext, PredictCore } from './predict-core';

export function registerV1Routes(app: FastifyInstance, core: PredictCore, aipPredictRoute?: string): void {
  const stats = () => app.serving.metrics.versionStats();
  app.get('/v1/models', () => Promise.resolve({ models: [core.modelName] }));
  app.get<{ Params: { target: string } }>('/v1/models/:target', (request) => {
    if (isVerb(request.params.target)) throw methodNotAllowed(request);
    return Promise.resolve(describeModel(core, request.params.target));
  });
  app.get<{ Params: { target: string } }>('/v1/models/:target/stats', (request) => {
    core.checkModel(request.params.target);
    return Promise.resolve({ model: core.modelName, routing: core.slot.routing, versions: stats() });
  });
  const config = { predict: true };
  const vertexPath = '/v1/projects/:project/locations/:location/endpoints/:target';
  for (const url of ['/v1/models/:target', vertexPath]) {
    app.post<{ Params: { target: string } }>(url, { config }, (request, reply) =>
      predict(core, verbTarget(request.params.target, request), request, reply),
    );
    // Another method on `<name>:predict` is a 405; on any other target, an unknown route.
    refuseOtherMethods(app, url, (request) => verbTarget((request.params as { target: string }).target, request));
  }
  if (aipPredictRoute) {
    app.post(aipPredictRoute, { config }, (request, reply) => predict(core, core.modelName, request, reply));
    refuseOtherMethods(app, aipPredictRoute);
  }
}

/** True for `<name>:predict` (a model name has no colon). */
const isVerb = (target: string): boolean => target.lastIndexOf(':') > 0 && target.endsWith(':predict');

/** The model name of `<name>:predict`; anything else is an unknown route. */
function verbTarget(target: string, request: FastifyRequest): string {
  if (!isVerb(target))
    throw mlopsError('MLOPS_ERR_SERVE_ROUTE_NOT_FOUND', { method: request.method, url: request.url.slice(0, 200) });
  return target.slice(0, target.lastIndexOf(':'));
}

async function predict(core: PredictCore, name: string, request: FastifyRequest, reply: FastifyReply) {
  const ctx: PredictContext = { requestId: request.id };
  // Routed before the body is read, so an unknown model is a 404 whatever the body holds.
  const chosen = core.route(name, ctx);
  const instances = instancesOf(jsonBody(request));
  try {
    const outcome = await core.predictJson(name, instances, ctx, chosen);
    // Vertex's PredictResponse, built around the predictions' JSON text.
    const version = JSON.stringify(String(outcome.version));
    const body = `{"predictions":[${outcome.predictions.join(',')}],"deployedModelId":${version},"model":${JSON.stringify(core.modelName)},"modelVersionId":${version}}`;
    void reply.type('application/json; charset=utf-8');
    return body;
  } finally {
    // The version that answered, also when it refused the request (metrics count its 4xx).
    if (ctx.answeredBy !== undefined) void reply.header('x-model-version', String(ctx.answeredBy));
  }
}

function describeModel(core: PredictCore, name: string) {
  const loaded = core.checkModel(name);
  const p = loaded.predictor;
  return {
    name: core.modelName,
    ready: true,
    version: loaded.version,
    task: p.task,
    classes: p.task === 'classification' ? p.classes : undefined,
    features: p.features,
  };
}
