import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { DefaultLogger } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { loadConfig } from '../config';
import { buildDependencies } from '../dependencies';
import type { WorkerDeps } from './create-workers';

/**
 * Shared body of the worker entry points: config → runtime → connection → dependencies → worker → run until a shutdown signal
 * (SIGINT/SIGTERM: the SDK stops polling, lets running activities finish within the grace time, then exits).
 */
export async function runWorker(create: (deps: WorkerDeps) => Promise<Worker>): Promise<void> {
  const config = loadConfig();
  Runtime.install({
    logger: new DefaultLogger(config.logLevel),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });
  const connection = await NativeConnection.connect(config.temporal.connectionOptions);
  try {
    const worker = await create({ deps: buildDependencies(config), connection });
    await worker.run();
  } finally {
    await connection.close();
  }
}
