/**
 * Open Inference Protocol v2 (KServe V2, Triton's HTTP API): health, server and model metadata, model readiness and
 * inference in JSON or with the binary tensor data extension. Triton's Python client sends no Content-Type header,
 * so on `/infer` a body without one is accepted (the binary framing is signalled by Inference-Header-Content-Length,
 * as in Triton's own server); any other type than JSON or application/octet-stream is refused with 415.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isMlopsError, mlopsError } from '../errors';
import type { MlopsErrorDetails } from '../errors';
import type { ApplicationFailure } from '@temporalio/common';
import { jsonCharset, mediaType, parseJson, rawBody, requestPath } from './http-body';
import { quoteText } from '../contracts/message-text';
import type { PredictContext, PredictCore } from './predict-core';
import { checkOutputs, decodeV2, encodeV2Response, outputNames, outputTensors, splitV2Body } from './v2-codec';

type ModelParams = { model: string; version?: string };

const v2Types = new Set(['application/json', 'application/octet-stream']);

export function registerV2Routes(app: FastifyInstance, core: PredictCore): void {
  app.get('/v2', () => Promise.resolve({ name: 'temporal-mlops', version: '1', extensions: ['binary_tensor_data'] }));
  app.get('/v2/health/live', () => Promise.resolve({ live: true }));
  app.get('/v2/health/ready', (_request, reply) => {
    const ready = core.slot.current !== undefined;
    return reply.status(ready ? 200 : 503).send({ ready });
  });
  app.get('/v2/models', () => Promise.resolve({ models: [core.modelName] }));
  for (const prefix of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    app.get<{ Params: ModelParams }>(prefix, (request) => Promise.resolve(metadata(core, request.params)));
    app.get<{ Params: ModelParams }>(`${prefix}/ready`, (request) => {
      core.checkModel(request.params.model, request.params.version);
      return Promise.resolve({ name: core.modelName, ready: true });
    });
    app.post<{ Params: ModelParams }>(`${prefix}/infer`, { config: { predict: true } }, (request, reply) =>
      infer(core, request, reply),
    );
  }
}

function metadata(core: PredictCore, params: ModelParams) {
  const loaded = core.checkModel(params.model, params.version);
  const p = loaded.predictor;
  return {
    name: core.modelName,
    versions: [String(loaded.version)],
    platform: 'onnxruntime_onnx',
    inputs: p.features.map((f) => ({ name: f.name, datatype: f.type === 'number' ? 'FP64' : 'BYTES', shape: [-1] })),
    outputs:
      p.task === 'regression'
        ? [{ name: 'prediction', datatype: 'FP32', shape: [-1] }]
        : [
            { name: 'label', datatype: 'BYTES', shape: [-1] },
            // Which column of `probabilities` is which class: the protocol's metadata has no field for it, so it is a
            // parameter of the output (v1's metadata lists `classes` too).
            {
              name: 'probabilities',
              datatype: 'FP32',
              shape: [-1, p.classes.length],
              parameters: { classes: p.classes },
            },
          ],
  };
}

async function infer(core: PredictCore, request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) {
  const { model, version } = request.params;
  const ctx: PredictContext = { requestId: request.id, version };
  const loaded = core.route(model, ctx);
  const body = rawBody(request);
  if (body.length === 0) throw mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', { reason: 'the body is empty' });
  const type = mediaType(request);
  if (type !== undefined && !v2Types.has(type))
    throw mlopsError('MLOPS_ERR_SERVE_MEDIA_TYPE', {
      contentType: quoteText(type),
      path: requestPath(request),
      accepted: 'application/json, or application/octet-stream with Inference-Header-Content-Length',
    });
  if (type === 'application/json') jsonCharset(request);
  const { json, binary } = splitV2Body(body, request.headers['inference-header-content-length']);
  const doc = parseJson(json);
  let decoded;
  let outcome;
  try {
    // Inputs are checked against the chosen version's schema, so a refusal from here on is that version's (the
    // canary's judge compares the versions' refusals), as a v1 instance's is.
    decoded = decodeV2(
      doc,
      binary,
      loaded.predictor.features,
      core.limits.maxInstances,
      loaded.predictor.unknownFieldNote,
    );
    checkOutputs(decoded.request, outputNames(loaded.predictor.task));
    outcome = await core.predict(model, decoded.instances, ctx, loaded);
  } catch (err) {
    throw isMlopsError(err, 'MLOPS_ERR_SERVE_INPUT_INVALID') ? inV2Terms(err) : err;
  } finally {
    void reply.header('x-model-version', String(ctx.answeredBy ?? loaded.version));
  }
  const tensors = outputTensors(outcome.predictions, loaded.predictor.classes);
  const header = {
    model_name: core.modelName,
    model_version: String(outcome.version),
    ...(typeof decoded.request.id === 'string' ? { id: decoded.request.id } : {}),
  };
  const encoded = encodeV2Response(header, tensors, decoded.request);
  if (encoded.headerLength === undefined) return encoded.body;
  return reply
    .header('content-type', 'application/octet-stream')
    .header('inference-header-content-length', String(encoded.headerLength))
    .send(encoded.body);
}

/**
 * The Predictor's problems as a v2 client sent them: instance i is row i of every input, and the fix names the v2
 * request, not the V1 `instances` one.
 */
function inV2Terms(err: ApplicationFailure): Error {
  const { problems } = (err.details![0] as MlopsErrorDetails).params;
  return mlopsError('MLOPS_ERR_SERVE_V2_INPUT_INVALID', {
    problems: String(problems).replace(/(^|; )instances\[(\d+)\]/g, '$1row $2'),
  });
}
