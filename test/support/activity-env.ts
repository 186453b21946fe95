import fs from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';

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

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]!.startsWith('Z');
  } catch {
    return false;
  }
}

/** Waits (bounded) for an external process to exit after it was signalled. */
export async function waitUntilGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return !isAlive(pid);
}
