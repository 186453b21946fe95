/**
 * The model server: a registered model version (by alias) served over HTTP with onnxruntime-node. `buildServer`
 * builds the app without listening, so tests inject requests; only `server.ts` calls `listen`.
 *
 *   GET  /healthz                       liveness and the loaded version
 *   GET  /v1/models/:model              model metadata: version, task, classes, the features a request must carry
 *   POST /v1/models/:model/predict      {"instances": [{feature: value, …}, …]} → predictions
 */
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { FittedTransform } from '../contracts/datasets';
import { errorCatalogue, isMlopsError, mlopsError } from '../errors';
import type { ErrorSpec } from '../errors';
import { loadOnnxModel } from '../models/onnx-model';
import type { OnnxModel } from '../models/onnx-model';
import { resolveAlias } from '../registry/model-registry';
import { applyTransform } from './apply-transform';
import type { RawInstance } from './apply-transform';

export interface ServerDeps {
  store: ArtifactStore;
  modelName: string;
  alias: string;
  /** fastify logger; false in tests. */
  logger?: boolean | { level: string };
}

/** Requests carry at most this many instances; larger batches should be split by the client. */
const maxInstances = 1024;

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  // Loaded once, at startup: a server that cannot load its model fails to start instead of failing requests.
  const record = await resolveAlias(deps.store, deps.modelName, deps.alias);
  const transform = await readJson<FittedTransform>(deps.store, record.transformUri);
  const model = await loadOnnxModel(
    await deps.store.read(record.modelUri),
    record.modelUri,
    transform.outputColumns.length,
  );
  const app = Fastify({ logger: deps.logger ?? false });
  app.addHook('onClose', () => model.close());
  app.setErrorHandler((err: Error & { validation?: unknown }, _request, reply) => {
    const code = isMlopsError(err) ? err.type! : err.validation ? 'MLOPS_ERR_SERVE_INPUT_INVALID' : undefined;
    if (!code) {
      app.log.error(err);
      return reply
        .status(500)
        .send({ error: mlopsError('MLOPS_ERR_SERVE_INTERNAL').message, code: 'MLOPS_ERR_SERVE_INTERNAL' });
    }
    const status = (errorCatalogue as Record<string, ErrorSpec>)[code]?.httpStatus ?? 400;
    const message = isMlopsError(err) ? err.message : `${code}: Prediction request is invalid: ${err.message}`;
    return reply.status(status).send({ error: message, code });
  });

  const metadata = {
    model: deps.modelName,
    alias: deps.alias,
    version: record.version,
    task: transform.task,
    classes: transform.target.classes,
    features: transform.features.map((f) =>
      f.kind === 'numeric'
        ? { name: f.name, type: 'number' }
        : { name: f.name, type: 'category', categories: f.categories },
    ),
  };
  app.get('/healthz', () => Promise.resolve({ status: 'ok', model: deps.modelName, version: record.version }));
  app.get<{ Params: { model: string } }>('/v1/models/:model', (request) => {
    checkModel(request.params.model, deps.modelName);
    return Promise.resolve(metadata);
  });
  app.post<{ Params: { model: string }; Body: { instances: RawInstance[] } }>(
    '/v1/models/:model/predict',
    {
      schema: {
        body: {
          type: 'object',
          required: ['instances'],
          additionalProperties: false,
          properties: { instances: { type: 'array', minItems: 1, maxItems: maxInstances, items: { type: 'object' } } },
        },
      },
    },
    async (request) => {
      checkModel(request.params.model, deps.modelName);
      const predictions = await predict(model, transform, request.body.instances);
      return { model: deps.modelName, version: record.version, predictions };
    },
  );
  return app;
}

function checkModel(requested: string, served: string): void {
  if (requested !== served)
    throw mlopsError('MLOPS_ERR_REGISTRY_NOT_FOUND', { model: requested, what: 'deployment on this server' });
}

async function predict(model: OnnxModel, transform: FittedTransform, instances: RawInstance[]) {
  const width = transform.outputColumns.length;
  const features = new Float32Array(instances.length * width);
  const problems = instances.flatMap((instance, i) =>
    applyTransform(transform, instance, features, i * width).map((p) => `instances[${i}]: ${p}`),
  );
  if (problems.length > 0) throw mlopsError('MLOPS_ERR_SERVE_INPUT_INVALID', { problems: problems.join('; ') });
  const output = await model.run(features, instances.length);
  if (transform.task === 'regression') return instances.map((_, i) => ({ value: output[i]! }));
  const classes = transform.target.classes ?? [];
  return instances.map((_, i) => {
    const row = Array.from(output.subarray(i * model.outputWidth, (i + 1) * model.outputWidth));
    const best = row.indexOf(Math.max(...row));
    return { label: classes[best], probabilities: Object.fromEntries(classes.map((c, k) => [c, row[k]])) };
  });
}
