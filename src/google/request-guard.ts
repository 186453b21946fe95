/**
 * Keeps a client library's own failure inside the call that caused it. @google-cloud/common (v6) runs a request's
 * `onAuthenticated` callback from an async function whose promise nobody awaits (util.js, `prepareRequest`). An error
 * thrown in that callback becomes an unhandled rejection, which ends the Node process, and the request's stream never
 * ends. The known case: without credentials the library sends the request unauthenticated with no headers, and
 * teeny-request's multipart upload (`table.load`) then throws `TypeError: Cannot set properties of undefined (setting
 * 'Content-Type')`, which killed the pipeline worker and every worker that retried the step.
 */

type OnAuthenticated = (err: Error | null, reqOpts?: unknown) => void;
type MakeAuthenticatedRequest = (reqOpts: unknown, options?: unknown) => unknown;

/**
 * Wraps the service's `makeAuthenticatedRequest` so that an error thrown by an `onAuthenticated` callback is handed
 * back to that callback as the request's error: the callers in @google-cloud/common then destroy the request's stream
 * with it, and the caller's promise (e.g. `table.load`) rejects. Returns the service.
 */
export function guardAuthenticatedRequests<T extends object>(service: T): T {
  const target = service as unknown as { makeAuthenticatedRequest?: MakeAuthenticatedRequest };
  const original = target.makeAuthenticatedRequest;
  if (typeof original !== 'function') return service;
  const guarded: MakeAuthenticatedRequest = (reqOpts, options) => {
    const callback = (options as { onAuthenticated?: OnAuthenticated } | undefined)?.onAuthenticated;
    if (typeof options !== 'object' || options === null || typeof callback !== 'function')
      return original(reqOpts, options);
    const onAuthenticated: OnAuthenticated = (err, authenticated) => {
      try {
        callback(err, authenticated);
      } catch (thrown) {
        if (err) throw thrown;
        callback(thrown instanceof Error ? thrown : new Error(String(thrown)));
      }
    };
    return original(reqOpts, { ...options, onAuthenticated });
  };
  // The factory's function also carries the auth client and helpers (`authClient`, `getCredentials`).
  target.makeAuthenticatedRequest = Object.assign(guarded, original);
  return service;
}
