/**
 * How the model server answers a failure, whichever path the request took (fastify's error handler, or the fast
 * lane): a client's mistake is its catalogued 4xx naming the field or limit, logged as one line without a stack; a
 * server fault is a 500 that says nothing of the server's inside, logged with its stack. On the Vertex AI REST path
 * the body has Google's error shape, so Google's clients raise a GoogleError with the gRPC code.
 */
import type { ApplicationFailure } from '@temporalio/common';
import { errorCatalogue, isMlopsError, mlopsError } from '../errors';
import type { ErrorParams, ErrorSpec, MlopsErrorDetails } from '../errors';
import type { ServeLimits } from './predict-core';

export interface ErrorAnswer {
  status: number;
  /** The catalogue code. */
  code: string;
  /** True for the server's own fault (500). */
  fault: boolean;
  headers: [string, string][];
  body: object;
}

/** A thrown error as fastify and the lane see it (fastify's own errors carry `code` and `statusCode`). */
export type ServedError = Error & { code?: string; statusCode?: number };

export function errorAnswer(err: ServedError, limits: ServeLimits, url: string): ErrorAnswer {
  const failure = clientFailure(err, limits);
  if (!failure) {
    const internal = mlopsError('MLOPS_ERR_SERVE_INTERNAL');
    const code = 'MLOPS_ERR_SERVE_INTERNAL';
    return { status: 500, code, fault: true, headers: [], body: { error: internal.message, code } };
  }
  const code = failure.type!;
  const status = (errorCatalogue as Record<string, ErrorSpec>)[code]?.httpStatus ?? 400;
  const headers: [string, string][] = [];
  if (status === 401) headers.push(['www-authenticate', 'Bearer']);
  if (status === 405) headers.push(['allow', String(paramsOf(failure).allowed)]);
  const body = url.startsWith('/v1/projects/') ? googleError(status, failure) : { error: failure.message, code };
  return { status, code, fault: false, headers, body };
}

/** The logger a refusal is written to (fastify's, pino's). */
export interface RefusalLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * A client's mistake: one line, no stack; a server fault: the error with its stack. `reqId` for a logger that does not
 * carry it already (fastify's request logger does: given twice, the line would hold the key twice).
 */
export function logRefusal(log: RefusalLogger, answer: ErrorAnswer, err: Error, reqId?: string): void {
  const id = reqId === undefined ? {} : { reqId };
  if (answer.fault) log.error({ err, ...id }, 'prediction server fault');
  else log.info({ ...id, status: answer.status, code: answer.code }, 'rejected request');
}

/** Google's JSON error shape on the Vertex AI path. */
const googleStatus: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  415: 'INVALID_ARGUMENT',
};

const paramsOf = (failure: Error): ErrorParams =>
  ((failure as ApplicationFailure).details?.[0] as MlopsErrorDetails | undefined)?.params ?? {};

function googleError(status: number, failure: Error & { type?: string | null }) {
  return {
    error: { code: status, message: failure.message, status: googleStatus[status] ?? 'UNKNOWN', reason: failure.type },
  };
}

/**
 * Catalogued errors that are the server's own fault: a model that loaded but fails when onnxruntime runs it on a
 * request (MLOPS_ERR_MODEL_INVALID) is a 500, counted against its version, never a client's 4xx.
 */
const serverFaults = new Set(['MLOPS_ERR_SERVE_INTERNAL', 'MLOPS_ERR_MODEL_INVALID']);

/** The catalogued failure of a client's mistake, or undefined for a server fault. */
function clientFailure(err: ServedError, limits: ServeLimits): (Error & { type?: string | null }) | undefined {
  if (isMlopsError(err)) return serverFaults.has(err.type ?? '') ? undefined : err;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413)
    return mlopsError('MLOPS_ERR_SERVE_BODY_TOO_LARGE', { limit: limits.bodyLimit });
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
    return mlopsError('MLOPS_ERR_SERVE_BODY_INVALID', { reason: err.message.slice(0, 200) });
  return undefined;
}
