/**
 * Root hook plugin (loaded once per mocha process via .mocharc.json): installs the Temporal runtime, starts one real
 * dev server with the same code the demo and CI use, and bundles the workflows once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
} from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { resolveTemporalCli, startDevServer } from '../src/dev/temporal-server';
import { setStack, stack } from './support/stack';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // The first run on a machine may build the Temporal CLI from Go modules.
    this.timeout(30 * 60_000);
    Runtime.install({
      // Expected failures (bad input tests) log at WARN; ERROR keeps the test output readable.
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
    });
    const config = loadConfig();
    const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-test-'));
    const cliPath = resolveTemporalCli(config, (line) => console.log(`[setup] ${line}`));
    const server = await startWithRetry(cliPath, tmpRoot);
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../src/workflows'),
      logger: new DefaultLogger('WARN'),
    });
    setStack({ server, client, connection: nativeConnection, workflowBundle, cliPath, tmpRoot });
  },

  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    const s = stack();
    await s.connection.close();
    await s.client.connection.close();
    await s.server.stop();
    setStack(undefined);
    fs.rmSync(s.tmpRoot, { recursive: true, force: true });
  },
};

/** A slow machine can miss the readiness window once; retry the server start (never a test body). */
async function startWithRetry(cliPath: string, tmpRoot: string) {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startDevServer({ cliPath, stateDir: path.join(tmpRoot, `temporal-${attempt}`), port: 0, uiPort: 0 });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
