/**
 * Vertex AI and KServe V1 routes. Both post `{"instances": [...], "parameters"?: ...}` to a `:predict` verb; the
 * answer carries Vertex's PredictResponse fields (`predictions`, `deployedModelId`, `model`, `modelVersionId`), of
 * which KServe V1 clients read `predictions`. The colon verb is matched by hand: `/v1/models/:target` with
 * `target = "<model>:predict"` (find-my-way has no param-then-literal-colon form).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { instancesOf, jsonBody } from './http-body';
import { methodNotAllowed, routeNotFound } from './method-not-allowed';
import type { AllowedMethods } from './method-not-allowed';
import type { PredictContext, PredictCore } from './predict-core';

/** The URL of the model metadata (GET) and of the KServe V1 predict verb (POST). */
export const modelUrl = '/v1/models/:target';
export const vertexPath = '/v1/projects/:project/locations/:location/endpoints/:target';

/**
 * The methods of the v1 URLs whose target may be a model (GET) or `<model>:predict` (POST); a target with another
 * verb is no route at all.
 */
export const v1AllowedMethods: Record<string, AllowedMethods> = {
  [modelUrl]: (request) => allowedOn(targetOf(request), ['GET', 'HEAD']),
  [vertexPath]: (request) => allowedOn(targetOf(request), undefined),
};

const targetOf = (request: FastifyRequest): string => (request.params as { target: string }).target;

function allowedOn(target: string, forModel: readonly string[] | undefined): readonly string[] | undefined {
  if (isVerb(target)) return ['POST'];
  return target.includes(':') ? undefined : forModel;
}

export function registerV1Routes(app: FastifyInstance, core: PredictCore, aipPredictRoute?: string): void {
  const stats = () => app.serving.metrics.versionStats();
  app.get('/v1/models', () => Promise.resolve({ models: [core.modelName] }));
  app.get<{ Params: { target: string } }>(modelUrl, (request) => {
    if (isVerb(request.params.target)) throw methodNotAllowed(request, ['POST']);
    return Promise.resolve(describeModel(core, request.params.target));
  });
  app.get<{ Params: { target: string } }>('/v1/models/:target/stats', (request) => {
    core.checkModel(request.params.target);
    return Promise.resolve({ model: core.modelName, routing: core.slot.routing, versions: stats() });
  });
  const config = { predict: true };
  for (const url of [modelUrl, vertexPath]) {
    app.post<{ Params: { target: string } }>(url, { config }, (request, reply) =>
      predict(core, verbTarget(url, request), request, reply),
    );
  }
  if (aipPredictRoute)
    app.post(aipPredictRoute, { config }, (request, reply) => predict(core, core.modelName, request, reply));
}

/** True for `<name>:predict` (a model name has no colon). */
const isVerb = (target: string): boolean => target.lastIndexOf(':') > 0 && target.endsWith(':predict');

/** The model name of a POST to `<name>:predict`; a model's URL takes other methods, anything else is no route. */
function verbTarget(url: string, request: FastifyRequest): string {
  const target = targetOf(request);
  if (isVerb(target)) return target.slice(0, target.lastIndexOf(':'));
  const allowed = v1AllowedMethods[url]!(request);
  throw allowed ? methodNotAllowed(request, allowed) : routeNotFound(request);
}

async function predict(core: PredictCore, name: string, request: FastifyRequest, reply: FastifyReply) {
  const ctx: PredictContext = { requestId: request.id };
  try {
    const body = await predictV1(core, name, ctx, () => jsonBody(request));
    void reply.type('application/json; charset=utf-8');
    return body;
  } finally {
    // The version that answered, also when it refused the request (metrics count its 4xx).
    if (ctx.answeredBy !== undefined) void reply.header('x-model-version', String(ctx.answeredBy));
  }
}

/**
 * A v1 predict request's answer, Vertex's PredictResponse as JSON text (the route and the fast lane both answer
 * with it). The model is routed before the body is read (`body` decodes it), so an unknown model is a 404 whatever
 * the body holds.
 */
export async function predictV1(
  core: PredictCore,
  name: string,
  ctx: PredictContext,
  body: () => unknown,
): Promise<string> {
  const chosen = core.route(name, ctx);
  const instances = instancesOf(body());
  const outcome = await core.predictJson(name, instances, ctx, chosen);
  // Built around the predictions' JSON text.
  const version = JSON.stringify(String(outcome.version));
  return `{"predictions":[${outcome.predictions.join(',')}],"deployedModelId":${version},"model":${JSON.stringify(core.modelName)},"modelVersionId":${version}}`;
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
