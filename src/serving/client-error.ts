/**
 * Answers to what node:http refuses before fastify sees a request: its `clientError` event (through fastify's
 * `clientErrorHandler`), and the fast lane's own timeouts, which it hands to the same listeners — a head that is not
 * valid HTTP/1.1, a head over the size limit, a request that did not arrive in full in time — and its
 * `checkExpectation` event (an `Expect` other than 100-continue). Each is a catalogued JSON error like every other
 * refusal of the server, with a request id, and the connection is closed (after a parse error the parser cannot find
 * the next request's start; an unmet expectation leaves a body nobody will read).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { quoteText } from '../contracts/message-text';
import { mlopsError } from '../errors';
import { type ErrorAnswer, errorAnswer } from './error-answer';
import { requestIdFor } from './http-body';
import type { ServeLimits } from './predict-core';

/** Called with each refusal's code and status (the server counts them under its `(unparsed)` route). */
type OnRefusal = (code: string, status: number) => void;

/** node:http's parse errors carry llhttp's code and reason (`Duplicate Content-Length`); ours are built from them. */
type ConnectionError = Error & { code?: string; reason?: string };

export function answerClientError(
  err: ConnectionError,
  socket: Socket,
  limits: ServeLimits & { requestTimeoutMs: number },
  onRefusal: OnRefusal,
): void {
  // A connection reset (or one already closed) has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = errorAnswer(refusalOf(err, limits), limits, '');
  onRefusal(answer.code, answer.status);
  if (socket.writable) {
    const { head, body } = closingAnswer(answer, randomUUID());
    const lines = Object.entries(head).map(([name, value]) => `${name}: ${value}`);
    const statusLine = `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? 'Bad Request'}`;
    socket.end(`${[statusLine, ...lines].join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroySoon();
}

/** node:http's `checkExpectation`: the request's head was read, its `Expect` names nothing the server does. */
export function answerExpectationFailed(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  limits: ServeLimits,
  onRefusal: OnRefusal,
): void {
  const refusal = mlopsError('MLOPS_ERR_SERVE_EXPECTATION_FAILED', {
    expect: quoteText(String(request.headers.expect)).slice(1, -1),
  });
  const answer = errorAnswer(refusal, limits, request.url ?? '');
  onRefusal(answer.code, answer.status);
  const { head, body } = closingAnswer(answer, requestIdFor(request.headers['x-request-id']));
  response.writeHead(answer.status, head).end(body);
}

/** The head and body of a catalogued refusal that ends its connection. */
function closingAnswer(answer: ErrorAnswer, requestId: string): { head: Record<string, string>; body: string } {
  const body = JSON.stringify(answer.body);
  const head = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    connection: 'close',
  };
  return { head, body };
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
