/**
 * Real parts of the closed-loop tests (test/e2e/closed-loop.test.ts): a model server process following a model's
 * deployment record, a pipeline worker process that can be killed, client traffic that records who answered each
 * request, a Slack-compatible webhook receiver, and bounded polling of the controller's state.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { ControllerState } from '../../src/contracts/controller';
import type { modelController } from '../../src/workflows';
import { controllerStatusQuery } from '../../src/workflows/definitions';
import { repoRoot, stack, tempDir } from './stack';

export type Controller = WorkflowHandle<typeof modelController>;

export type Process = ChildProcess & { exited: Promise<number | null> };

/** Starts a TypeScript entry point of src/ as its own process, as `npm run serve` / `npm run worker:*` do. */
export function startProcess(entry: string, env: Record<string, string>): Process {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, 'src', entry)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Kept, not printed: onnxruntime logs each failed run of a failing canary; shown when the process exits non-zero.
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (code !== null && code !== 0) console.error(`${entry} exited with ${code}:\n${stderr}`);
      resolve(code);
    }),
  );
  return Object.assign(child, { exited });
}

/** Ends a process and waits for it; a process that already exited is left alone. */
export async function stopProcess(child: Process | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await child.exited;
}

/** Polls `check` every `everyMs` until it returns a value, failing after `limitMs` with `what` and the last value. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  limitMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`waited ${limitMs} ms for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls the controller's status query until `ready` holds (bounded); returns that state. */
export async function waitForState(
  handle: Controller,
  ready: (s: ControllerState) => boolean,
  what: string,
  limitMs = 120_000,
): Promise<ControllerState> {
  let last: ControllerState | undefined;
  try {
    return await waitFor(
      what,
      async () => {
        last = await handle.query(controllerStatusQuery);
        return ready(last) ? last : undefined;
      },
      limitMs,
    );
  } catch (err) {
    assert.fail(`${(err as Error).message}; controller state: ${JSON.stringify(last, null, 1)}`);
  }
}

/** A free loopback port (taken and released at once). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ModelServer {
  url: string;
  process: Process;
  stats(): Promise<ServerStats>;
}

export interface ServerStats {
  routing: { stable: number; canary?: { version: number; weight: number } };
  versions: Record<string, { requests: number; errors: number; rejected: number; latencyMsSum: number }>;
}

/**
 * Starts `src/serving/server.ts` for `modelName` on the artifact store at `artifactRoot`: it follows the deployment
 * record every 200 ms and flushes its prediction log every 200 ms, so a canary's predictions reach the log while
 * it bakes. Resolves once `/readyz` answers 200.
 */
export async function startModelServer(artifactRoot: string, modelName: string): Promise<ModelServer> {
  const port = await freePort();
  const child = startProcess(path.join('serving', 'server.ts'), {
    MLOPS_STATE_DIR: tempDir('server-state'),
    MLOPS_ARTIFACT_ROOT: artifactRoot,
    MLOPS_SERVE_MODEL: modelName,
    MLOPS_SERVE_PORT: String(port),
    MLOPS_SERVE_POLL_MS: '200',
    MLOPS_SERVE_LOG_FLUSH_MS: '200',
    MLOPS_LOG_LEVEL: 'ERROR',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`the model server of ${modelName} to be ready`, async () => {
    if (child.exitCode !== null) assert.fail(`the model server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    return ok || undefined;
  });
  const stats = async () => (await (await fetch(`${url}/v1/models/${modelName}/stats`)).json()) as ServerStats;
  return { url, process: child, stats };
}

export interface Answer {
  status: number;
  /** The answering version (x-model-version), when the server named one. */
  version?: string;
}

/**
 * Client traffic: one instance per request, each with its own request id (so the server's split by request id
 * spreads them), sent one after another with a short pause, until stopped or `limit` requests were sent.
 */
export class Traffic {
  readonly answers: Answer[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    private readonly server: ModelServer,
    private readonly modelName: string,
    private readonly instances: Record<string, unknown>[],
    private readonly limit = 20_000,
    private readonly pauseMs = 5,
  ) {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    for (let i = 0; i < this.limit && !this.#stopped; i++) {
      await this.send(`${this.modelName}-${i}-${Date.now()}`, this.instances[i % this.instances.length]!);
      await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
    }
  }

  /** Sends one request and records its answer; a refused connection is recorded as status 0. */
  async send(requestId: string, instance: Record<string, unknown>): Promise<Answer> {
    const answer = await fetch(`${this.server.url}/v1/models/${this.modelName}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ instances: [instance] }),
    }).then(
      async (r) => {
        await r.arrayBuffer();
        return { status: r.status, version: r.headers.get('x-model-version') ?? undefined };
      },
      () => ({ status: 0 }),
    );
    this.answers.push(answer);
    return answer;
  }

  /** Waits until `count` answers came from `version`. */
  async waitForAnswers(version: number, count: number, limitMs = 60_000): Promise<void> {
    await waitFor(
      `${count} answers from v${version}`,
      () => Promise.resolve(this.by(version).length >= count || undefined),
      limitMs,
    );
  }

  by(version: number): Answer[] {
    return this.answers.filter((a) => a.version === String(version));
  }

  failed(): Answer[] {
    return this.answers.filter((a) => a.status < 200 || a.status >= 300);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

export interface ReceivedMessage {
  /** What the receiver answered. */
  status: number;
  body: { text: string; blocks: unknown[] };
}

/** A local Slack-compatible webhook: records every POST; answers 500 to the first `failFirst` ones, then 200. */
export async function webhookReceiver(failFirst = 0) {
  const received: ReceivedMessage[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = received.length < failFirst ? 500 : 200;
      received.push({ status, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedMessage['body'] });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'try again');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/loop`;
  /** Messages of `event` (the section's Event field) the receiver accepted (answered 200). */
  const accepted = (event: string) => received.filter((m) => m.status === 200 && eventOf(m) === event);
  const close = () => new Promise((resolve) => server.close(resolve));
  return { url, received, accepted, close };
}

/** The event a received message names in its Event field (`*Event*\n<event>`). */
export function eventOf(message: ReceivedMessage): string | undefined {
  const section = message.body.blocks[1] as { fields?: { text: string }[] } | undefined;
  const field = section?.fields?.find((f) => f.text.startsWith('*Event*'));
  return field?.text.split('\n')[1];
}

/** The test process's workflow bundle as a file, for worker processes started with NODE_ENV=production. */
export function workflowBundleFile(): string {
  const file = path.join(tempDir('bundle'), 'workflow-bundle.js');
  fs.writeFileSync(file, stack().workflowBundle.code);
  return file;
}
