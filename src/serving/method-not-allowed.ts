/**
 * 405 for the methods a predict route does not take, with the Allow header the status requires (RFC 9110 §15.5.6):
 * otherwise `GET /v1/models/churn:predict` reads as the metadata of a model "churn:predict" (404), and a PUT as an
 * unknown route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mlopsError } from '../errors';

/** Methods answered with 405 on a POST-only route (HEAD follows GET). */
const otherMethods = ['GET', 'PUT', 'DELETE', 'PATCH'] as const;

/**
 * Answers every method of `otherMethods` that `url` has no route for with 405 (Allow: POST). `check` runs first and
 * throws when the URL is not the predict route after all (a `/v1/models/{model}:explain`).
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  url: string,
  check: (request: FastifyRequest) => void = () => undefined,
): void {
  for (const method of otherMethods) {
    if (app.hasRoute({ method, url })) continue;
    app.route({
      method,
      url,
      handler: (request) => {
        check(request);
        throw methodNotAllowed(request);
      },
    });
  }
}

/** A predict route reached with another method than POST; the error handler sets the Allow header from `allowed`. */
export function methodNotAllowed(request: FastifyRequest): Error {
  return mlopsError('MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED', {
    method: request.method,
    url: request.url.slice(0, 200),
    allowed: 'POST',
  });
}
