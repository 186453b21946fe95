/**
 * The fast lane: the model server's HTTP/1.1 server answers plain prediction requests itself, on the connection's
 * socket, without node:http's per-request objects and fastify's request cycle; every other request goes to
 * node:http and fastify as before.
 *
 * A connection starts in the lane. Each request's head is read by a strict parser that accepts only the plainest
 * form: `HTTP/1.1`, CRLF line ends, one `Host`, a `Content-Length` within the body limit, no `Transfer-Encoding`,
 * `Expect`, `Upgrade`, `Proxy-Connection` or `Content-Encoding`, no header twice, no tab and no character outside what
 * RFC 9110 allows, and a method and path the lane's handler takes (the predict routes). Anything else, and any request
 * the parser is unsure of, hands
 * the connection with every byte not yet answered to node:http (its `connection` listener, as if the socket had
 * just been accepted): from then on node:http's parser, limits and timeouts apply, and fastify answers, errors
 * included. So the lane never answers a request it could misread; it only skips the general machinery for the
 * requests it knows.
 *
 * Within the lane, requests on a connection are answered one at a time, in order (a pipelined request waits, the
 * socket paused, until the one before it is written); a head must arrive within the server's `headersTimeout` and
 * the whole request within its `requestTimeout`; a request timed out, or cut short by the end of the client's
 * stream, is answered by the server's `clientError` listeners, as node:http has them answer its own (fastify: 408 or
 * 400, and close). An idle connection closes after `keepAliveTimeout`. A `Connection: close` request is answered and
 * the connection closed (bytes behind it dropped, as node:http does). Once the server closes, idle connections close
 * at once and busy ones after their answer (`Connection: close`). Every request answered in the lane is answered as
 * it would be without it; `test/serving/fast-lane.test.ts` and `fast-lane-fuzz.test.ts` compare the two byte by byte.
 * Where they differ is where node:http loses an answer: bytes it cannot parse behind a request in flight make it
 * answer 400 and close before that request's answer is written; the lane has answered the request by then.
 */
import http from 'node:http';
import type { Socket } from 'node:net';

/** A request head as the lane read it: header names in lower case, each present at most once. */
export interface LaneHead {
  method: string;
  path: string;
  headers: ReadonlyMap<string, string>;
}

export interface LaneAnswer {
  status: number;
  /** Header lines besides content-type, content-length, date and connection. */
  headers: readonly (readonly [string, string])[];
  /** JSON text (sent as `application/json; charset=utf-8`). */
  body: string;
}

export interface LaneHandler {
  /** True when the lane may answer a request with this head (its body not read yet); false hands it to node:http. */
  accepts(head: LaneHead): boolean;
  /** The answer to an accepted request; never rejects (a failure is an answer too). */
  answer(head: LaneHead, body: Buffer, socket: Socket): Promise<LaneAnswer>;
}

/** node:http's default limit on a request head (`--max-http-header-size`). */
const maxHeadBytes = 16 * 1024;
/** Header lines the lane reads; more go to node:http. */
const maxHeaderLines = 64;

const requestLine = /^([A-Z]+) (\/[!-~]*) HTTP\/1\.1$/;
/**
 * A header field: a token name, optional spaces, a value of visible characters and spaces (RFC 9110). A tab, which
 * node:http takes in some places and not in others, sends the request there.
 */
const headerLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): *([\x20-\x7e\x80-\xff]*?) *$/;
/**
 * Headers that change how a request's bytes are read or how the connection is kept, or ask for more than an answer:
 * node:http handles them (it reads `Proxy-Connection` as `Connection`).
 */
const handedOff = new Set(['transfer-encoding', 'expect', 'upgrade', 'te', 'http2-settings', 'proxy-connection']);

const lanePrefix = Buffer.from('POST /');

/**
 * False when the start of a request already shows the lane will not take it: another method, or a line ending that
 * is not CRLF (node:http refuses those at once, where the lane would wait for the end of a head that never comes).
 */
function couldBeLaneHead(buf: Buffer): boolean {
  const n = Math.min(buf.length, lanePrefix.length);
  if (buf.compare(lanePrefix, 0, n, 0, n) !== 0) return false;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return false;
  for (let i = buf.indexOf(13); i >= 0 && i < buf.length - 1; i = buf.indexOf(13, i + 1))
    if (buf[i + 1] !== 10) return false;
  return true;
}

type Parsed =
  | { kind: 'incomplete' }
  | { kind: 'other' }
  | { kind: 'lane'; head: LaneHead; headEnd: number; length: number; close: boolean };

/** Reads one request head at the start of `buf`; `other` when the lane must not answer it. */
function parseHead(buf: Buffer, bodyLimit: number, handler: LaneHandler): Parsed {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > maxHeadBytes ? { kind: 'other' } : { kind: 'incomplete' };
  if (end > maxHeadBytes) return { kind: 'other' };
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  if (lines.length > maxHeaderLines + 1) return { kind: 'other' };
  const first = requestLine.exec(lines[0]!);
  if (!first) return { kind: 'other' };
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const field = headerLine.exec(lines[i]!);
    if (!field) return { kind: 'other' };
    const name = field[1]!.toLowerCase();
    if (headers.has(name) || handedOff.has(name)) return { kind: 'other' };
    headers.set(name, field[2]!);
  }
  const lengthText = headers.get('content-length');
  if (!headers.has('host') || lengthText === undefined || !/^\d{1,10}$/.test(lengthText)) return { kind: 'other' };
  const length = Number(lengthText);
  if (length === 0 || length > bodyLimit) return { kind: 'other' };
  const encoding = headers.get('content-encoding');
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return { kind: 'other' };
  const connection = headers.get('connection')?.toLowerCase();
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') return { kind: 'other' };
  const head: LaneHead = { method: first[1]!, path: first[2]!, headers };
  if (!handler.accepts(head)) return { kind: 'other' };
  return { kind: 'lane', head, headEnd: end + 4, length, close: connection === 'close' };
}

/** The Date header's value, made at most once a second (as node:http does). */
let dateText = '';
let dateSecond = 0;
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** One connection in the lane. */
class LaneConnection {
  /** The bytes of a request not yet whole (requests behind one in flight wait in the paused socket). */
  #pending: Buffer | undefined;
  #busy = false;
  #ended = false;
  #deadline: NodeJS.Timeout | undefined;
  #deadlineKind: 'head' | 'request' = 'head';
  /** While a body of known length is still arriving: its bytes so far (`#pending` holds the first of them). */
  #bodyWaits: { chunks: Buffer[]; length: number; need: number } | undefined;
  /** When the first byte of the request being read arrived (0: none is being read). */
  #requestStarted = 0;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);
  readonly #onEnd = () => this.#end();
  readonly #onError = () => this.socket.destroy();
  readonly #onTimeout = () => this.socket.destroy();
  readonly #onClose = () => this.#release();

  constructor(
    readonly socket: Socket,
    readonly lane: FastLane,
  ) {
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('timeout', this.#onTimeout);
    socket.on('close', this.#onClose);
    this.#idle();
  }

  /** True when nothing is in flight or waiting: closing the connection loses nothing. */
  get idle(): boolean {
    return !this.#busy && this.#pending === undefined;
  }

  #receive(chunk: Buffer): void {
    if (this.#bodyWaits) {
      // The rest of a body of known length: gathered, and joined once (not copied again with every chunk).
      const waits = this.#bodyWaits;
      waits.chunks.push(chunk);
      waits.length += chunk.length;
      if (waits.length < waits.need) return;
      this.#bodyWaits = undefined;
      this.#pending = Buffer.concat(waits.chunks, waits.length);
    } else this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    if (!this.#busy) this.#next();
  }

  /** Answers the request at the front of the pending bytes, if it is whole; hands the connection over if it is not for the lane. */
  #next(): void {
    const buf = this.#pending;
    if (!buf) return this.#idle();
    const { handler, bodyLimit } = this.lane;
    const parsed = handler ? parseHead(buf, bodyLimit, handler) : ({ kind: 'other' } as const);
    if (parsed.kind === 'other' || (parsed.kind === 'incomplete' && !couldBeLaneHead(buf))) return this.#handOver();
    if (parsed.kind === 'incomplete') return this.#wait(true);
    const need = parsed.headEnd + parsed.length;
    if (buf.length < need) {
      this.#bodyWaits = { chunks: [buf], length: buf.length, need };
      return this.#wait(false);
    }
    this.#clearDeadline();
    this.#requestStarted = 0;
    const bodyEnd = parsed.headEnd + parsed.length;
    const body = buf.subarray(parsed.headEnd, bodyEnd);
    this.#pending = undefined;
    this.#busy = true;
    this.socket.pause();
    // Bytes after this request (a pipelined request) go back into the paused socket and come again once this one is
    // answered; held there, they also keep the socket from ending, so the connection can still be handed over.
    if (bodyEnd < buf.length) this.socket.unshift(buf.subarray(bodyEnd));
    handler!.answer(parsed.head, body, this.socket).then(
      (answer) => this.#send(answer, parsed.close),
      // A handler answers its failures; should one escape, the connection is closed rather than left waiting.
      () => this.socket.destroy(),
    );
  }

  #send(answer: LaneAnswer, clientClose: boolean): void {
    this.#busy = false;
    this.lane.answered++;
    if (this.socket.destroyed) return;
    const close = clientClose || this.lane.closing || this.#ended;
    let head = `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? 'Unknown'}\r\ncontent-type: application/json; charset=utf-8\r\n`;
    for (const [name, value] of answer.headers) head += `${name}: ${value}\r\n`;
    head += `content-length: ${Buffer.byteLength(answer.body)}\r\nDate: ${httpDate()}\r\n`;
    head += close
      ? 'Connection: close\r\n\r\n'
      : `Connection: keep-alive\r\nKeep-Alive: timeout=${this.lane.keepAliveSeconds}\r\n\r\n`;
    const flushed = this.socket.write(head + answer.body);
    if (close) {
      // As node:http does: the answer is written, then the socket closes (bytes the client sent after it are dropped).
      this.#detach();
      this.socket.destroySoon();
      return;
    }
    // A client that does not read its answers is not sent more until it has read these (node:http does the same).
    if (flushed) this.#resume();
    else this.socket.once('drain', () => this.#resume());
  }

  #resume(): void {
    if (this.socket.destroyed) return;
    this.socket.resume();
    this.#next();
  }

  /**
   * Waits for the rest of a request: its head within the server's `headersTimeout`, the whole request within its
   * `requestTimeout`, both counted from the request's first byte.
   */
  #wait(headMissing: boolean): void {
    this.socket.setTimeout(0);
    this.#requestStarted ||= Date.now();
    const kind = headMissing ? 'head' : 'request';
    if (this.#deadline && this.#deadlineKind === kind) return;
    this.#clearDeadline();
    const { headersTimeout, requestTimeout } = this.lane.server;
    const limit = headMissing ? headersTimeout : requestTimeout;
    if (limit > 0) {
      this.#deadline = setTimeout(() => this.#timedOut(), Math.max(0, this.#requestStarted + limit - Date.now()));
      this.#deadline.unref();
      this.#deadlineKind = kind;
    }
  }

  #timedOut(): void {
    this.#clientError('ERR_HTTP_REQUEST_TIMEOUT', 'the request did not arrive in time');
  }

  /**
   * A request node:http would refuse as the client's error (timed out, or cut short by the end of the stream): the
   * server's `clientError` listeners answer it, as they answer node:http's (fastify's: a 408 or 400 and close), or
   * node:http's own answer when there are none.
   */
  #clientError(code: string, message: string): void {
    this.#detach();
    const { server } = this.lane;
    if (server.listenerCount('clientError') > 0) {
      server.emit('clientError', Object.assign(new Error(message), { code, reason: message }), this.socket);
      return;
    }
    const status = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    this.socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }

  #idle(): void {
    this.#clearDeadline();
    this.#requestStarted = 0;
    if (this.#ended) {
      this.#detach();
      this.socket.destroySoon();
    } else if (this.lane.closing) this.socket.destroy();
    else this.socket.setTimeout(this.lane.server.keepAliveTimeout);
  }

  /** The client sent its last byte: answer what is whole, then close; a request cut short is the client's error. */
  #end(): void {
    this.#ended = true;
    if (this.#busy) return;
    if (this.#pending) this.#clientError('HPE_INVALID_EOF_STATE', 'the stream ended within a request');
    else this.#idle();
  }

  /** Called when the server closes: an idle connection closes now, a busy one after its answer. */
  closeIfIdle(): void {
    if (this.idle) this.socket.destroy();
  }

  #clearDeadline(): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  /** Gives the socket, and every byte not yet answered, to node:http's connection handling. */
  #handOver(): void {
    const pending = this.#pending;
    this.#detach();
    // Pending bytes are handed over from a `data` event, before the socket can end; should it have ended all the
    // same, they cannot go back into it, and the connection closes.
    if (this.socket.readableEnded) {
      this.socket.destroy();
      return;
    }
    if (pending) this.socket.unshift(pending);
    if (this.socket.isPaused()) this.socket.resume();
    this.lane.handOver(this.socket);
  }

  #detach(): void {
    this.#clearDeadline();
    this.#pending = undefined;
    this.#bodyWaits = undefined;
    this.socket.setTimeout(0);
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('error', this.#onError);
    this.socket.off('timeout', this.#onTimeout);
    this.socket.off('close', this.#onClose);
    // A closed socket still errors on a late write; nothing is left to answer on it.
    if (!this.socket.listenerCount('error')) this.socket.on('error', () => undefined);
    this.#release();
  }

  #release(): void {
    this.#clearDeadline();
    this.lane.connections.delete(this);
  }
}

/**
 * Installs the lane on a node:http server: its accepted connections go to the lane first. Until `serve` names a
 * handler, every connection goes straight to node:http.
 */
export class FastLane {
  handler: LaneHandler | undefined;
  closing = false;
  /** Requests the lane answered, and connections it handed to node:http (metrics). */
  answered = 0;
  handedOver = 0;
  readonly connections = new Set<LaneConnection>();
  readonly #nodeConnection: (socket: Socket) => void;

  constructor(
    readonly server: http.Server,
    readonly bodyLimit: number,
  ) {
    const [listener] = server.listeners('connection') as ((socket: Socket) => void)[];
    if (!listener || server.listenerCount('connection') !== 1)
      throw new Error("the fast lane needs node:http's own connection listener, and only it");
    this.#nodeConnection = listener;
    server.removeListener('connection', listener);
    server.on('connection', (socket: Socket) => {
      if (!this.handler || this.closing) return this.handOver(socket);
      this.connections.add(new LaneConnection(socket, this));
    });
  }

  get keepAliveSeconds(): number {
    return Math.floor(this.server.keepAliveTimeout / 1000);
  }

  serve(handler: LaneHandler): void {
    this.handler = handler;
  }

  handOver(socket: Socket): void {
    this.handedOver++;
    this.#nodeConnection.call(this.server, socket);
  }

  /** The server is closing: idle lane connections close now, busy ones after their answer. */
  close(): void {
    this.closing = true;
    for (const connection of this.connections) connection.closeIfIdle();
  }
}
