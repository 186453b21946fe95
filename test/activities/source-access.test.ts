import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createIngestActivities } from '../../src/activities/ingest';
import { LocalArtifactStore } from '../../src/artifacts';
import type { SourceAccess } from '../../src/config';
import { loadConfig } from '../../src/config';
import type { ErrorCode } from '../../src/errors';
import { repoRoot, tempDir, testSources } from '../support/stack';

const badRow = 'id,age,income\n1,34,52000\n2,41,61000,secret-value\n';

function ingestWith(sources: SourceAccess) {
  const root = tempDir('access-store');
  const { ingestDataset } = createIngestActivities({ store: new LocalArtifactStore(root), sources });
  return { root, ingest: ingestDataset };
}

async function failure(attempt: Promise<unknown>, code: ErrorCode): Promise<ApplicationFailure> {
  const err = await attempt.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  assert.equal(err.type, code, err.message);
  assert.equal(err.nonRetryable, true);
  return err;
}

/** Folders made by `outsideRoots`, removed when the tests end. */
const outsideFolders: string[] = [];

/** A folder outside every test data root (the roots hold the test run's temp folder, not the system's). */
function outsideRoots(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-outside-'));
  outsideFolders.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

const emptyTree = (root: string) => fs.readdirSync(root, { recursive: true });

describe('what ingestDataset may read', function () {
  after(() => outsideFolders.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  describe('local files', function () {
    it('reads a file inside a data root, and its errors quote the bad line', async function () {
      const file = path.join(tempDir('in-root'), 'bad.csv');
      fs.writeFileSync(file, badRow);
      const err = await failure(ingestWith(testSources()).ingest({ sourceUri: file }), 'MLOPS_ERR_DATA_ROW_MALFORMED');
      assert.match(err.message, /at line 3: .*\("2,41,61000,secret-value"\)/);
    });

    it('refuses a file outside every data root without reading it, and says which roots there are', async function () {
      const file = outsideRoots('people.csv', 'id,secret\n1,hunter2\n');
      const { root, ingest } = ingestWith(testSources());
      const err = await failure(ingest({ sourceUri: file }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      assert.match(err.message, /is not inside a data root \(/);
      assert.doesNotMatch(err.message, /hunter2/);
      assert.deepEqual(emptyTree(root), []);
      await failure(ingest({ sourceUri: '/etc/passwd', format: 'csv' }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
    });

    it('refuses a missing file outside the roots the same way, so existence outside them is not revealed', async function () {
      const { ingest } = ingestWith(testSources());
      await failure(ingest({ sourceUri: '/nonexistent/people.csv' }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      const inside = path.join(tempDir('in-root'), 'absent.csv');
      await failure(ingest({ sourceUri: inside }), 'MLOPS_ERR_DATA_SOURCE_NOT_FOUND');
    });

    it('follows symbolic links before judging: a link inside a root to a file outside it is refused', async function () {
      const secret = outsideRoots('secret.csv', 'id,secret\n1,hunter2\n');
      const link = path.join(tempDir('in-root'), 'innocent.csv');
      fs.symlinkSync(secret, link);
      const { root, ingest } = ingestWith(testSources());
      const err = await failure(ingest({ sourceUri: link }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      // The path given lies in a root: the message says the link leads out, without naming where.
      assert.match(err.message, /it is a symbolic link \(or inside one\) that leads out of the data roots \(/);
      assert.ok(!err.message.includes(secret), 'where the link leads is not named');
      await failure(ingest({ sourceUri: `file://${link}` }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      assert.deepEqual(emptyTree(root), []);
    });

    it('never reads /proc, /sys or /dev, even under a data root of /, and never quotes the environment', async function () {
      const { ingest } = ingestWith({ dataRoots: ['/'], httpAllowedHosts: [] });
      for (const uri of ['/proc/self/environ', '/sys/kernel/hostname', '/dev/zero']) {
        const err = await failure(ingest({ sourceUri: uri, format: 'csv' }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
        assert.match(err.message, /\/proc, \/sys, \/dev are never read/);
        assert.ok(!err.message.includes(process.env.PATH!), 'no environment value in the message');
      }
      const viaLink = path.join(tempDir('in-root'), 'env.csv');
      fs.symlinkSync('/proc/self/environ', viaLink);
      await failure(ingest({ sourceUri: viaLink }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
    });

    it('takes its data roots from MLOPS_DATA_ROOTS, by default the examples and the state folder data/', function () {
      const state = tempDir('state');
      assert.deepEqual(loadConfig({ MLOPS_STATE_DIR: state }).sources, {
        dataRoots: [path.resolve('examples'), path.join(state, 'data')],
        httpAllowedHosts: [],
        httpStallMs: 60_000,
      });
      const configured = loadConfig({
        MLOPS_DATA_ROOTS: `/srv/data:${repoRoot}/examples`,
        MLOPS_HTTP_ALLOWED_HOSTS: 'Data.Internal, 10.0.0.5',
        MLOPS_HTTP_STALL_SECONDS: '5',
      });
      assert.deepEqual(configured.sources, {
        dataRoots: ['/srv/data', path.join(repoRoot, 'examples')],
        httpAllowedHosts: ['data.internal', '10.0.0.5'],
        httpStallMs: 5_000,
      });
      assert.throws(() => loadConfig({ MLOPS_HTTP_ALLOWED_HOSTS: 'a b' }), /MLOPS_HTTP_ALLOWED_HOSTS/);
    });
  });

  describe('http(s) URLs', function () {
    let server: http.Server;
    let base: string;
    let port: number;
    let requests: string[];

    before(async function () {
      server = http.createServer((req, res) => {
        requests.push(req.url ?? '');
        if (req.url === '/people.csv') res.writeHead(200).end('id,age\n1,34\n2,41\n');
        else if (req.url === '/bad.csv') res.writeHead(200).end(badRow);
        else if (req.url === '/one-line.csv') res.writeHead(200).end('api-key-0123456789\n');
        else if (req.url === '/mixed.csv') res.writeHead(200).end('id,age\n1,34\n2,41\n3,secret-word\n');
        else if (req.url === '/to-people') res.writeHead(302, { location: '/people.csv' }).end();
        else if (req.url === '/to-localhost')
          res.writeHead(302, { location: `http://localhost:${port}/people.csv` }).end();
        else if (req.url === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
      base = `http://127.0.0.1:${port}`;
    });
    beforeEach(() => {
      requests = [];
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const allowing = (...hosts: string[]) => ingestWith({ ...testSources(), httpAllowedHosts: hosts });

    it('refuses loopback hosts by default, by address and by a name that resolves to one, before any request', async function () {
      const { root, ingest } = allowing();
      const byAddress = await failure(ingest({ sourceUri: `${base}/people.csv` }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      assert.match(
        byAddress.message,
        /the host 127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback, link-local or private address/,
      );
      // Other spellings of the same address are normalised before the check.
      for (const spelling of ['2130706433', '127.1', '0x7f.0.0.1', 'LOCALHOST'])
        await failure(
          ingest({ sourceUri: `http://${spelling}:${port}/people.csv` }),
          'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED',
        );
      await failure(ingest({ sourceUri: 'http://[fe80::1%eth0/x.csv' }), 'MLOPS_ERR_DATA_SOURCE_INVALID');
      await failure(ingest({ sourceUri: `http://localhost:${port}/people.csv` }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      for (const internal of [
        '169.254.169.254',
        '10.1.2.3',
        '192.168.0.1',
        '172.16.5.4',
        '[::1]',
        '[::ffff:127.0.0.1]',
        '0.0.0.0',
      ])
        await failure(ingest({ sourceUri: `http://${internal}/x.csv` }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      assert.deepEqual(requests, []);
      assert.deepEqual(emptyTree(root), []);
    });

    it('reads a loopback host listed in MLOPS_HTTP_ALLOWED_HOSTS, following a redirect to it', async function () {
      const snapshot = await allowing('127.0.0.1').ingest({ sourceUri: `${base}/to-people`, format: 'csv' });
      assert.equal(snapshot.rowCount, 2);
      assert.deepEqual(requests, ['/to-people', '/people.csv']);
    });

    it('follows a redirect only to an allowed host and an http(s) URL', async function () {
      const { root, ingest } = allowing('127.0.0.1');
      const err = await failure(
        ingest({ sourceUri: `${base}/to-localhost`, format: 'csv' }),
        'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED',
      );
      assert.match(err.message, /the host localhost \(a redirect leads there\) resolves to/);
      await failure(ingest({ sourceUri: `${base}/to-file`, format: 'csv' }), 'MLOPS_ERR_DATA_SOURCE_NOT_ALLOWED');
      assert.deepEqual(requests, ['/to-localhost', '/to-file'], 'the redirect targets were never requested');
      assert.deepEqual(emptyTree(root), []);
    });

    it('names the bad line and cell of a downloaded file but quotes neither', async function () {
      const err = await failure(
        allowing('127.0.0.1').ingest({ sourceUri: `${base}/bad.csv` }),
        'MLOPS_ERR_DATA_ROW_MALFORMED',
      );
      assert.match(err.message, /at line 3: the row has 4 fields but the header has 3 \(3 columns\): .* column #3/);
      assert.doesNotMatch(err.message, /secret-value/);
      const mixed = await failure(
        allowing('127.0.0.1').ingest({ sourceUri: `${base}/mixed.csv` }),
        'MLOPS_ERR_DATA_MIXED_TYPES',
      );
      assert.match(mixed.message, /Column "age" .* mixes numbers and text: row 3 has "…"/);
      assert.doesNotMatch(mixed.message, /secret-word/);
      const oneLine = await failure(
        allowing('127.0.0.1').ingest({ sourceUri: `${base}/one-line.csv` }),
        'MLOPS_ERR_DATA_EMPTY',
      );
      assert.match(oneLine.message, /the file has only a header line \(1 column\)/);
      assert.doesNotMatch(oneLine.message, /api-key/);
    });
  });
});
