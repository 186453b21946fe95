import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Storage } from '@google-cloud/storage';
import { ApplicationFailure } from '@temporalio/common';
import type { ArtifactStore } from '../../src/artifacts';
import { GcsArtifactStore, LocalArtifactStore, readJson, writeJson } from '../../src/artifacts';
import type { RunningEmulator } from '../../src/dev/emulators';
import { isMlopsError } from '../../src/errors';
import { startTestFakeGcs } from '../support/fake-gcs';
import { tempDir } from '../support/stack';

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ApplicationFailure && err.type === code);
}

async function expectRejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof ApplicationFailure && err.type === code);
}

/** The same behaviour, asserted on every backend. */
function behavesAsAnArtifactStore(makeStore: () => Promise<ArtifactStore>): void {
  let store: ArtifactStore;
  beforeEach(async () => {
    store = await makeStore();
  });

  it('writes, reads, lists and copies artifacts by URI', async function () {
    const uri = store.uri('datasets', 'ds-1', 'manifest.json');
    assert.equal(uri, `${store.root}/datasets/ds-1/manifest.json`);
    assert.equal(
      store.uri(store.root, 'datasets', 'ds-1', 'manifest.json'),
      uri,
      'the root URI itself can start a path',
    );
    await writeJson(store, uri, { rows: 3 });
    assert.deepEqual(await readJson(store, uri), { rows: 3 });
    assert.ok(await store.exists(uri));
    assert.ok(!(await store.exists(store.uri('datasets', 'ds-2', 'manifest.json'))));
    await store.write(store.uri('datasets', 'ds-1', 'data.bin'), Buffer.from([1, 2, 3]));
    assert.deepEqual(await store.list(store.uri('datasets')), [store.uri('datasets/ds-1/data.bin'), uri]);
    const local = path.join(tempDir('download'), 'copy.bin');
    await store.download(store.uri('datasets', 'ds-1', 'data.bin'), local);
    assert.deepEqual([...fs.readFileSync(local)], [1, 2, 3]);
  });

  it('removes an artifact once: gone from reads and listings, a second removal reports nothing was there', async function () {
    const kept = store.uri('predictions', 'm', 'date=2026-12-02', 'part-a.parquet');
    const merged = store.uri('predictions', 'm', 'date=2026-12-02', 'part-b.parquet');
    await store.write(kept, 'a');
    await store.write(merged, 'b');
    assert.equal(await store.remove(merged), true);
    assert.equal(await store.exists(merged), false);
    await expectRejects(store.read(merged), 'MLOPS_ERR_ARTIFACT_NOT_FOUND');
    assert.deepEqual(await store.list(store.uri('predictions')), [kept]);
    assert.equal(await store.remove(merged), false);
    assert.equal(await store.remove(store.uri('never', 'written.json')), false);
    await expectRejects(store.remove('file:///etc/passwd'), 'MLOPS_ERR_ARTIFACT_URI_INVALID');
  });

  it('rejects keys and URIs that would escape the store root', async function () {
    expectCode(() => store.uri('..', 'secrets'), 'MLOPS_ERR_ARTIFACT_URI_INVALID');
    expectCode(() => store.uri('datasets', '..', '..', 'x'), 'MLOPS_ERR_ARTIFACT_URI_INVALID');
    await expectRejects(store.read('file:///etc/passwd'), 'MLOPS_ERR_ARTIFACT_URI_INVALID');
    await expectRejects(store.read('gs://someone-elses-bucket/x'), 'MLOPS_ERR_ARTIFACT_URI_INVALID');
  });

  it('reports a missing artifact with a catalogued not-found error', async function () {
    await expectRejects(store.read(store.uri('nothing', 'here.json')), 'MLOPS_ERR_ARTIFACT_NOT_FOUND');
  });

  it('keeps the previous content and leaves no partial object when a write fails', async function () {
    const uri = store.uri('models', 'model.onnx');
    await store.write(uri, 'version 1');
    await assert.rejects(store.upload(path.join(tempDir('missing'), 'does-not-exist.onnx'), uri));
    await assert.rejects(store.adopt(path.join(tempDir('missing'), 'does-not-exist.onnx'), uri));
    assert.equal((await store.read(uri)).toString(), 'version 1');
    assert.deepEqual(await store.list(store.uri('models')), [uri]);
  });

  it('adopts a local file the caller gives up (a prediction log part), over an older artifact of the name', async function () {
    const uri = store.uri('predictions', 'm', 'date=2026-12-02', 'part-1.parquet');
    await store.write(uri, 'older');
    const local = path.join(tempDir('adopt'), 'part.parquet');
    fs.writeFileSync(local, 'PAR1 rows PAR1');
    await store.adopt(local, uri);
    assert.equal((await store.read(uri)).toString(), 'PAR1 rows PAR1');
    assert.deepEqual(await store.list(store.uri('predictions')), [uri]);
  });
}

describe('LocalArtifactStore', function () {
  behavesAsAnArtifactStore(() => Promise.resolve(new LocalArtifactStore(tempDir('store'))));

  it('moves an adopted file on the same filesystem instead of copying it', async function () {
    const store = new LocalArtifactStore(tempDir('store'));
    const local = path.join(tempDir('adopt'), 'part.parquet');
    fs.writeFileSync(local, 'PAR1 rows PAR1');
    const inode = fs.statSync(local).ino;
    const uri = store.uri('predictions', 'm', 'part-2.parquet');
    await store.adopt(local, uri);
    assert.equal(fs.existsSync(local), false, 'the file was moved');
    assert.equal(fs.statSync(store.localPath(uri)).ino, inode, 'the same file, not a copy');
  });

  it('never exposes a half-written file: readers see the old or the new bytes, nothing between', async function () {
    const root = tempDir('store');
    const store = new LocalArtifactStore(root);
    const uri = store.uri('big.bin');
    const old = Buffer.alloc(1 << 20, 1);
    const next = Buffer.alloc(8 << 20, 2);
    await store.write(uri, old);
    const writing = store.write(uri, next);
    const seen = new Set<string>();
    // Read while the write is in flight: each read returns one complete version.
    for (let i = 0; i < 20; i++) {
      const bytes = fs.readFileSync(path.join(root, 'big.bin'));
      seen.add(
        bytes.length === old.length && bytes.every((b) => b === 1)
          ? 'old'
          : bytes.length === next.length && bytes[bytes.length - 1] === 2
            ? 'new'
            : 'partial',
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writing;
    assert.ok(!seen.has('partial'), `readers saw: ${[...seen].join(', ')}`);
    assert.deepEqual(fs.readdirSync(root), ['big.bin'], 'no temp files remain');
  });
});

describe('LocalArtifactStore and symbolic links', function () {
  it('refuses to write through a link that leads out of the root, and writes nothing outside', async function () {
    const root = tempDir('store');
    const outside = tempDir('outside');
    fs.symlinkSync(outside, path.join(root, 'registry'));
    const store = new LocalArtifactStore(root);
    const uri = store.uri('registry', 'churn', 'versions', '000001', 'version.json');
    await expectRejects(store.write(uri, '{}'), 'MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT');
    await expectRejects(store.upload(__filename, store.uri('registry', 'copy.ts')), 'MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT');
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing was created outside the root');
  });

  it('refuses to read or copy a file that a link inside the root points outside it', async function () {
    const root = tempDir('store');
    const secret = path.join(tempDir('outside'), 'secret.txt');
    fs.writeFileSync(secret, 'not an artifact');
    fs.symlinkSync(secret, path.join(root, 'model.onnx'));
    const store = new LocalArtifactStore(root);
    await expectRejects(store.read(store.uri('model.onnx')), 'MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT');
    await expectRejects(
      store.download(store.uri('model.onnx'), path.join(tempDir('copy'), 'x')),
      'MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT',
    );
    await expectRejects(store.exists(store.uri('model.onnx')), 'MLOPS_ERR_ARTIFACT_OUTSIDE_ROOT');
  });

  it('works through links that stay inside: a root that is itself a link, and a link between its folders', async function () {
    const real = tempDir('real-store');
    const linkedRoot = path.join(tempDir('links'), 'artifacts');
    fs.symlinkSync(real, linkedRoot);
    const store = new LocalArtifactStore(linkedRoot);
    await store.write(store.uri('datasets', 'a.json'), '1');
    fs.symlinkSync(path.join(real, 'datasets'), path.join(real, 'alias'));
    assert.equal((await store.read(store.uri('alias', 'a.json'))).toString(), '1');
    assert.equal(fs.readFileSync(path.join(real, 'datasets', 'a.json'), 'utf8'), '1');
  });
});

describe('GcsArtifactStore on fake-gcs-server, through @google-cloud/storage', function () {
  let gcs: RunningEmulator;
  let bucketCount = 0;
  before(async function () {
    this.timeout(15 * 60_000);
    gcs = await startTestFakeGcs();
  });
  after(async () => {
    await gcs?.stop();
  });

  it('a store in a bucket that does not exist fails reads, writes and lists with MLOPS_ERR_ARTIFACT_BUCKET_NOT_FOUND naming the bucket and the setting', async function () {
    const store = new GcsArtifactStore('gs://nosuch-bucket/mlops', { apiEndpoint: gcs.url, projectId: 'test' });
    const missing = (err: unknown) => {
      assert.ok(isMlopsError(err, 'MLOPS_ERR_ARTIFACT_BUCKET_NOT_FOUND'), String(err));
      assert.equal(err.nonRetryable, true);
      assert.match(
        (err as Error).message,
        /gs:\/\/nosuch-bucket, which does not exist at http:[\s\S]*MLOPS_ARTIFACT_ROOT/,
      );
      return true;
    };
    await assert.rejects(store.check(), missing);
    await assert.rejects(store.write(store.uri('a.json'), '{}'), missing);
    await assert.rejects(store.list(store.uri('datasets')), missing);
    await assert.rejects(store.read(store.uri('a.json')), missing);
  });

  behavesAsAnArtifactStore(async () => {
    const bucket = `artifacts-${++bucketCount}`;
    await new Storage({ apiEndpoint: gcs.url, projectId: 'test' }).createBucket(bucket);
    return new GcsArtifactStore(`gs://${bucket}/team-a`, { apiEndpoint: gcs.url, projectId: 'test' });
  });
});
