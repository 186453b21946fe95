import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { createPipelineActivities } from '../../src/activities';
import { createScratch, sweepScratch } from '../../src/scratch';
import { runStep } from '../../src/step-context';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { mockEnv, runActivity } from '../support/activity-env';
import { testDeps } from '../support/dependencies';
import { tempDir, testSources } from '../support/stack';

/** An HTTP server whose every response sends a few bytes and then hangs; `requested` resolves on the first request. */
async function hangingServer() {
  let requested!: () => void;
  const firstRequest = new Promise<void>((resolve) => (requested = resolve));
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    res.write('a,b\n1,2\n');
    requested();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => {
    server.closeAllConnections();
    server.close();
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/data.csv`, firstRequest, close };
}

describe('data steps under cancellation', function () {
  it('interrupts a running DuckDB query when the step is aborted', async function () {
    const controller = new AbortController();
    const step = { signal: controller.signal, progress: () => undefined, scratchDir: tempDir('scratch') };
    // Seconds of work for one thread, which would end with a sum if the abort did not interrupt it.
    const query = runStep(step, () =>
      withDuckDb((db) => db.query('SELECT sum(hash(i)) AS s FROM range(3000000000) t(i)'), { threads: 1 }),
    );
    setImmediate(() => controller.abort());
    await assert.rejects(query, /INTERRUPT|interrupt/i);
  });

  it('cancels an ingest whose download hangs: the fetch is aborted and the activity ends as cancelled', async function () {
    const server = await hangingServer();
    try {
      const deps = testDeps({ sources: { ...testSources(), httpAllowedHosts: ['127.0.0.1'] } });
      const { ingestDataset } = createPipelineActivities(deps);
      const env = mockEnv({ heartbeatTimeoutMs: 2_000 });
      const beats: unknown[] = [];
      env.on('heartbeat', (details: unknown) => beats.push(details));
      void server.firstRequest.then(() => env.cancel());
      await assert.rejects(
        runActivity(env, ingestDataset, { sourceUri: server.url, format: 'csv' }),
        (err: unknown) => err instanceof CancelledFailure,
      );
      assert.ok(beats.length > 0, 'the step heartbeats while it runs');
      assert.deepEqual(fs.readdirSync(deps.scratchRoot), [], 'the cancelled attempt removed its scratch folder');
    } finally {
      server.close();
    }
  });
});

describe('scratch folders of step attempts', function () {
  it('sweeps only the folders of processes that are gone, on this host', async function () {
    const root = tempDir('scratch-root');
    const mine = await createScratch(root, ['wf', '1', 1]);
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const host = os.hostname().replace(/[^A-Za-z0-9._-]+/g, '_');
    const deadFolder = path.join(root, `${host}@${dead.pid}-wf-2-1`);
    const otherHost = path.join(root, `another-host@${dead.pid}-wf-3-1`);
    // A host whose name extends this one's ("<host>-2"): its folders are not this host's.
    const longerHost = path.join(root, `${host}-2@${dead.pid}-wf-4-1`);
    for (const dir of [deadFolder, otherHost, longerHost])
      fs.mkdirSync(path.join(dir, 'mlops-ingest-x'), { recursive: true });

    // A killed process its parent has not reaped yet (a zombie) is gone too: Python forks a child that exits at once
    // and, without waiting for it, prints its pid and sleeps.
    const parent = spawn('python3', [
      '-c',
      'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)',
    ]);
    const zombiePid = Number(
      await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d)))),
    );
    while (!fs.readFileSync(`/proc/${zombiePid}/stat`, 'utf8').includes(') Z '))
      await new Promise((r) => setImmediate(r));
    const zombieFolder = path.join(root, `${host}@${zombiePid}-prediction-log`);
    fs.mkdirSync(zombieFolder);

    const removed = await sweepScratch(root);
    parent.kill();

    assert.deepEqual(removed.sort(), [path.basename(deadFolder), path.basename(zombieFolder)].sort());
    assert.ok(fs.existsSync(mine), "a live process's folder stays");
    assert.ok(fs.existsSync(otherHost), "another host's folder stays (its processes cannot be checked here)");
    assert.ok(fs.existsSync(longerHost), "a host whose name starts with this host's name keeps its folders");
    assert.ok(!fs.existsSync(deadFolder));
  });
});
