import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot, testConfig } from '../support/stack';

describe('the PyTorch reference trainer (trainers/torch-tabular)', function () {
  it('passes its contract tests: learning, determinism, resume, ONNX parity, bad input, SIGTERM, gs:// I/O', function () {
    this.timeout(300_000);
    const config = testConfig();
    const python =
      config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    // The trainer is a separate Python program; its own tests exercise it as a process, the way the worker runs it.
    const run = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'trainers/torch-tabular'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /\b\d+ passed\b/);
    assert.doesNotMatch(run.stdout, /\b(failed|skipped|error)\b/);
  });
});
