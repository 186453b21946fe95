import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { isAlive } from '../../src/scratch';

/** An activity context with the SDK's logger quietened (expected failures log at WARN). */
export function mockEnv(info?: ConstructorParameters<typeof MockActivityEnvironment>[0]): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}

/** Runs one activity in `env`; `env.run` cannot infer the result type from the activity, this names it once. */
export function runActivity<I, O>(
  env: MockActivityEnvironment,
  activity: (input: I) => Promise<O>,
  input: I,
): Promise<O> {
  return env.run<[I], O, (input: I) => Promise<O>>(activity, input);
}

/** Waits (bounded) for an external process to exit after it was signalled. */
export async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isAlive(pid);
}
