/**
 * 405 for every method a route does not take, with the Allow header the status requires (RFC 9110 §15.5.6): a path
 * the server routes answers OPTIONS, TRACE, PUT or PROPFIND with 405 naming the methods it takes, never with a 404
 * that reads as "no such path"; only a path no route matches is a 404. So `GET /v1/models/churn:predict` is not read
 * as the metadata of a model "churn:predict", nor a PUT as an unknown route.
 */
import http from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mlopsError } from '../errors';
import { requestPath } from './http-body';

/** The methods a route URL takes for one request; undefined: not a route after all (a 404). */
export type AllowedMethods = (request: FastifyRequest) => readonly string[] | undefined;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks a route that only answers 405 (not one of the methods the URL takes). */
    refusal?: boolean;
  }
}

/**
 * Routes every method Node's HTTP parser accepts (fastify routes nine by default, and answers the others with 404
 * whatever the path), except CONNECT, which Node hands to a `connect` listener instead of the request handler; then
 * records the methods each route URL takes as routes are registered. Call before registering any route.
 */
export function trackRoutes(app: FastifyInstance): Map<string, Set<string>> {
  for (const method of http.METHODS)
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method);
  const routes = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if (route.config?.refusal) return;
    const methods = routes.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    // fastify answers HEAD on every GET route.
    if (methods.has('GET')) methods.add('HEAD');
    routes.set(route.url, methods);
  });
  return routes;
}

/**
 * Answers every other method on each route URL `trackRoutes` recorded with 405 and an Allow header. `allowedBy` names,
 * per URL, the methods of one request where they depend on its parameters (`/v1/models/:target`: GET for a model,
 * POST for `<model>:predict`); by default they are the methods registered on the URL.
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  routes: Map<string, Set<string>>,
  allowedBy: Record<string, AllowedMethods> = {},
): void {
  for (const [url, methods] of [...routes]) {
    const allowed = allowedBy[url] ?? (() => [...methods]);
    for (const method of app.supportedMethods) {
      if (methods.has(method) || app.hasRoute({ method, url })) continue;
      app.route({
        method,
        url,
        config: { refusal: true },
        handler: (request) => {
          const methodsHere = allowed(request);
          throw methodsHere ? methodNotAllowed(request, methodsHere) : routeNotFound(request);
        },
      });
    }
  }
}

/** A route reached with a method it does not take; the error handler sets the Allow header from `allowed`. */
export function methodNotAllowed(request: FastifyRequest, allowed: readonly string[]): Error {
  return mlopsError('MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED', {
    method: request.method,
    url: request.url.slice(0, 200),
    allowed: allowed.join(', '),
  });
}

export function routeNotFound(request: FastifyRequest): Error {
  return mlopsError('MLOPS_ERR_SERVE_ROUTE_NOT_FOUND', { method: request.method, url: requestPath(request) });
}
