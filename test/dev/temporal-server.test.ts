import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../src/config';
import { freePort, resolveTemporalCli, startDevServer } from '../../src/dev/temporal-server';
import { stack, tempDir, uniqueName } from '../support/stack';

describe('the Temporal dev server module', function () {
  it('keeps workflows and search attributes in its SQLite file across a restart', async function () {
    const stateDir = tempDir('restart');
    const workflowId = uniqueName(this.test!.title);
    const withClient = async <T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> => {
      const connection = await Connection.connect({ address });
      try {
        return await fn(new Client({ connection }));
      } finally {
        await connection.close();
      }
    };
    const first = await startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false });
    try {
      // No worker polls this queue: the run stays open, which is what must survive.
      await withClient(first.address, (client) =>
        client.workflow.start('trainingPipeline', { taskQueue: 'nobody-polls', workflowId, args: [{}] }),
      );
    } finally {
      await first.stop();
    }
    assert.ok(fs.statSync(path.join(stateDir, 'temporal.sqlite')).size > 0);
    const second = await startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false });
    try {
      const description = await withClient(second.address, (client) =>
        client.workflow.getHandle(workflowId).describe(),
      );
      assert.equal(description.status.name, 'RUNNING');
      const attributes = await withClient(second.address, (client) =>
        client.connection.operatorService.listSearchAttributes({ namespace: 'default' }),
      );
      assert.ok(Object.keys(attributes.customAttributes).includes('MlopsPipelineStage'));
    } finally {
      await second.stop();
    }
  });

  it('opens its HTTP API and metrics on the ports MLOPS_DEV_HTTP_PORT and MLOPS_DEV_METRICS_PORT name', async function () {
    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    const config = loadConfig({ MLOPS_DEV_HTTP_PORT: String(httpPort), MLOPS_DEV_METRICS_PORT: String(metricsPort) });
    assert.deepEqual([config.devServer.httpPort, config.devServer.metricsPort], [httpPort, metricsPort]);
    const server = await startDevServer({
      cliPath: stack().cliPath,
      stateDir: tempDir('ports'),
      port: 0,
      uiPort: false,
      httpPort: config.devServer.httpPort,
      metricsPort: config.devServer.metricsPort,
    });
    try {
      const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(metrics.status, 200);
      const api = await fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces/default`);
      assert.equal(api.status, 200, await api.text());
    } finally {
      await server.stop();
    }
    assert.equal(loadConfig({}).devServer.httpPort, 0, 'unset: a free port');
  });

  it('refuses a second server on a state folder a running one uses, and takes over one a killed server left', async function () {
    const stateDir = tempDir('in-use');
    const lockFile = path.join(stateDir, 'temporal.lock');
    const first = await startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false });
    try {
      const { pid } = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number };
      await assert.rejects(
        startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false }),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.type === 'MLOPS_ERR_DEV_SERVER_STATE_IN_USE' &&
          err.nonRetryable &&
          err.message.includes(`(process ${pid}, ${first.address})`) &&
          /MLOPS_STATE_DIR=<folder>/.test(err.message) &&
          err.message.includes(`or kill ${pid})`),
      );
      // The first server was not disturbed.
      const connection = await Connection.connect({ address: first.address });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
    } finally {
      await first.stop();
    }
    assert.equal(fs.existsSync(lockFile), false, 'a stopped server leaves no lock');
    // A lock whose process is gone (a server killed without its stop) does not hold the folder.
    fs.writeFileSync(lockFile, JSON.stringify({ pid: 2 ** 22 + 1, address: '127.0.0.1:1' }));
    const again = await startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false });
    await again.stop();
  });

  it('stops with a catalogued error that says how to install the CLI when there is no CLI and no Go', function () {
    const savedPath = process.env.PATH;
    process.env.PATH = tempDir('empty-path');
    try {
      const config = loadConfig({ MLOPS_CACHE_DIR: tempDir('empty-cache') });
      assert.throws(
        () => resolveTemporalCli(config),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.type === 'MLOPS_ERR_DEV_TEMPORAL_CLI_MISSING' &&
          /TEMPORAL_CLI_PATH \(unset\), PATH/.test(err.message) &&
          /Install Go 1\.25 or newer/.test(err.message),
      );
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('refuses a TEMPORAL_CLI_PATH that cannot be run, instead of running another CLI without a word', function () {
    // The cached CLI is there: a wrong pin must not fall back to it.
    const folder = tempDir('cli-pin');
    const notExecutable = path.join(folder, 'temporal');
    fs.writeFileSync(notExecutable, '#!/bin/sh\n');
    for (const [pin, reason] of [
      ['/nonexistent/temporal', /no such file/],
      [folder, /it is not a file/],
      [notExecutable, /it is not executable \(chmod \+x it/],
    ] as const) {
      assert.throws(
        () => resolveTemporalCli(loadConfig({ TEMPORAL_CLI_PATH: pin })),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.type === 'MLOPS_ERR_DEV_TOOL_PATH_INVALID' &&
          err.message.startsWith(`MLOPS_ERR_DEV_TOOL_PATH_INVALID: TEMPORAL_CLI_PATH=${pin} cannot be run: `) &&
          reason.test(err.message) &&
          err.message.includes('\nFix: Point TEMPORAL_CLI_PATH at the temporal binary, or unset it'),
      );
    }
  });
});
