import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { DefaultLogger } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import { loadConfig } from '../config';
import { buildDependencies } from '../dependencies';
import { temporalUnreachable } from '../temporal-client';
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
  // A server that does not answer is named with its address and the fix, not the transport's bare error.
  const connection = await NativeConnection.connect(config.temporal.connectionOptions).catch((err: unknown) => {
    throw temporalUnreachable(config, err);
  });
  try {
    const worker = await create({ deps: buildDependencies(config), connection });
    await worker.run();
  } finally {
    await connection.close();
  }
}
