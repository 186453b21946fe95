/**
 * A worker process that runs the model controller over its fake activities (./controller-fakes.ts), for tests that
 * kill it with SIGKILL as a crash would: `node --import tsx test/support/controller-worker-child.ts <address>
 * <namespace> <task queue> <workflow bundle file>`. It prints `ready` once the worker is created.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { controllerFakes } from './controller-fakes';

async function main([address, namespace, taskQueue, codePath]: string[]): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: address! });
  const worker = await Worker.create({
    connection,
    namespace: namespace!,
    taskQueue: taskQueue!,
    workflowBundle: { codePath: codePath! },
    activities: controllerFakes().activities,
  });
  console.log('ready');
  await worker.run();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
