import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './stack';

let python: string | undefined;

/**
 * The Python of the serving client tests' venv (tritonclient[http], onnx), created on first use by
 * scripts/setup-python-clients.sh the way scripts/setup-python.sh creates the trainer's, so a fresh machine works.
 */
export function servingClientsPython(): string {
  if (python) return python;
  const result = spawnSync('bash', [path.join(repoRoot, 'scripts', 'setup-python-clients.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`scripts/setup-python-clients.sh failed (exit ${result.status})`);
  python = result.stdout.trim().split('\n').pop()!;
  return python;
}

/** Runs a Python script of test/serving with the clients' venv; resolves with its stdout. */
export function runPython(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      servingClientsPython(),
      [path.join(repoRoot, 'test', 'serving', script), ...args],
      (err, stdout, stderr) => (err ? reject(new Error(`${script} failed: ${stderr.slice(-3000)}`)) : resolve(stdout)),
    );
  });
}
