/**
 * The test stack, created once per mocha process by `test/setup.ts`: a real Temporal dev server (Web UI on), a
 * client, a native connection for workers, and the workflow bundle built once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { MlopsConfig, SourceAccess } from '../../src/config';
import { loadConfig } from '../../src/config';
import type { DevServer } from '../../src/dev/temporal-server';

export interface TestStack {
  server: DevServer;
  client: Client;
  connection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap;
  cliPath: string;
  /** Root of this process's temporary folders. */
  tmpRoot: string;
}

let current: TestStack | undefined;

export function setStack(stack: TestStack | undefined): void {
  current = stack;
}

export function stack(): TestStack {
  if (!current) throw new Error('The test stack is not running; mocha must load test/setup.ts (see .mocharc.json).');
  return current;
}

/** A fresh folder under the run's temp root. */
/** The flags that point the Temporal CLI at the test stack's server. */
export function cliServerFlags(): string[] {
  const { server } = stack();
  return ['--address', server.address, '--namespace', server.namespace];
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(current?.tmpRoot ?? os.tmpdir(), `${prefix}-`));
}

/**
 * Where tests' ingests may read: the test run's temp folder (every `tempDir`), the bundled examples and the fixtures.
 * No http(s) host on an internal address: a test that serves data on loopback opts in explicitly.
 */
export function testSources(): SourceAccess {
  return { dataRoots: testDataRoots(), httpAllowedHosts: [] };
}

function testDataRoots(): string[] {
  return [stack().tmpRoot, path.join(repoRoot, 'examples'), path.join(repoRoot, 'test', 'fixtures')];
}

/** A config for one test: its own state folder and artifact store, pointed at the test server. */
export function testConfig(overrides: Record<string, string> = {}): Readonly<MlopsConfig> {
  const stateDir = tempDir('state');
  return loadConfig({
    HOME: process.env.HOME,
    PATH: process.env.PATH,
    MLOPS_STATE_DIR: stateDir,
    MLOPS_CACHE_DIR: process.env.MLOPS_CACHE_DIR,
    MLOPS_WORKER_SHUTDOWN_GRACE_MS: '2000',
    MLOPS_DATA_ROOTS: testDataRoots().join(':'),
    TEMPORAL_ADDRESS: stack().server.address,
    TEMPORAL_NAMESPACE: stack().server.namespace,
    ...overrides,
  });
}

/** A task queue / workflow id unique to a test title. */
export function uniqueName(title: string): string {
  const slug = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48);
  return `${slug}-${crypto.randomBytes(3).toString('hex')}`;
}

export const repoRoot = path.resolve(__dirname, '..', '..');
export const exampleDataset = path.join(repoRoot, 'examples', 'churn.csv');
