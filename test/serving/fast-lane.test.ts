import assert from 'node:assert/strict';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';

import type { ServerDeps } from '../../src/serving/app';
import { listeningChurnServer, loyalCustomer, riskyCustomer } from '../support/served-model';

/** One HTTP/1.1 response as read off the wire: status, headers (names in lower case, in order) and body. */
interface WireResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * Reads responses off a socket as they arrive (Content-Length framing, 1xx skipped) until `count` have arrived or
 * the server closes the connection; `closed` tells which.
 */
function readResponses(socket: net.Socket, count: number): Promise<{ responses: WireResponse[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const responses: WireResponse[] = [];
    const done = (closed: boolean) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ responses, closed });
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        const headers = lines.slice(1).map((l) => {
          const at = l.indexOf(':');
          return [l.slice(0, at).toLowerCase(), l.slice(at + 1).trim()] as [string, string];
        });
        const length = Number(headers.find(([n]) => n === 'content-length')?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.toString('utf8', end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        if (status >= 100 && status < 200) continue;
        responses.push({ status, headers, body });
        if (responses.length === count) return done(false);
      }
    };
    const onClose = () => done(true);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function connect(address: string): Promise<net.Socket> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `bytes` on a new connection and reads `count` responses. */
async function exchange(address: string, bytes: string | Buffer, count = 1) {
  const socket = await connect(address);
  const reading = readResponses(socket, count);
  socket.write(bytes);
  const read = await reading;
  socket.destroy();
  return read;
}

const json = (body: unknown) => JSON.stringify(body);
const json0 = 'Content-Type: application/json';
const predictionsOf = (r: WireResponse) => (JSON.parse(r.body) as { predictions: { label: string }[] }).predictions;

/** A POST with a Content-Length computed from the body (unless the head sets its own). */
function post(path: string, body: string | Buffer, extra: string[] = ['Content-Type: application/json']): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const length = extra.some((h) => /^content-length:/i.test(h)) ? [] : [`Content-Length: ${bytes.length}`];
  const head = [`POST ${path} HTTP/1.1`, 'Host: localhost', 'X-Request-Id: lane-test', ...extra, ...length];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), bytes]);
}

const predict = '/v1/models/churn:predict';
const rows = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? riskyCustomer : loyalCustomer));
const valid = json({ instances: [riskyCustomer] });

/** Counter values of the metrics text: `name{labels} value` lines, summed by name and the labels given. */
async function metric(app: FastifyInstance, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await app.serving.metrics.registry.metrics();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/**
 * The headers to compare: everything but the date, sorted by name; a request id the server made up (for a request it
 * could not parse, whose own id it never read) as a placeholder.
 */
const comparable = (r: WireResponse) =>
  r.headers
    .filter(([n]) => n !== 'date')
    .map(([n, v]): [string, string] => (n === 'x-request-id' && v !== 'lane-test' ? [n, '(generated)'] : [n, v]))
    .sort(([a], [b]) => a.localeCompare(b));

describe('the model server fast lane', function () {
  this.timeout(120_000);
  const servers: FastifyInstance[] = [];

  async function start(deps: Partial<ServerDeps>): Promise<{ app: FastifyInstance; address: string }> {
    const started = await listeningChurnServer(deps);
    servers.push(started.app);
    return started;
  }

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('answers every request exactly as the full server does', function () {
    let lane: { app: FastifyInstance; address: string };
    let full: { app: FastifyInstance; address: string };
    let keyed: { app: FastifyInstance; address: string };
    let keyedFull: { app: FastifyInstance; address: string };

    before(async () => {
      [lane, full, keyed, keyedFull] = await Promise.all([
        start({}),
        start({ fastLane: false }),
        start({ apiKeys: ['s3cret'] }),
        start({ apiKeys: ['s3cret'], fastLane: false }),
      ]);
    });

    const nested = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`;
    // [name, request bytes, answered by the lane (else handed to node:http and fastify)]
    const cases: [string, Buffer, boolean][] = [
      ['one valid row', post(predict, valid), true],
      ['64 valid rows', post(predict, json({ instances: rows(64) })), true],
      ['a row with a missing field', post(predict, json({ instances: [{ tenure_months: 3 }] })), true],
      ['an unknown field', post(predict, json({ instances: [{ ...riskyCustomer, extra: 1 }] })), true],
      ['an empty object', post(predict, '{}'), true],
      ['no instances', post(predict, json({ instances: [] })), true],
      ['too many instances', post(predict, json({ instances: rows(65) })), true],
      ['invalid JSON', post(predict, '{"instances": ['), true],
      ['a bare NaN', post(predict, '{"instances": [{"tenure_months": NaN}]}'), true],
      ['bytes that are not UTF-8', post(predict, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), true],
      ['a value nested 10,000 deep', post(predict, `{"instances": [{"tenure_months": ${nested}}]}`), true],
      [
        'a number out of float32 range',
        post(predict, json({ instances: [{ ...riskyCustomer, total_charges: 1e39 }] })),
        true,
      ],
      ['an explicit utf-8 charset', post(predict, valid, ['Content-Type: application/json; charset=UTF-8']), true],
      ['the Vertex AI REST path', post('/v1/projects/p-1/locations/europe-west4/endpoints/churn:predict', valid), true],
      ['a bad row on the Vertex AI path', post('/v1/projects/p/locations/l/endpoints/churn:predict', '{}'), true],
      ['AIP_PREDICT_ROUTE', post('/predict', valid), true],
      ['header names in any case', post(predict, valid, ['content-TYPE: application/json']), true],
      [
        'Connection: keep-alive',
        post(predict, valid, ['Content-Type: application/json', 'Connection: keep-alive']),
        true,
      ],
      ['text/plain', post(predict, valid, ['Content-Type: text/plain']), false],
      ['a latin-1 charset', post(predict, valid, ['Content-Type: application/json; charset=latin1']), false],
      ['no Content-Type', post(predict, valid, []), false],
      ['gzip encoding', post(predict, valid, ['Content-Type: application/json', 'Content-Encoding: gzip']), false],
      ['an empty body', post(predict, ''), false],
      ['a body over the limit', post(predict, json({ instances: rows(64), pad: 'x'.repeat(60_000) })), false],
      ['an unknown model', post('/v1/models/nope:predict', valid), false],
      ['a query string', post(`${predict}?verbose=1`, valid), false],
      ['a percent-escaped path', post('/v1/models/chur%6E:predict', valid), false],
      [
        'GET on the predict verb',
        Buffer.from(`GET ${predict} HTTP/1.1\r\nHost: x\r\nX-Request-Id: lane-test\r\n\r\n`),
        false,
      ],
      ['HTTP/1.0', Buffer.from(post(predict, valid).toString().replace('HTTP/1.1', 'HTTP/1.0')), false],
      [
        'a chunked body',
        Buffer.from(
          `POST ${predict} HTTP/1.1\r\nHost: x\r\nX-Request-Id: lane-test\r\nContent-Type: application/json\r\n` +
            `Transfer-Encoding: chunked\r\n\r\n${Buffer.byteLength(valid).toString(16)}\r\n${valid}\r\n0\r\n\r\n`,
        ),
        false,
      ],
      ['Expect: 100-continue', post(predict, valid, ['Content-Type: application/json', 'Expect: 100-continue']), false],
      [
        'Content-Length and Transfer-Encoding together',
        post(predict, valid, ['Content-Type: application/json', 'Transfer-Encoding: chunked', `Content-Length: 5`]),
        false,
      ],
      [
        'two Content-Length headers',
        post(predict, valid, [
          'Content-Type: application/json',
          `Content-Length: ${valid.length}`,
          'Content-Length: 3',
        ]),
        false,
      ],
      ['a folded header line', post(predict, valid, ['Content-Type:', ' application/json']), false],
      ['a space before the colon', post(predict, valid, ['Content-Type : application/json']), false],
      ['a lowercase method', Buffer.from(post(predict, valid).toString().replace('POST', 'post')), false],
      ['no Host header', Buffer.from(post(predict, valid).toString().replace('Host: localhost\r\n', '')), false],
      [
        'a signed Content-Length',
        post(predict, valid, ['Content-Type: application/json', `Content-Length: +${valid.length}`]),
        false,
      ],
    ];

    for (const [name, bytes, byLane] of cases) {
      it(`${name}${byLane ? ' (in the lane)' : ' (handed to the full server)'}`, async function () {
        const answeredBefore = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
        const [a, b] = await Promise.all([exchange(lane.address, bytes), exchange(full.address, bytes)]);
        assert.equal(
          a.responses.length,
          b.responses.length,
          `responses: ${a.responses.length} vs ${b.responses.length}`,
        );
        for (const [x, y] of a.responses.map((r, i) => [r, b.responses[i]!] as const)) {
          assert.equal(x.status, y.status, `${x.body} vs ${y.body}`);
          assert.equal(x.body, y.body);
          assert.deepEqual(comparable(x), comparable(y));
          assert.ok(x.status < 500, x.body);
        }
        const answered = (await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - answeredBefore;
        assert.equal(answered, byLane ? 1 : 0, 'requests the lane answered');
      });
    }

    // A request without the key is refused from its head by fastify (the lane would read its body first).
    for (const [name, auth, byLane] of [
      ['no Authorization header', [], false],
      ['a wrong key', ['Authorization: Bearer nope'], false],
      ['the key', ['Authorization: Bearer s3cret'], true],
      ['a scheme that is not Bearer', ['Authorization: Basic czNjcmV0'], false],
    ] as const) {
      it(`API keys: ${name}`, async function () {
        const bytes = post(predict, valid, ['Content-Type: application/json', ...auth]);
        const before = await metric(keyed.app, 'mlops_serve_fast_lane_requests_total');
        const [a, b] = await Promise.all([exchange(keyed.address, bytes), exchange(keyedFull.address, bytes)]);
        const [x, y] = [a.responses[0]!, b.responses[0]!];
        assert.equal(x.status, y.status);
        assert.equal(x.body, y.body);
        assert.deepEqual(comparable(x), comparable(y));
        assert.equal(x.status, name === 'the key' ? 200 : 401);
        assert.equal((await metric(keyed.app, 'mlops_serve_fast_lane_requests_total')) - before, byLane ? 1 : 0);
      });
    }

    it('refuses a request without the key from its head, without waiting for a body that never comes', async function () {
      const socket = await connect(keyed.address);
      const reading = readResponses(socket, 1);
      // The head and half the body; the client stalls.
      socket.write(post(predict, valid).subarray(0, -Math.floor(valid.length / 2)));
      const { responses } = await reading;
      assert.equal(responses[0]?.status, 401);
      assert.equal((JSON.parse(responses[0].body) as { code: string }).code, 'MLOPS_ERR_SERVE_UNAUTHORIZED');
      // One answer, and the connection ends with it: the unread body is no next request, nor a later 408.
      assert.deepEqual(
        responses[0].headers.find(([n]) => n === 'connection'),
        ['connection', 'close'],
      );
      assert.deepEqual(await readResponses(socket, 1), { responses: [], closed: true });
    });

    it('refuses a request with two Authorization headers, whichever of them holds the key, on both paths', async function () {
      for (const server of [keyed, keyedFull]) {
        for (const order of [
          ['Authorization: Bearer s3cret', 'Authorization: Bearer nope'],
          ['Authorization: Bearer nope', 'Authorization: Bearer s3cret'],
        ]) {
          const { responses } = await exchange(server.address, post(predict, valid, [json0, ...order]));
          assert.equal(responses[0]?.status, 400);
          assert.match(
            responses[0].body,
            /at most one Authorization header; this one has 2 \(Authorization repeated\)/,
          );
        }
      }
    });

    it('answers "Expect: 100-continue" without a valid key with its 401 instead of "100 Continue", and with one as usual', async function () {
      /** The first bytes the server sends after the head (and, once "100 Continue" came, the body). */
      const firstAnswer = async (server: { address: string }, key: string) => {
        const bytes = post(predict, valid, [json0, 'Expect: 100-continue', `Authorization: Bearer ${key}`]);
        const socket = await connect(server.address);
        try {
          const first = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
          socket.write(bytes.subarray(0, bytes.length - valid.length));
          const answer = await first;
          if (!answer.startsWith('HTTP/1.1 100 ')) return answer.split('\r\n')[0];
          const rest = readResponses(socket, 1);
          socket.write(valid);
          return `100, then ${(await rest).responses[0]?.status}`;
        } finally {
          socket.destroy();
        }
      };
      for (const server of [keyed, keyedFull]) {
        assert.equal(await firstAnswer(server, 'nope'), 'HTTP/1.1 401 Unauthorized');
        assert.equal(await firstAnswer(server, 's3cret'), '100, then 200');
      }
    });

    for (const [name, bytes, reason] of [
      [
        'two Content-Length headers',
        post(predict, valid, [
          'Content-Type: application/json',
          `Content-Length: ${valid.length}`,
          'Content-Length: 3',
        ]),
        /Duplicate Content-Length \(HPE_UNEXPECTED_CONTENT_LENGTH\)/,
      ],
      [
        'an empty header name',
        post(predict, valid, ['Content-Type: application/json', ': nameless']),
        /\(HPE_INVALID_HEADER_TOKEN\)/,
      ],
    ] as const) {
      it(`answers HTTP it cannot parse (${name}) with a catalogued 400, on both paths, and counts it`, async function () {
        for (const server of [lane, full]) {
          const read = (await server.app.serving.metrics.registry.metrics())
            .split('\n')
            .filter((l) => l.startsWith('mlops_serve_requests_total') && l.includes('route="(unparsed)"'));
          const before = read.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
          const { responses, closed } = await exchange(server.address, bytes, 2);
          assert.equal(closed, true);
          assert.equal(responses.length, 1);
          const [answer] = responses;
          assert.equal(answer!.status, 400);
          const body = JSON.parse(answer!.body) as { code: string; error: string };
          assert.equal(body.code, 'MLOPS_ERR_SERVE_HTTP_INVALID');
          assert.match(body.error, /: The request is not valid HTTP\/1\.1: /);
          assert.match(body.error, reason);
          assert.match(answer!.headers.find(([n]) => n === 'x-request-id')?.[1] ?? '', /^[0-9a-f-]{36}$/);
          const after = (await server.app.serving.metrics.registry.metrics())
            .split('\n')
            .filter((l) => l.startsWith('mlops_serve_requests_total') && l.includes('route="(unparsed)"'))
            .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
          assert.equal(after - before, 1);
        }
      });
    }

    it('answers a request without Host and one with an Expect it cannot meet with catalogued errors, on both paths', async function () {
      const noHost = Buffer.from(post(predict, valid).toString().replace('Host: localhost\r\n', ''));
      const twoHosts = Buffer.from(
        post(predict, valid).toString().replace('Host: localhost\r\n', 'Host: a\r\nHost: b\r\n'),
      );
      const expect = post(predict, valid, ['Content-Type: application/json', 'Expect: the-moon']);
      for (const server of [lane, full]) {
        const [host, moon] = await Promise.all([exchange(server.address, noHost), exchange(server.address, expect)]);
        assert.equal(host.responses[0]?.status, 400);
        const hostBody = JSON.parse(host.responses[0].body) as { code: string; error: string };
        assert.equal(hostBody.code, 'MLOPS_ERR_SERVE_HTTP_INVALID');
        assert.match(hostBody.error, /an HTTP\/1\.1 request needs a Host header/);
        const two = await exchange(server.address, twoHosts);
        assert.equal(two.responses[0]?.status, 400);
        assert.match(two.responses[0].body, /a request has one Host header; this one has 2 \(Host repeated\)/);
        assert.equal(moon.responses[0]?.status, 417);
        const moonBody = JSON.parse(moon.responses[0].body) as { code: string; error: string };
        assert.equal(moonBody.code, 'MLOPS_ERR_SERVE_EXPECTATION_FAILED');
        assert.match(moonBody.error, /cannot meet "Expect: the-moon"; it meets only 100-continue/);
        assert.equal(moon.responses[0].headers.find(([n]) => n === 'x-request-id')?.[1], 'lane-test');
      }
    });

    it('answers 431 with the limit for a head over it', async function () {
      const bytes = post(predict, valid, ['Content-Type: application/json', `X-Padding: ${'p'.repeat(20_000)}`]);
      for (const server of [lane, full]) {
        const { responses } = await exchange(server.address, bytes);
        assert.equal(responses[0]?.status, 431);
        const body = JSON.parse(responses[0].body) as { code: string; error: string };
        assert.equal(body.code, 'MLOPS_ERR_SERVE_HEADERS_TOO_LARGE');
        assert.match(body.error, /larger than the limit of 16384 bytes/);
      }
    });

    it('counts requests, versions, routes, statuses and batch sizes as the full server does', async function () {
      for (const name of ['mlops_serve_requests_total', 'mlops_serve_batch_instances_count']) {
        const read = async (app: FastifyInstance) =>
          (await app.serving.metrics.registry.metrics())
            .split('\n')
            .filter((l) => l.startsWith(name))
            .sort();
        assert.deepEqual(await read(lane.app), await read(full.app), name);
      }
      const counts = (app: FastifyInstance) =>
        Object.entries(app.serving.metrics.versionStats()).map(([v, s]) => [v, s.requests, s.errors, s.rejected]);
      assert.deepEqual(counts(lane.app), counts(full.app));
    });

    it('gives a request without an id a new one, and echoes a plain id', async function () {
      const bytes = post(predict, valid).toString().replace('X-Request-Id: lane-test\r\n', '');
      const { responses } = await exchange(lane.address, bytes);
      const id = responses[0]!.headers.find(([n]) => n === 'x-request-id')![1];
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const odd = bytes.replace('Host: localhost', 'Host: localhost\r\nX-Request-Id: has spaces');
      const echoed = (await exchange(lane.address, odd)).responses[0]!.headers.find(([n]) => n === 'x-request-id')![1];
      assert.notEqual(echoed, 'has spaces');
    });
  });

  describe('connections', function () {
    let lane: { app: FastifyInstance; address: string };
    let full: { app: FastifyInstance; address: string };
    before(async () => {
      [lane, full] = await Promise.all([start({}), start({ fastLane: false })]);
    });

    it('answers pipelined requests in order, handing the connection over at the first it does not take', async function () {
      const before = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
      const health = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const loyal = post(predict, json({ instances: [loyalCustomer] }));
      const bytes = Buffer.concat([post(predict, valid), loyal, post(predict, '{}'), health, loyal]);
      const { responses, closed } = await exchange(lane.address, bytes, 5);
      assert.equal(closed, false);
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 400, 200, 200],
      );
      const labels = responses.map((r) =>
        r.status === 200 && r.body.includes('predictions') ? predictionsOf(r)[0]!.label : r.status,
      );
      assert.deepEqual(labels, ['true', 'false', 400, 200, 'false']);
      assert.equal((JSON.parse(responses[3]!.body) as { status: string }).status, 'ok');
      assert.equal((await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - before, 3);
    });

    it('reads a request that arrives in pieces, down to one byte at a time', async function () {
      const before = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
      const bytes = post(predict, valid);
      const socket = await connect(lane.address);
      const reading = readResponses(socket, 1);
      for (let i = 0; i < bytes.length; i++) {
        await new Promise<void>((resolve) => socket.write(bytes.subarray(i, i + 1), () => resolve()));
      }
      const { responses } = await reading;
      socket.destroy();
      assert.equal(responses[0]!.status, 200, responses[0]!.body);
      assert.equal((await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - before, 1);
    });

    it('reads a body near the limit that arrives in a hundred pieces', async function () {
      const before = await metric(lane.app, 'mlops_serve_fast_lane_requests_total');
      const doc = json({ instances: rows(64) });
      const bytes = post(predict, doc + ' '.repeat(59_000 - doc.length));
      const socket = await connect(lane.address);
      const reading = readResponses(socket, 1);
      const piece = Math.ceil(bytes.length / 100);
      for (let at = 0; at < bytes.length; at += piece) {
        await new Promise<void>((resolve) => socket.write(bytes.subarray(at, at + piece), () => resolve()));
      }
      const { responses } = await reading;
      socket.destroy();
      assert.equal(responses[0]!.status, 200, responses[0]!.body);
      assert.equal(predictionsOf(responses[0]!).length, 64);
      assert.equal((await metric(lane.app, 'mlops_serve_fast_lane_requests_total')) - before, 1);
    });

    it('keeps a connection for many requests, and answers on it after handing it over', async function () {
      const socket = await connect(lane.address);
      for (let i = 0; i < 50; i++) {
        const reading = readResponses(socket, 1);
        socket.write(post(predict, json({ instances: rows(1 + (i % 5)) })));
        const { responses } = await reading;
        assert.equal(responses[0]!.status, 200);
        assert.equal(predictionsOf(responses[0]!).length, 1 + (i % 5));
      }
      const handedBefore = await metric(lane.app, 'mlops_serve_fast_lane_handovers_total');
      const chunked =
        `POST ${predict} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${Buffer.byteLength(valid).toString(16)}\r\n${valid}\r\n0\r\n\r\n`;
      for (const bytes of [chunked, post(predict, valid)]) {
        const reading = readResponses(socket, 1);
        socket.write(bytes);
        assert.equal((await reading).responses[0]!.status, 200);
      }
      assert.equal((await metric(lane.app, 'mlops_serve_fast_lane_handovers_total')) - handedBefore, 1);
      socket.destroy();
    });

    it('answers a client that half-closed after its request on the full server too (lane off, chunked, v2)', async function () {
      const chunked =
        `POST ${predict} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${Buffer.byteLength(valid).toString(16)}\r\n${valid}\r\n0\r\n\r\n`;
      const v2 = JSON.stringify({
        inputs: Object.entries(riskyCustomer).map(([name, value]) => ({
          name,
          datatype: typeof value === 'number' ? 'FP64' : typeof value === 'boolean' ? 'BOOL' : 'BYTES',
          shape: [1],
          data: [value],
        })),
      });
      for (const [address, bytes] of [
        [full.address, post(predict, valid)],
        [lane.address, Buffer.from(chunked)],
        [lane.address, post('/v2/models/churn/infer', v2)],
      ] as const) {
        const socket = await connect(address);
        const reading = readResponses(socket, 2);
        // The whole request, then the client's end of the stream (shutdown(SHUT_WR)), as `nc -N` and some clients do.
        socket.end(bytes);
        const half = await reading;
        assert.equal(half.closed, true);
        assert.deepEqual(
          half.responses.map((r) => r.status),
          [200],
          `${address} ${bytes.toString().split('\r\n')[0]}`,
        );
      }
    });

    it('closes after the answer when the client asks, and answers a client that half-closed', async function () {
      const closing = await exchange(
        lane.address,
        post(predict, valid, ['Content-Type: application/json', 'Connection: close']),
        2,
      );
      assert.equal(closing.closed, true);
      assert.equal(closing.responses.length, 1);
      assert.deepEqual(
        closing.responses[0]!.headers.find(([n]) => n === 'connection'),
        ['connection', 'close'],
      );
      const socket = await connect(lane.address);
      const reading = readResponses(socket, 2);
      socket.end(post(predict, valid));
      const half = await reading;
      assert.equal(half.closed, true);
      assert.deepEqual(
        half.responses.map((r) => r.status),
        [200],
      );
    });

    for (const [what, partial, timeout] of [
      ['a request head', `POST ${predict} HTTP/1.1\r\nHost: x\r\n`, 'headersTimeout'],
      ['a request body', post(predict, valid).toString().slice(0, -5), 'requestTimeout'],
    ] as const) {
      it(`answers 408 and closes when ${what} does not arrive within the server's ${timeout}`, async function () {
        const server = lane.app.server;
        const saved = server[timeout];
        server[timeout] = 300;
        try {
          const socket = await connect(lane.address);
          const reading = readResponses(socket, 1);
          socket.write(partial);
          const { responses } = await reading;
          const closed = await new Promise<boolean>((resolve) => {
            if (socket.destroyed) resolve(true);
            socket.once('close', () => resolve(true));
          });
          assert.deepEqual([responses[0]?.status, closed], [408, true]);
        } finally {
          server[timeout] = saved;
        }
      });
    }

    it('closes a connection whose body stalls after requestTimeoutMs with a catalogued 408, with the lane and without', async function () {
      for (const fastLane of [true, false]) {
        const own = await start({ fastLane, requestTimeoutMs: 1000 });
        const socket = await connect(own.address);
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const reading = readResponses(socket, 1);
        socket.write(post(predict, valid).subarray(0, -5));
        const { responses } = await reading;
        await closed;
        assert.equal(responses[0]?.status, 408, `fastLane ${fastLane}`);
        const body = JSON.parse(responses[0].body) as { code: string; error: string };
        assert.equal(body.code, 'MLOPS_ERR_SERVE_REQUEST_TIMEOUT');
        assert.match(body.error, /did not arrive in full within 1000 ms of its first byte/);
      }
    });

    it('lets the server close while clients hold idle keep-alive connections', async function () {
      const own = await start({});
      const socket = await connect(own.address);
      const reading = readResponses(socket, 1);
      socket.write(post(predict, valid));
      assert.equal((await reading).responses[0]!.status, 200);
      const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      servers.splice(servers.indexOf(own.app), 1);
      await own.app.close();
      await closedByServer;
    });
  });
});
