/** `npm run models` (and the other scripts) run as a user runs it: the script in a child process, against the test server. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, stack } from './stack';

const execFileAsync = promisify(execFile);
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

/** Runs `npm run models -- …` (the script under tsx) against the test server: exit code, stdout and stderr. */
export function modelsScript(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return npmScript('models', ...args);
}

/** {@link modelsScript} with more environment variables (the artifact root whose registry `start` reads, say). */
export function modelsScriptWith(
  extraEnv: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return npmScriptWith(extraEnv, 'models', ...args);
}

/** Runs `npm run <script> -- …` (scripts/<script>.ts under tsx) against the test server. */
export function npmScript(
  script: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return npmScriptWith({}, script, ...args);
}

/** {@link npmScript} with more environment variables (an artifact root, say). */
export async function npmScriptWith(
  extraEnv: Record<string, string>,
  script: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: stack().server.address,
    TEMPORAL_NAMESPACE: stack().server.namespace,
    ...extraEnv,
  };
  try {
    const { stdout, stderr } = await execFileAsync(tsx, [`scripts/${script}.ts`, ...args], {
      cwd: repoRoot,
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
