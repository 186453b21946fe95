import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './support/stack';

/** The entry points whose settings are environment variables: each npm script and the file it runs. */
const entries = [
  { script: 'serve', file: 'src/serving/server.ts', names: ['MLOPS_SERVE_MODEL', 'docs/serving.md'] },
  { script: 'worker:pipeline', file: 'src/workers/pipeline-worker.ts', names: ['TEMPORAL_ADDRESS', 'mlops-pipeline'] },
  { script: 'worker:training', file: 'src/workers/training-worker.ts', names: ['MLOPS_TRAINING_GPUS'] },
  { script: 'temporal:server', file: 'scripts/temporal-server.ts', names: ['MLOPS_DEV_SERVER_PORT'] },
  { script: 'codec-server', file: 'src/workers/codec-server.ts', names: ['MLOPS_PAYLOAD_KEYS'] },
  { script: 'docs', file: 'scripts/docs.ts', names: ['docs/errors.md'] },
  { script: 'record:histories', file: 'scripts/record-histories.ts', names: ['--suffix'] },
];

function run(file: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, file), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    // A port no server of this machine listens on, in case anything started regardless: it would fail, not hang.
    env: { ...process.env, MLOPS_DEV_SERVER_PORT: '1', MLOPS_SERVE_PORT: '1', TEMPORAL_ADDRESS: '127.0.0.1:1' },
  });
}

describe('entry points given --help or an argument they do not take', function () {
  this.timeout(120_000);

  it('print what they do and their settings and exit 0, starting and writing nothing', function () {
    const docs = fs.statSync(path.join(repoRoot, 'docs', 'errors.md')).mtimeMs;
    for (const { script, file, names } of entries) {
      const result = run(file, ['--help']);
      assert.equal(result.status, 0, `${script}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^npm run ${script}`), script);
      for (const name of names) assert.ok(result.stdout.includes(name), `${script}'s usage names ${name}`);
      assert.doesNotMatch(result.stdout + result.stderr, /listening|Started|wrote docs|Error:|\n {4}at /, script);
    }
    assert.equal(
      fs.statSync(path.join(repoRoot, 'docs', 'errors.md')).mtimeMs,
      docs,
      'npm run docs -- --help wrote nothing',
    );
  });

  it('refuse any other argument with exit 2, naming it', function () {
    for (const { script, file } of entries.filter((e) => e.script !== 'record:histories')) {
      const result = run(file, ['--port', '9000']);
      assert.equal(result.status, 2, `${script}: ${result.stdout}${result.stderr}`);
      assert.ok(result.stderr.includes(`npm run ${script} takes no arguments (it was given "--port")`), result.stderr);
    }
    const histories = run('scripts/record-histories.ts', ['--sufix', 'x']);
    assert.equal(histories.status, 2, histories.stderr);
    assert.match(histories.stderr, /Unknown option '--sufix'[\s\S]*npm run record:histories -- \[--suffix <name>\]/);
  });
});
