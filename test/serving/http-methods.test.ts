import assert from 'node:assert/strict';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import { riskyCustomer, servedChurn } from '../support/served-model';

interface Answer {
  status: number;
  allow?: string;
  body: { code?: string; error?: string | { message: string; reason: string } };
}

/**
 * One request over a real socket with node:http, which sends any method (fetch refuses TRACE) and any bytes of a
 * path; the body of a HEAD answer is empty.
 */
function request(
  address: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: Buffer,
): Promise<Answer> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode!,
          allow: res.headers.allow,
          body: text ? (JSON.parse(text) as Answer['body']) : {},
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The churn model's server on a free loopback port for the suite's tests; closed after them. */
function listeningChurn(): { address: string } {
  const server = { address: '' };
  let app: FastifyInstance | undefined;
  before(async function () {
    this.timeout(120_000);
    const { store } = await servedChurn();
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
    server.address = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
  });
  return server;
}

const messageOf = (answer: Answer): string => {
  const { error } = answer.body;
  return typeof error === 'string' ? error : (error?.message ?? '');
};

describe('the model server answering methods a route does not take (real HTTP)', function () {
  const server = listeningChurn();

  const cases: { method: string; path: string; allow: string }[] = [
    { method: 'OPTIONS', path: '/v1/models/churn:predict', allow: 'POST' },
    { method: 'TRACE', path: '/v1/models/churn:predict', allow: 'POST' },
    { method: 'OPTIONS', path: '/healthz', allow: 'GET, HEAD' },
    { method: 'TRACE', path: '/readyz', allow: 'GET, HEAD' },
    { method: 'POST', path: '/metrics', allow: 'GET, HEAD' },
    { method: 'DELETE', path: '/v1/models/churn', allow: 'GET, HEAD' },
    { method: 'POST', path: '/v1/models/churn', allow: 'GET, HEAD' },
    { method: 'OPTIONS', path: '/v2/models/churn/versions/1/infer', allow: 'POST' },
    { method: 'PROPFIND', path: '/v2/health/ready', allow: 'GET, HEAD' },
    { method: 'OPTIONS', path: '/v1/projects/p/locations/l/endpoints/churn:predict', allow: 'POST' },
  ];
  for (const { method, path, allow } of cases) {
    it(`answers ${method} ${path} with 405 and Allow: ${allow}`, async function () {
      const answer = await request(server.address, method, path);
      assert.equal(answer.status, 405, JSON.stringify(answer.body));
      assert.equal(answer.allow, allow);
      const code = typeof answer.body.error === 'object' ? answer.body.error.reason : answer.body.code;
      assert.equal(code, 'MLOPS_ERR_SERVE_METHOD_NOT_ALLOWED');
      assert.ok(messageOf(answer).includes(`Method ${method} is not allowed on ${path}; it takes ${allow}`));
    });
  }

  it('answers HEAD on a GET route as GET, and HEAD on a predict route with 405', async function () {
    assert.equal((await request(server.address, 'HEAD', '/healthz')).status, 200);
    const head = await request(server.address, 'HEAD', '/v1/models/churn:predict');
    assert.equal(head.status, 405);
    assert.equal(head.allow, 'POST');
  });

  it('refuses a request target with a #fragment with 400 naming it, on every route', async function () {
    const body = Buffer.from(JSON.stringify({ instances: [riskyCustomer] }));
    const json = { 'content-type': 'application/json' };
    for (const [method, path, shown] of [
      ['POST', '/v1/models/churn:predict#x', '/v1/models/churn:predict#x'],
      ['POST', '/v1/models/churn:predict?a=1#x', '/v1/models/churn:predict'],
      ['POST', '/v2/models/churn/infer#', '/v2/models/churn/infer#'],
      ['GET', '/healthz#live', '/healthz#live'],
      ['GET', '/v1/models/churn#x', '/v1/models/churn#x'],
    ]) {
      const answer = await request(server.address, method!, path!, json, method === 'POST' ? body : undefined);
      assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      const code = typeof answer.body.error === 'object' ? answer.body.error.reason : answer.body.code;
      assert.equal(code, 'MLOPS_ERR_SERVE_URL_INVALID', `${method} ${path}`);
      assert.ok(
        messageOf(answer).includes(`Request path ${shown} cannot be routed: a request target has no #fragment`),
      );
    }
    // A # sent percent-encoded is part of the path, as any other character.
    assert.equal((await request(server.address, 'GET', '/v1/models/churn%23x')).status, 404);
  });

  it('keeps unknown paths, and unknown verbs on a model, a 404 whatever the method', async function () {
    for (const [method, path] of [
      ['OPTIONS', '/v3/anything'],
      ['TRACE', '/nothing/here'],
      ['PROPFIND', '/v2/nothing'],
      ['OPTIONS', '/v1/models/churn:explain'],
      ['POST', '/v1/models/churn:explain'],
      ['OPTIONS', '/v1/projects/p/locations/l/endpoints/churn'],
    ]) {
      const answer = await request(server.address, method!, path!);
      assert.equal(answer.status, 404, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.allow, undefined);
      assert.match(messageOf(answer), new RegExp(`No route ${method} `));
    }
  });
});

describe('the model server naming the called path in a 415 (real HTTP)', function () {
  const server = listeningChurn();
  const body = Buffer.from(JSON.stringify({ instances: [riskyCustomer] }));

  it('names the path of a wrong content type, not the route pattern, and leaves the query out', async function () {
    for (const path of ['/v1/models/churn:predict', '/v1/projects/p/locations/l/endpoints/churn:predict']) {
      const answer = await request(server.address, 'POST', `${path}?debug=1`, { 'content-type': 'text/plain' }, body);
      assert.equal(answer.status, 415);
      assert.ok(
        messageOf(answer).includes(`Content type "text/plain" is not accepted on ${path}; send`),
        messageOf(answer),
      );
      assert.doesNotMatch(messageOf(answer), /:target|\{name\}|debug=1/);
    }
    const v2 = await request(
      server.address,
      'POST',
      '/v2/models/churn/versions/1/infer',
      { 'content-type': 'text/csv' },
      body,
    );
    assert.equal(v2.status, 415);
    assert.ok(
      messageOf(v2).includes('"text/csv" is not accepted on /v2/models/churn/versions/1/infer;'),
      messageOf(v2),
    );
  });

  it('names the path of a compressed body', async function () {
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const answer = await request(server.address, 'POST', '/v2/models/churn/infer', headers, gzipSync(body));
    assert.equal(answer.status, 415);
    assert.ok(
      messageOf(answer).includes('Content-Encoding "gzip" is not accepted on /v2/models/churn/infer; only identity'),
      messageOf(answer),
    );
  });

  it('cuts a long path after 200 characters and counts the rest', async function () {
    // Each parameter stays within fastify's 100 characters (a longer one is a 414).
    const path = `/v1/projects/${'p'.repeat(100)}/locations/${'l'.repeat(100)}/endpoints/churn:predict`;
    const answer = await request(server.address, 'POST', path, { 'content-type': 'text/plain' }, body);
    assert.equal(answer.status, 415);
    const message = messageOf(answer);
    assert.ok(message.includes(`on ${path.slice(0, 200)}… (${path.length} characters); send`), message);
    assert.ok(!message.includes(path), 'the whole path is not echoed');
  });

  it('shows control characters of a path percent-encoded as sent, never decoded', async function () {
    const path = '/v1/projects/p%07%1B[31m%0A/locations/l/endpoints/churn:predict';
    const answer = await request(server.address, 'POST', path, { 'content-type': 'text/plain' }, body);
    assert.equal(answer.status, 415);
    const message = messageOf(answer).split('\nFix: ')[0]!;
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(message, /[\u0000-\u001f\u007f]/);
    assert.ok(message.includes(`on ${path}; send`), message);
  });
});
