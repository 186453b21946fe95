/**
 * A seeded differential fuzz of the model server's fast lane (`src/serving/fast-lane.ts`, `lane-predict.ts`): valid
 * predict requests are mutated (header name case, duplicated, missing and extra headers, Content-Length, whitespace,
 * tabs, bytes 0x80-0xff and control characters in values, paths, methods, bodies, HTTP versions, line endings,
 * pipelining, writes in pieces), and the identical bytes are sent on fresh connections to a server with the lane and
 * one without (`fastLane: false`). Both must give the same responses (status, body, headers but Date; a generated
 * request id counts as any other), end the exchange the same way (every answer, or the server closing), close their
 * side once the client closed its own, and never answer 5xx. The seed is in the suite's name: a failing case replays
 * with it, and its name and bytes are in the failure.
 *
 * Pipelines are made only of mutations that node:http still frames (it closes on a request it cannot parse, and loses
 * the answers in flight before it: a difference of its own, kept as one case in `differingCases`). Then 16
 * connections send valid requests to the lane while others send malformed ones.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';

import { listeningChurnServer, loyalCustomer, riskyCustomer } from '../support/served-model';
import { seededRandom } from '../support/seeded-random';

const seed = 0x1a4ef022;
/** Random cases: single requests and pipelines. */
const randomCases = 400;
/** How long one exchange may take before it counts as stalled (a failure, not a synchronisation). */
const stallMs = 2000;

class Dice {
  readonly #next: () => number;
  constructor(start: number) {
    this.#next = seededRandom(start);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

/** Stands for the body's length in a header value; replaced when the request is written. */
const LENGTH = '\u0000length\u0000';

interface HeaderLine {
  name: string;
  /** What follows the name up to the value (`: `). */
  sep: string;
  /** The value, latin-1 text (one character per byte). */
  value: string;
  eol: string;
}

/** A request before it is written: a valid predict request, then mutated. */
interface Draft {
  method: string;
  target: string;
  version: string;
  /** The request line with `{m}`, `{t}` and `{v}` for method, target and version. */
  line: string;
  headers: HeaderLine[];
  body: Buffer;
  /** The Content-Length value written for a body of n bytes. */
  length: (n: number) => string;
  /** The declared length is more than the body: the server waits for bytes that only the client's end settles. */
  overlong: boolean;
  /** The declared length is less than the body: its last bytes are read as the start of the next request. */
  short: boolean;
}

function write(d: Draft): Buffer {
  const head =
    d.line.replace('{m}', d.method).replace('{t}', d.target).replace('{v}', d.version) +
    '\r\n' +
    d.headers.map((h) => `${h.name}${h.sep}${h.value.replaceAll(LENGTH, d.length(d.body.length))}${h.eol}`).join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), d.body]);
}

const predict = '/v1/models/churn:predict';
const vertex = (project: string, location: string) =>
  `/v1/projects/${project}/locations/${location}/endpoints/churn:predict`;
/** Characters the router takes in a path parameter, and the lane in a Vertex AI path segment. */
const segmentChars = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).filter(
  (c) => !'/%?#;'.includes(c),
);

const customers = [riskyCustomer, loyalCustomer];
const rows = (n: number, r?: Dice) => Array.from({ length: n }, (_, i) => customers[r ? r.int(2) : i % 2]!);

const headerLine = (name: string, value: string): HeaderLine => ({ name, sep: ': ', value, eol: '\r\n' });

function validDraft(id: string, r: Dice): Draft {
  const segment = () => Array.from({ length: 1 + r.int(12) }, () => r.pick(segmentChars)).join('');
  const target = r.pick([predict, predict, vertex('p-1', 'europe-west4'), vertex(segment(), segment()), '/predict']);
  const doc = { instances: rows(1 + r.int(5), r), ...(r.chance(0.2) ? { parameters: {} } : {}) };
  const body = Buffer.from(JSON.stringify(doc, null, r.pick([0, 0, 1, '\t'])));
  const h = headerLine;
  return {
    method: 'POST',
    target,
    version: 'HTTP/1.1',
    line: '{m} {t} {v}',
    headers: [
      h('Host', 'localhost'),
      h('X-Request-Id', id),
      h('Content-Type', 'application/json'),
      h('Content-Length', LENGTH),
    ],
    body,
    length: String,
    overlong: false,
    short: false,
  };
}

const findHeader = (d: Draft, name: string) => d.headers.find((h) => h.name.toLowerCase() === name.toLowerCase());
const addHeader = (d: Draft, r: Dice, line: HeaderLine) => d.headers.splice(r.int(d.headers.length + 1), 0, line);
const mixedCase = (text: string, r: Dice) =>
  [...text].map((c) => (r.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
const insertAt = (text: string, r: Dice, piece: string) => {
  const at = r.int(text.length + 1);
  return text.slice(0, at) + piece + text.slice(at);
};
const latin1 = (code: number) => String.fromCharCode(code);
/** A header value for a case's name. */
const shown = (value: string) => JSON.stringify(value.replaceAll(LENGTH, '<length>'));

/** Bodies: valid documents with a wrong part, documents that are not valid, bytes that are not JSON. */
function mutatedBody(r: Dice): [string, Buffer] {
  const doc = JSON.stringify({ instances: rows(1 + r.int(3), r) });
  const row = JSON.stringify(riskyCustomer);
  const key = r.pick(Object.keys(riskyCustomer));
  const withValue = (value: string) =>
    `{"instances":[${row.replace(new RegExp(`"${key}":[^,}]*`), `"${key}":${value}`)}]}`;
  const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const padTo = (n: number) => doc + ' '.repeat(n - doc.length);
  const options: (() => [string, string | Buffer])[] = [
    () => {
      const at = r.int(doc.length);
      return [`truncated at ${at}`, doc.slice(0, at)];
    },
    () => ['empty', ''],
    () => ['whitespace', ' \r\n\t '],
    () => ['null', 'null'],
    () => ['an array', '[]'],
    () => ['trailing text', `${doc}x`],
    () => ['two documents', `${doc}${doc}`],
    () => ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc)])],
    () => ['UTF-16', Buffer.from(doc, 'utf16le')],
    () => ['bytes that are not UTF-8', Buffer.from(`{"instances":[{"region":"s\xfcd"}]}`, 'latin1')],
    () => ['a raw NUL in a string', withValue('"a\u0000b"')],
    () => ['instances an object', '{"instances":{}}'],
    () => ['instances a string', '{"instances":"x"}'],
    () => ['instances a number', '{"instances":1}'],
    () => ['instances null', '{"instances":null}'],
    () => ['instances of numbers', '{"instances":[1,2]}'],
    () => ['instances of null', '{"instances":[null]}'],
    () => ['instances of arrays', `{"instances":[${JSON.stringify(Object.values(riskyCustomer))}]}`],
    () => ['no instances', '{"instances":[]}'],
    () => ['64 rows', JSON.stringify({ instances: rows(64) })],
    () => ['65 rows', JSON.stringify({ instances: rows(65) })],
    () => ['an unknown top-level field', JSON.stringify({ instances: rows(1), extra: 1 })],
    () => ['parameters null', JSON.stringify({ instances: rows(1), parameters: null })],
    () => ['parameters an array', JSON.stringify({ instances: rows(1), parameters: [] })],
    () => ['labels of numbers', JSON.stringify({ instances: rows(1), labels: { team: 1 } })],
    () => ['labels of strings', JSON.stringify({ instances: rows(1), labels: { team: 'risk' } })],
    () => ['a duplicated key', `{"instances":[],"instances":[${row}]}`],
    () => ['__proto__', `{"__proto__":{"x":1},"instances":[${row}]}`],
    () => ['a missing field', JSON.stringify({ instances: [{ tenure_months: 3 }] })],
    () => ['an unknown field', JSON.stringify({ instances: [{ ...riskyCustomer, extra: 'x' }] })],
    ...[
      '"2"',
      'null',
      'true',
      '[]',
      '{}',
      '-1',
      '1e308',
      '1e309',
      '-1e309',
      '3.5e38',
      '123456789012345678901234567890',
      '1e-400',
      '-0',
      'NaN',
      'Infinity',
      '"\\u0000"',
      '"\\ud800"',
      '"s\u00fcd"',
      '"\u5357"',
      '"\ud83d\ude00"',
    ].map((value) => (): [string, string] => [`${key} = ${value}`, withValue(value)]),
    () => {
      const text = JSON.stringify('x'.repeat(1000 + r.int(60_000)));
      return [`${key} a string of ${text.length} characters`, withValue(text)];
    },
    () => {
      const depth = 1 + r.int(5000);
      return [`${key} nested ${depth} deep`, withValue(nested(depth))];
    },
    () => ['exactly the body limit', padTo(60_000)],
    () => ['one byte over the body limit', padTo(60_001)],
  ];
  const [label, body] = r.pick(options)();
  return [`body: ${label}`, Buffer.isBuffer(body) ? body : Buffer.from(body)];
}

const targets = (r: Dice): string[] => [
  '/V1/models/churn:predict',
  '/v1/models/Churn:predict',
  '/v1/models/churn:Predict',
  '/v1/models/churn:predict/',
  '//v1/models/churn:predict',
  '/v1//models/churn:predict',
  '/v1/models/churn%3Apredict',
  '/v1/models/%63hurn:predict',
  '/v1/models/churn%3apredict',
  '/v1/models/churn:predict?',
  '/v1/models/churn:predict?verbose=1',
  '/v1/models/churn:predict#top',
  '/v1/models/churn:predict;x=1',
  '/v1/models/churn',
  '/v1/models/churn:explain',
  '/v1/models/churn:predict:predict',
  '/v1/models/churn:predictx',
  '/v1/models/nope:predict',
  '/v1/models/./churn:predict',
  '/v1/models/churn:predict/..',
  '/v1/models/churn%00:predict',
  '/v1/models/churn%zz:predict',
  '/v1/models/churn%ff:predict',
  'http://localhost/v1/models/churn:predict',
  '/predict',
  '/predict/',
  '/PREDICT',
  '/predict?x',
  '/',
  '*',
  vertex('p', 'l'),
  `${vertex('p', 'l')}/`,
  vertex('', 'l'),
  vertex('%70', 'l'),
  vertex('a'.repeat(100), 'b'.repeat(100)),
  vertex('a'.repeat(101), 'l'),
  vertex('p', 'l').replace('churn', 'nope'),
  vertex(r.pick(segmentChars) + r.pick(segmentChars), r.pick(segmentChars)),
];

interface Mutation {
  name: string;
  /**
   * True when node:http still reads the request and the ones after it (a mutation that breaks the framing or the
   * head ends the connection with a parse error, which loses the answers still in flight: pipelines use only these).
   */
  keepsFraming: boolean;
  apply: (d: Draft, r: Dice) => string;
}

const mutations: Mutation[] = [
  {
    name: 'header name case',
    keepsFraming: true,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      h.name = mixedCase(h.name, r);
      return `name ${h.name}`;
    },
  },
  {
    name: 'header order',
    keepsFraming: true,
    apply: (d, r) => {
      for (let i = d.headers.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [d.headers[i], d.headers[j]] = [d.headers[j]!, d.headers[i]!];
      }
      return 'headers reordered';
    },
  },
  {
    name: 'whitespace around a value',
    keepsFraming: true,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      // node:http takes no tab after a Content-Length (a Content-Length mutation).
      const tabs = h.name.toLowerCase() !== 'content-length';
      h.sep = r.pick(tabs ? [':', ':\t', ':  ', ': \t '] : [':', ':  ']);
      h.value += r.pick(tabs ? ['', ' ', '\t', ' \t '] : ['', ' ', '   ']);
      return `whitespace around ${h.name}: ${shown(h.sep + h.value)}`;
    },
  },
  {
    name: 'a high byte or tab in a value',
    keepsFraming: true,
    apply: (d, r) => {
      const candidates = d.headers.filter((h) => h.name.toLowerCase() !== 'content-length');
      const h = r.pick(candidates.length ? candidates : d.headers);
      const piece = r.chance(0.3) ? '\t' : latin1(0x80 + r.int(0x80));
      h.value = insertAt(h.value, r, piece);
      return `${h.name}: ${shown(h.value)}`;
    },
  },
  {
    name: 'a benign extra header',
    keepsFraming: true,
    apply: (d, r) => {
      const [name, value] = r.pick([
        ['Accept', '*/*'],
        ['User-Agent', 'fuzz/1.0'],
        ['Accept-Encoding', 'gzip, deflate, br'],
        ['Accept-Version', '1.0.0'],
        ['Content-Encoding', 'identity'],
        ['Content-Encoding', 'IDENTITY'],
        ['Authorization', 'Bearer nope'],
        ['Cookie', 'a=b'],
        ['X-Forwarded-For', '10.0.0.1'],
        ['Keep-Alive', 'timeout=5'],
        ['X-Empty', ''],
        ['Cache-Control', 'no-cache'],
        ['Origin', 'http://x'],
        ['X-Fuzz', `caf${latin1(0xe9)} ${latin1(0xff)}`],
      ] as const);
      addHeader(d, r, headerLine(name, value));
      return `+${name}: ${value}`;
    },
  },
  {
    // node:http refuses bytes after a request it is to close: not in a pipeline.
    name: 'Connection',
    keepsFraming: false,
    apply: (d, r) => {
      const name = r.pick(['Connection', 'Connection', 'Proxy-Connection']);
      const value = r.pick(['close', 'Close', 'keep-alive', 'KEEP-ALIVE', 'keep-alive, close', 'foo', '']);
      addHeader(d, r, headerLine(name, value));
      return `${name}: ${value}`;
    },
  },
  {
    name: 'Content-Type',
    keepsFraming: true,
    apply: (d, r) => {
      const value = r.pick([
        'application/json; charset=utf-8',
        'application/json;charset=UTF8',
        'APPLICATION/JSON',
        'Application/Json ; charset="utf-8"',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/json; charset=utf-8; charset=latin1',
        'application/json; foo=bar',
        'application/json;',
        'application/json;;charset=utf-8;x',
        'application/json, text/plain',
        'application/jsonx',
        'application/vnd.api+json',
        'application/*',
        '*/*',
        'text/plain',
        'text/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '',
        'application/ json',
        `application/json${latin1(0xa0)}`,
        `${latin1(0xa0)}application/json`,
      ]);
      const h = findHeader(d, 'content-type');
      if (h) h.value = value;
      else addHeader(d, r, headerLine('Content-Type', value));
      return `Content-Type: ${JSON.stringify(value)}`;
    },
  },
  {
    name: 'X-Request-Id',
    keepsFraming: true,
    apply: (d, r) => {
      const h = findHeader(d, 'x-request-id');
      const value = r.pick([
        undefined,
        'has space',
        'a'.repeat(128),
        'a'.repeat(129),
        '',
        `fuzz-${latin1(0xfc)}`,
        'fuzz/1',
        'a.b:c@d-e_f',
      ]);
      if (!h) return 'X-Request-Id (none)';
      if (value === undefined) d.headers.splice(d.headers.indexOf(h), 1);
      else h.value = value;
      return `X-Request-Id: ${value === undefined ? '(removed)' : JSON.stringify(value)}`;
    },
  },
  {
    name: 'path',
    keepsFraming: true,
    apply: (d, r) => {
      d.target = r.pick(targets(r));
      return `path ${d.target}`;
    },
  },
  {
    name: 'method',
    keepsFraming: true,
    apply: (d, r) => {
      d.method = r.pick(['PUT', 'PATCH', 'GET', 'DELETE', 'OPTIONS']);
      return `method ${d.method}`;
    },
  },
  {
    name: 'body',
    keepsFraming: true,
    apply: (d, r) => {
      const [label, body] = mutatedBody(r);
      d.body = body;
      return label;
    },
  },
  {
    name: 'many header lines',
    keepsFraming: true,
    apply: (d, r) => {
      const n = 56 + r.int(14);
      for (let i = 0; i < n; i++) d.headers.splice(1, 0, headerLine(`X-H${i}`, String(i)));
      return `${d.headers.length} header lines`;
    },
  },
  {
    name: 'Content-Length',
    keepsFraming: false,
    apply: (d, r) => {
      const [label, length, overlong, short] = r.pick<[string, (n: number) => string, boolean, boolean]>([
        ['one over', (n) => String(n + 1), true, false],
        ['one under', (n) => String(n - 1), false, true],
        ['leading zeros', (n) => `000${n}`, false, false],
        ['a tab before', (n) => `\t${n}`, false, false],
        ['a tab after', (n) => `${n}\t`, false, false],
        ['10 digits', (n) => String(n).padStart(10, '0'), false, false],
        ['11 digits', (n) => String(n).padStart(11, '0'), false, false],
        ['a plus sign', (n) => `+${n}`, false, false],
        ['two values', (n) => `${n}, ${n}`, false, false],
        ['empty', () => '', false, false],
        ['negative', () => '-1', false, false],
        ['hexadecimal', (n) => `0x${n.toString(16)}`, false, false],
        ['over the body limit', () => '60001', false, false],
        ['11 nines', () => '99999999999', false, false],
        ['2^32 more', (n) => String(2 ** 32 + n), false, false],
        ['zero', () => '0', false, false],
      ]);
      d.length = length;
      d.overlong ||= overlong;
      d.short ||= short;
      return `Content-Length ${label}`;
    },
  },
  {
    name: 'a missing header',
    keepsFraming: false,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      d.headers.splice(d.headers.indexOf(h), 1);
      return `no ${h.name}`;
    },
  },
  {
    name: 'a duplicated header',
    keepsFraming: false,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      const copy = { ...h, name: r.chance(0.5) ? mixedCase(h.name, r) : h.name };
      if (r.chance(0.3)) copy.value = h.name.toLowerCase() === 'content-length' ? '3' : 'other';
      addHeader(d, r, copy);
      return `${h.name} twice (${shown(copy.value)})`;
    },
  },
  {
    name: 'a framing header',
    keepsFraming: false,
    apply: (d, r) => {
      const [name, value] = r.pick([
        ['Transfer-Encoding', 'chunked'],
        ['Transfer-Encoding', 'identity'],
        ['Expect', '100-continue'],
        ['Expect', 'nonsense'],
        ['Upgrade', 'websocket'],
        ['TE', 'trailers'],
        ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
        ['Content-Encoding', 'gzip'],
        ['Content-Encoding', ''],
        ['Content-Encoding', 'identity, gzip'],
        ['Connection', 'upgrade'],
      ] as const);
      addHeader(d, r, headerLine(name, value));
      return `+${name}: ${value}`;
    },
  },
  {
    name: 'a control character in a value',
    keepsFraming: false,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      const code = r.pick([0, 1, 8, 10, 11, 12, 13, 27, 31, 127]);
      h.value = insertAt(h.value, r, latin1(code));
      return `${h.name}: ${shown(h.value)}`;
    },
  },
  {
    name: 'an odd header name',
    keepsFraming: false,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      h.name = r.pick([
        `${h.name} `,
        `${h.name}\t`,
        ` ${h.name}`,
        insertAt(h.name, r, r.pick(['(', '"', '@', latin1(0xe9)])),
      ]);
      return `name ${JSON.stringify(h.name)}`;
    },
  },
  {
    name: 'a folded or bare-LF header line',
    keepsFraming: false,
    apply: (d, r) => {
      const h = r.pick(d.headers);
      if (r.chance(0.5)) {
        h.eol = r.pick(['\n', '\r', '\r\r\n']);
        return `${h.name} line ends ${JSON.stringify(h.eol)}`;
      }
      h.value = `x\r\n ${h.value}`;
      return `${h.name} folded`;
    },
  },
  {
    name: 'an odd method',
    keepsFraming: false,
    apply: (d, r) => {
      d.method = r.pick(['post', 'Post', 'POSTX', 'PO ST', 'P0ST', 'CONNECT', 'QUERY', 'PROPFIND', '']);
      return `method ${JSON.stringify(d.method)}`;
    },
  },
  {
    name: 'an odd request line',
    keepsFraming: false,
    apply: (d, r) => {
      if (r.chance(0.4)) {
        d.line = r.pick(['{m}  {t} {v}', '{m}\t{t}\t{v}', '{m} {t} {v} ', ' {m} {t} {v}', '\r\n{m} {t} {v}']);
        return `request line ${JSON.stringify(d.line)}`;
      }
      d.version = r.pick([
        'HTTP/1.0',
        'HTTP/1.2',
        'HTTP/2.0',
        'HTTP/0.9',
        'http/1.1',
        'HTTP/11',
        'HTTP/1',
        'HTTP/1.1\t',
      ]);
      if (d.version === 'HTTP/1.0' && r.chance(0.5)) addHeader(d, r, headerLine('Connection', 'keep-alive'));
      return `version ${JSON.stringify(d.version)}`;
    },
  },
  {
    name: 'a byte outside ASCII in the path',
    keepsFraming: false,
    apply: (d, r) => {
      d.target = insertAt(d.target, r, latin1(0x80 + r.int(0x80)));
      return `path ${JSON.stringify(d.target)}`;
    },
  },
  {
    name: 'a head near the size limit',
    keepsFraming: false,
    apply: (d, r) => {
      const size = write({ ...d, body: Buffer.alloc(0) }).length;
      const pad = 16 * 1024 - size - 'X-Pad: \r\n'.length + (r.int(17) - 8);
      addHeader(d, r, headerLine('X-Pad', 'p'.repeat(Math.max(1, pad))));
      return `head of ${write({ ...d, body: Buffer.alloc(0) }).length} bytes`;
    },
  },
];

const framingSafe = mutations.filter((m) => m.keepsFraming);

interface Case {
  name: string;
  bytes: Buffer;
  /** Requests in the bytes: the exchange ends when as many answers came, or the server closed. */
  requests: number;
  /** Ends the client's side after writing (the last request declares more bytes than it sends). */
  end: boolean;
  /** Writes the bytes in pieces at these offsets (each write waited for), else in one write. */
  splits: number[];
  /**
   * Leading answers node:http loses: when bytes it cannot parse follow a request, it answers 400 and closes before the
   * answer of the request in front is written. The lane answers that request first, then hands the rest over.
   */
  lostByNode?: number;
  /** Where node:http's answer is not the one to match (it loses answers): what the lane must answer instead. */
  laneAnswers?: (lane: Outcome) => void;
}

/** One mutated request: `count` mutations from `pool`. */
function mutated(id: string, r: Dice, pool: readonly Mutation[], count: number): { draft: Draft; labels: string[] } {
  const draft = validDraft(id, r);
  const labels: string[] = [];
  for (let i = 0; i < count; i++) labels.push(r.pick(pool).apply(draft, r));
  return { draft, labels };
}

function randomCase(n: number, r: Dice): Case {
  const pipelined = r.chance(0.4) ? 2 + r.int(3) : 1;
  const parts: { draft: Draft; labels: string[] }[] = [];
  for (let i = 0; i < pipelined; i++) {
    const id = `fuzz-${n}-${i}`;
    // A single request has one mutation half the time, so that each shows on its own.
    if (pipelined === 1) parts.push(mutated(id, r, mutations, r.chance(0.5) ? 1 : 2 + r.int(2)));
    else parts.push(mutated(id, r, framingSafe, r.chance(0.4) ? 0 : 1 + r.int(2)));
  }
  const bytes = Buffer.concat(parts.map((p) => write(p.draft)));
  const last = parts[parts.length - 1]!.draft;
  const splits = r.chance(0.2)
    ? Array.from({ length: 1 + r.int(4) }, () => r.int(bytes.length)).sort((a, b) => a - b)
    : [];
  const what = parts.map((p, i) => `${pipelined > 1 ? `[${i + 1}] ` : ''}${p.labels.join(', ') || 'valid'}`).join('; ');
  return {
    name: `#${n} ${what}${splits.length ? ` (in ${splits.length + 1} writes)` : ''}`,
    bytes,
    requests: pipelined,
    end: last.overlong || last.short,
    splits,
  };
}

function generateCases(): Case[] {
  const r = new Dice(seed);
  return Array.from({ length: randomCases }, (_, n) => randomCase(n, r));
}

/** A valid request with its id (the concurrent phase, and the cases below). */
function validRequest(id: string, instances: number, target = predict): Buffer {
  const draft = validDraft(id, new Dice(instances));
  draft.target = target;
  draft.body = Buffer.from(JSON.stringify({ instances: rows(instances) }));
  return write(draft);
}

const plainCase = (name: string, bytes: Buffer, requests = 1, end = false): Case => ({
  name,
  bytes,
  requests,
  end,
  splits: [],
});

/** Deterministic cases at the edges the lane checks (these take the lane or are handed over). */
function edgeCases(): Case[] {
  const r = new Dice(seed + 1);
  const cases = segmentChars.map((c) => {
    const d = validDraft(`edge-${c.charCodeAt(0)}`, r);
    d.target = vertex(`a${c}b`, c);
    return plainCase(`a Vertex AI path with ${JSON.stringify(c)} in its segments`, write(d));
  });
  const withLength = (value: string, body: string) => {
    const d = validDraft('edge-length', r);
    d.target = predict;
    d.body = Buffer.from(body);
    d.length = () => value;
    return write(d);
  };
  const doc = JSON.stringify({ instances: rows(2) });
  cases.push(
    plainCase('a body of exactly the limit', withLength('60000', doc + ' '.repeat(60_000 - doc.length))),
    plainCase('a body one byte over the limit', withLength('60001', doc + ' '.repeat(60_001 - doc.length))),
    plainCase('a Content-Length of 10 digits', withLength(String(doc.length).padStart(10, '0'), doc)),
    plainCase('a Content-Length of 11 digits', withLength(String(doc.length).padStart(11, '0'), doc)),
  );
  for (const lines of [63, 64, 65]) {
    const d = validDraft(`edge-lines-${lines}`, r);
    while (d.headers.length < lines) d.headers.push(headerLine(`X-H${d.headers.length}`, 'v'));
    cases.push(plainCase(`${lines} header lines`, write(d)));
  }
  for (const delta of [-2, -1, 0, 1, 2]) {
    const d = validDraft(`edge-head-${delta}`, r);
    d.target = predict;
    const size = write({ ...d, body: Buffer.alloc(0) }).length;
    // The lane's limit is on the bytes before the blank line that ends the head (`size - 4` before the pad).
    d.headers.push(headerLine('X-Pad', 'p'.repeat(16 * 1024 + delta - (size - 4) - 'X-Pad: \r\n'.length)));
    cases.push(plainCase(`a head ${delta} bytes from 16 KiB`, write(d)));
  }
  const loyal = JSON.stringify({ instances: [loyalCustomer] });
  const pipeline = [
    validRequest('edge-p1', 1),
    withLength(String(Buffer.byteLength(loyal)), loyal),
    validRequest('edge-p3', 3, vertex('p', 'l')),
    Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: edge-p4\r\n\r\n'),
    validRequest('edge-p5', 2, '/predict'),
  ];
  cases.push(plainCase('a pipeline handed over in its middle', Buffer.concat(pipeline), pipeline.length));
  return cases;
}

/** A valid request with a header line added after Host. */
const withHeader = (id: string, line: string) =>
  Buffer.from(
    validRequest(id, 1).toString('latin1').replace('Host: localhost\r\n', `Host: localhost\r\n${line}\r\n`),
    'latin1',
  );

/**
 * The smallest requests on which the lane was seen to answer otherwise than the full server (node:http 20, fastify
 * 5); they fail until the lane, or a decision that it may differ there, settles them.
 */
function differingCases(): Case[] {
  const body = JSON.stringify({ instances: [riskyCustomer] });
  const withLength = (length: string) => {
    const d = validDraft('length', new Dice(1));
    d.target = predict;
    d.body = Buffer.from(body);
    d.length = () => length;
    return write(d);
  };
  const lost = (c: Case): Case => ({ ...c, lostByNode: 1 });
  return [
    // node:http takes no tab after a Content-Length value (400, closed): the lane hands any tab over.
    plainCase('a tab after the Content-Length value', withLength(`${body.length}\t`)),
    // llhttp reads Proxy-Connection as Connection (an answer with `Connection: close`, then close): handed over.
    plainCase('Proxy-Connection: close', withHeader('proxy', 'Proxy-Connection: close')),
    // A bare LF: node:http answers 400 at once; the lane hands over as soon as it sees one.
    plainCase(
      'a head whose lines end with a bare LF',
      Buffer.from(validRequest('bare-lf', 1).toString('latin1').replaceAll('\r\n', '\n'), 'latin1'),
    ),
    // At the client's end, an unfinished request is the client's error: fastify's clientError answer (400), both ways.
    plainCase('Content-Length one over the body, then the client ends', withLength(String(body.length + 1)), 1, true),
    // The lane answers the request and closes (bytes after a `Connection: close` request are dropped); node:http
    // refuses the bytes after it (400), losing the answer in flight.
    {
      ...plainCase(
        'a request with Connection: close and one pipelined after it',
        Buffer.concat([withHeader('first', 'Connection: close'), validRequest('second', 1)]),
        2,
      ),
      laneAnswers: (o) => {
        assert.deepEqual(
          o.responses.map((r) => [r.status, r.headers.find(([n]) => n === 'connection')?.[1]]),
          [[200, 'close']],
        );
        assert.ok(o.closed && !o.serverKeptOpen && !o.stalled, summary(o));
      },
    },
    // The byte left over after the body is read as a request line: both answer it 400 and close; node:http loses the
    // answer to the request in front (a 400: its body lacks its last byte).
    lost(
      plainCase(
        'Content-Length one under the body, then the client ends',
        withLength(String(body.length - 1)),
        2,
        true,
      ),
    ),
    // A valid request, then one node:http cannot parse: both answer the second 400 and close; node:http loses the
    // first answer.
    lost(
      plainCase(
        'a valid request pipelined before one node:http cannot parse',
        Buffer.concat([validRequest('first', 1), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n')]),
        2,
      ),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// The wire

interface WireResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

interface Outcome {
  responses: WireResponse[];
  /** The server closed the connection before `requests` answers came. */
  closed: boolean;
  /** Neither: the exchange did not end within `stallMs`. */
  stalled: boolean;
  /** Bytes after the last whole response when the server closed. */
  rest: string;
  /** The server had not closed its side of the connection `stallMs` after the client closed its own. */
  serverKeptOpen: boolean;
}

function parseHead(text: string): { status: number; headers: [string, string][] } {
  const lines = text.split('\r\n');
  const headers = lines.slice(1).map((l): [string, string] => {
    const at = l.indexOf(':');
    return [l.slice(0, at).toLowerCase(), l.slice(at + 1).trim()];
  });
  return { status: Number(lines[0]!.split(' ')[1]), headers };
}

/**
 * Reads responses (Content-Length or chunked framing, else up to the close; 1xx skipped) until `count` came, the
 * server closed, or `stallMs` passed.
 */
function collect(socket: net.Socket, count: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const responses: WireResponse[] = [];
    const done = (closed: boolean, stalled: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ responses, closed, stalled, rest: buf.toString('latin1'), serverKeptOpen: false });
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const { status, headers } = parseHead(buf.toString('latin1', 0, end));
        const header = (name: string) => headers.find(([n]) => n === name)?.[1];
        let body: Buffer;
        let next: number;
        if (header('transfer-encoding')?.toLowerCase() === 'chunked') {
          const parts: Buffer[] = [];
          let at = end + 4;
          for (;;) {
            const eol = buf.indexOf('\r\n', at);
            if (eol < 0) return;
            const size = parseInt(buf.toString('latin1', at, eol), 16);
            if (buf.length < eol + 2 + size + 2) return;
            parts.push(buf.subarray(eol + 2, eol + 2 + size));
            at = eol + 2 + size + 2;
            if (size === 0) break;
          }
          body = Buffer.concat(parts);
          next = at;
        } else if (header('content-length') !== undefined || (status >= 100 && status < 200)) {
          const length = Number(header('content-length') ?? 0);
          if (buf.length < end + 4 + length) return;
          body = buf.subarray(end + 4, end + 4 + length);
          next = end + 4 + length;
        } else return; // Read to the close.
        buf = buf.subarray(next);
        if (status >= 100 && status < 200) continue;
        responses.push({ status, headers, body: body.toString('utf8') });
        if (responses.length === count) return done(false, false);
      }
    };
    const onClose = () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        responses.push({ ...parseHead(buf.toString('latin1', 0, end)), body: buf.toString('utf8', end + 4) });
        buf = Buffer.alloc(0);
      }
      done(true, false);
    };
    const timer = setTimeout(() => done(false, true), stallMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function connect(address: string): Promise<net.Socket> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.off('error', reject);
      // A server may reset a connection it refuses; the reader sees the close.
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves true when `promise` does within `ms`, false otherwise. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The servers' side of each connection, by the client's port: whether a server closes its side after the client. */
class ServerSides {
  readonly open = new Set<net.Socket>();
  readonly #closed = new Map<number, { promise: Promise<void>; resolve: () => void }>();

  track(server: net.Server): void {
    server.on('connection', (socket: net.Socket) => {
      const port = socket.remotePort!;
      this.open.add(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        this.#entry(port).resolve();
      });
    });
  }

  /** True when the server's side of the connection from `port` closes within `stallMs`. */
  async closes(port: number): Promise<boolean> {
    const closed = await within(this.#entry(port).promise, stallMs);
    this.#closed.delete(port);
    return closed;
  }

  #entry(port: number) {
    let entry = this.#closed.get(port);
    if (!entry) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      entry = { promise, resolve };
      this.#closed.set(port, entry);
    }
    return entry;
  }
}

const serverSides = new ServerSides();

/** Sends a case's bytes on a new connection, reads what comes back, closes, and sees the server close its side. */
async function exchange(address: string, c: Case): Promise<Outcome> {
  const socket = await connect(address);
  const port = socket.localPort!;
  const outcome = await talk(socket, c);
  outcome.serverKeptOpen = !(await serverSides.closes(port));
  return outcome;
}

async function talk(socket: net.Socket, c: Case): Promise<Outcome> {
  try {
    const reading = collect(socket, c.requests);
    let from = 0;
    for (const at of [...c.splits, c.bytes.length]) {
      const piece = c.bytes.subarray(from, at);
      from = at;
      if (piece.length === 0 || socket.destroyed) continue;
      await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
    }
    if (c.end && !socket.destroyed) socket.end();
    return await reading;
  } finally {
    socket.destroy();
  }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The headers to compare: lower-case names and values, sorted, without Date, a generated request id as `<uuid>`. */
const comparable = (r: WireResponse) =>
  r.headers
    .filter(([n]) => n !== 'date')
    .map(([n, v]): [string, string] => [n, n === 'x-request-id' && uuid.test(v) ? '<uuid>' : v])
    .sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y));

const show = (bytes: Buffer) => {
  const text = JSON.stringify(bytes.toString('latin1'));
  return text.length > 1200 ? `${text.slice(0, 1200)}… (${bytes.length} bytes)` : text;
};

const summary = (o: Outcome) =>
  [
    ...o.responses.map((r) => `${r.status} ${JSON.stringify(comparable(r))} ${r.body.slice(0, 300)}`),
    o.stalled
      ? `(stalled: no answer or close after ${stallMs} ms)`
      : o.closed
        ? '(closed by the server)'
        : '(all answered)',
    ...(o.rest ? [`(and ${JSON.stringify(o.rest.slice(0, 200))})`] : []),
  ].join('\n    ');

function assertSame(c: Case, lane: Outcome, full: Outcome): void {
  const context = `\n  request (${c.end ? 'then the client ends' : 'the client keeps its side open'}): ${show(c.bytes)}\n  lane:\n    ${summary(lane)}\n  full server:\n    ${summary(full)}`;
  assert.ok(!lane.stalled && !full.stalled, `an exchange stalled${context}`);
  assert.ok(
    !lane.serverKeptOpen && !full.serverKeptOpen,
    `a server kept its side of the connection open after the client closed (lane: ${lane.serverKeptOpen}, full: ${full.serverKeptOpen})${context}`,
  );
  const lost = c.lostByNode ?? 0;
  assert.equal(lane.responses.length, full.responses.length + lost, `number of responses${context}`);
  // The answers node:http loses are the lane's answers to the whole requests in front (a prediction or its 4xx).
  for (const r of lane.responses.slice(0, lost))
    assert.ok(r.status === 200 || r.body.includes('MLOPS_ERR_SERVE_'), `an answer node:http loses${context}`);
  lane.responses.slice(lost).forEach((x, i) => {
    const y = full.responses[i]!;
    assert.equal(x.status, y.status, `status of response ${i + 1}${context}`);
    assert.equal(x.body, y.body, `body of response ${i + 1}${context}`);
    assert.deepEqual(comparable(x), comparable(y), `headers of response ${i + 1}${context}`);
  });
  assert.equal(lane.closed, full.closed, `whether the server closed${context}`);
  assert.equal(lane.rest, full.rest, `bytes after the last response${context}`);
  for (const r of [...lane.responses, ...full.responses]) assert.ok(r.status < 500, `a 5xx answer${context}`);
}

/** Counter values of the metrics text: `name{labels} value` lines, summed. */
async function metric(app: FastifyInstance, name: string): Promise<number> {
  const text = await app.serving.metrics.registry.metrics();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

const predictionsOf = (r: WireResponse) => (JSON.parse(r.body) as { predictions: unknown[] }).predictions;

// ---------------------------------------------------------------------------------------------------------------

describe(`the fast lane under a differential fuzz (seed 0x${seed.toString(16)})`, function () {
  this.timeout(60_000);
  let lane: { app: FastifyInstance; address: string };
  let full: { app: FastifyInstance; address: string };
  const random = generateCases();
  const edges = edgeCases();
  let sent = 0;
  let answeredBefore = 0;

  async function start(fastLane: boolean): Promise<{ app: FastifyInstance; address: string }> {
    const started = await listeningChurnServer({ fastLane });
    serverSides.track(started.app.server);
    return started;
  }

  before(async function () {
    [lane, full] = await Promise.all([start(true), start(false)]);
    // A first prediction on each, so that no case waits on a cold model.
    const warm = plainCase('warm-up', validRequest('warm-up', 2));
    for (const o of await Promise.all([exchange(lane.address, warm), exchange(full.address, warm)]))
      assert.equal(o.responses[0]?.status, 200, summary(o));
    answeredBefore = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
  });

  after(async function () {
    // A connection a server left open (a case fails for it) must not keep the servers from closing.
    for (const socket of serverSides.open) socket.destroy();
    await Promise.all([lane?.app.close(), full?.app.close()]);
  });

  async function differential(c: Case): Promise<void> {
    sent += c.requests;
    const lost = c.lostByNode ?? 0;
    const [a, b] = await Promise.all([
      exchange(lane.address, { ...c, requests: c.requests + lost }),
      exchange(full.address, c),
    ]);
    if (c.laneAnswers) c.laneAnswers(a);
    else assertSame(c, a, b);
  }

  describe('mutated requests, single and pipelined, answer as the full server answers', function () {
    for (const c of random) it(c.name, () => differential(c));
  });

  describe('requests at the edges of what the lane takes', function () {
    for (const c of edges) it(c.name, () => differential(c));
  });

  describe('the share of the lane', function () {
    it('the lane answered a good share of those requests itself', async function () {
      const answered = (await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - answeredBefore;
      this.test!.title += ` (${answered} of ${sent})`;
      assert.ok(answered > sent / 4, `the lane answered ${answered} of ${sent} requests`);
    });
  });

  describe('requests where the lane once differed from the full server, or where node:http loses an answer', function () {
    for (const c of differingCases()) it(c.name, () => differential(c));
  });

  describe('concurrent connections', function () {
    it('answers 16 connections of 50 sequential valid requests while other connections send malformed ones', async function () {
      await concurrentPhase();
    });

    it('finishes closing when the server closes with a pipelined request waiting in the lane', async function () {
      const own = await start(true);
      let closing: Promise<void> | undefined;
      // The server starts closing as the lane reads the pair: the first is in flight, the second waits behind it.
      own.app.server.on('connection', (socket: net.Socket) =>
        socket.once('data', () => {
          closing ??= own.app.close();
        }),
      );
      const socket = await connect(own.address);
      const port = socket.localPort!;
      const pair = Buffer.concat([validRequest('closing-1', 1), validRequest('closing-2', 2)]);
      const outcome = await talk(socket, plainCase('a pipelined pair', pair, 2));
      assert.ok(closing, 'the server read the requests');
      const [closed, serverSideClosed] = await Promise.all([within(closing, stallMs), serverSides.closes(port)]);
      if (!closed) for (const s of serverSides.open) if (s.remotePort === port) s.destroy();
      await closing;
      assert.ok(!outcome.stalled, `the client got no answer or close: ${summary(outcome)}`);
      assert.ok(outcome.responses.length > 0 && outcome.responses[0]!.status === 200, summary(outcome));
      assert.ok(serverSideClosed, 'the server kept its side of the connection open after the client closed');
      assert.ok(closed, `the server had not finished closing ${stallMs} ms after the client closed`);
    });
  });

  async function concurrentPhase(): Promise<void> {
    const answeredAtStart = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
    let running = true;
    const bad = new Dice(seed + 2);
    const malformed = Array.from({ length: 6 }, async (_, k) => {
      let n = 0;
      while (running) {
        const c = randomCase(10_000 + k * 1000 + n++, bad);
        // The client ends its side: a request the lane waits on to the end is settled by it (see the cases above).
        const o = await exchange(lane.address, { ...c, splits: [], end: true });
        assert.ok(!o.stalled, `a malformed request stalled: ${show(c.bytes)}`);
        assert.ok(!o.serverKeptOpen, `the lane kept a connection open after the client closed: ${show(c.bytes)}`);
        for (const r of o.responses) assert.ok(r.status < 500, `${r.status} for ${show(c.bytes)}: ${r.body}`);
      }
      return n;
    });
    const valid = Array.from({ length: 16 }, async (_, k) => {
      const socket = await connect(lane.address);
      const port = socket.localPort!;
      try {
        for (let i = 0; i < 50; i++) {
          const instances = 1 + ((k + i) % 8);
          const id = `concurrent-${k}-${i}`;
          const target = [predict, vertex('p', 'l'), '/predict'][i % 3]!;
          const reading = collect(socket, 1);
          socket.write(validRequest(id, instances, target));
          const { responses, stalled } = await reading;
          assert.ok(!stalled, `connection ${k}, request ${i} stalled`);
          const r = responses[0]!;
          assert.equal(r.status, 200, r.body);
          assert.equal(predictionsOf(r).length, instances);
          assert.deepEqual(
            r.headers.find(([n]) => n === 'x-request-id'),
            ['x-request-id', id],
          );
        }
      } finally {
        socket.destroy();
      }
      assert.ok(await serverSides.closes(port), `the lane kept connection ${k} open after the client closed`);
    });
    const validDone = await Promise.allSettled(valid);
    running = false;
    const malformedDone = await Promise.allSettled(malformed);
    for (const settled of [...validDone, ...malformedDone]) if (settled.status === 'rejected') throw settled.reason;
    const counts = malformedDone.map((s) => (s.status === 'fulfilled' ? s.value : 0));
    assert.ok(
      counts.every((n) => n > 0),
      'every malformed connection sent requests',
    );
    const answered = (await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - answeredAtStart;
    assert.ok(answered >= 16 * 50, `the lane answered ${answered} requests`);
  }
});
