/**
 * The whole stack in one process, for the demo, the benchmarks and history recording: a Temporal dev server, a
 * client, and the pipeline and training workers running against it. `stop()` takes everything down again.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config';
import type { MlopsConfig } from '../config';
import type { Dependencies } from '../dependencies';
import { buildDependencies } from '../dependencies';
import { createPipelineWorker, createTrainingWorker } from '../workers/create-workers';
import type { DevServer, Log } from './temporal-server';
import { resolveTemporalCli, startDevServer } from './temporal-server';
import { connectTemporalClient } from '../temporal-client';

export interface LocalStackOptions {
  /** Environment to configure from (MLOPS_STATE_DIR decides where state goes). */
  env: NodeJS.ProcessEnv;
  /** Frontend and Web UI ports; 0 picks free ones, `false` runs without the UI. */
  port: number;
  uiPort: number | false;
  /** Task queues of the workers. @default the production names */
  taskQueues?: { pipeline: string; training: string };
  log?: Log;
}

export interface LocalStack {
  server: DevServer;
  client: Client;
  /** The configuration the workers run with (pointed at this server). */
  config: Readonly<MlopsConfig>;
  /** The clients the workers use (the demo reads the registry through the same store). */
  deps: Dependencies;
  cliPath: string;
  stop(): Promise<void>;
}

/** Starts the stack. The caller installs the Temporal runtime (once per process) before calling this. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const base = loadConfig(options.env);
  const cliPath = resolveTemporalCli(base, options.log);
  const server = await startDevServer({
    cliPath,
    stateDir: path.join(base.stateDir, 'temporal'),
    port: options.port,
    uiPort: options.uiPort,
    httpPort: base.devServer.httpPort,
    metricsPort: base.devServer.metricsPort,
    log: options.log,
  });
  const config = loadConfig({ ...options.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace });
  const native = await NativeConnection.connect({ address: server.address });
  const temporal = await connectTemporalClient(config);
  const deps = buildDependencies(config);
  const workers: Worker[] = [
    await createPipelineWorker({ deps, connection: native, taskQueue: options.taskQueues?.pipeline }),
    await createTrainingWorker({ deps, connection: native, taskQueue: options.taskQueues?.training }),
  ];
  const running = Promise.all(workers.map((worker) => worker.run()));
  const stop = async () => {
    try {
      // A SIGINT/SIGTERM may already have started the runtime's graceful shutdown of the workers.
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await native.close();
      await temporal.close();
    } finally {
      await server.stop();
    }
  };
  return {
    server,
    client: temporal.client,
    config,
    deps,
    cliPath,
    stop,
  };
}
