/**
 * Answers to what node:http refuses before a request exists (its `clientError` event, through fastify's
 * `clientErrorHandler`), and to the fast lane's own timeouts, which it hands to the same listeners: a head that is
 * not valid HTTP/1.1, a head over the size limit, a request that did not arrive in full in time. Each is a catalogued
 * JSON error like every other refusal of the server, with a request id, and the connection is closed (the parser
 * cannot find the next request's start).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { mlopsError } from '../errors';
import { errorAnswer } from './error-answer';
import type { ServeLimits } from './predict-core';

/** node:http's parse errors carry llhttp's code and reason (`Duplicate Content-Length`); ours are built from them. */
type ConnectionError = Error & { code?: string; reason?: string };

export function answerClientError(
  err: ConnectionError,
  socket: Socket,
  limits: ServeLimits & { requestTimeoutMs: number },
  onRefusal: (code: string, status: number) => void,
): void {
  // A connection reset (or one already closed) has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal = refusalOf(err, limits);
  const answer = errorAnswer(refusal, limits, '');
  onRefusal(answer.code, answer.status);
  if (socket.writable) {
    const body = JSON.stringify(answer.body);
    const headers = [
      `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? 'Bad Request'}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      `x-request-id: ${randomUUID()}`,
      'connection: close',
    ];
    socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroySoon();
}

function refusalOf(err: ConnectionError, limits: { requestTimeoutMs: number }): Error {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return mlopsError('MLOPS_ERR_SERVE_REQUEST_TIMEOUT', { limit: limits.requestTimeoutMs });
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return mlopsError('MLOPS_ERR_SERVE_HEADERS_TOO_LARGE', { limit: http.maxHeaderSize });
  // llhttp's reason names the problem without quoting the client's bytes; a request cut short reads the same whether
  // node:http or the fast lane saw it.
  const reason =
    err.code === 'HPE_INVALID_EOF_STATE'
      ? 'the connection ended within a request (its head or its body was cut short)'
      : (err.reason ?? 'unparsable');
  return mlopsError('MLOPS_ERR_SERVE_HTTP_INVALID', { reason, code: err.code ?? 'unknown' });
}
