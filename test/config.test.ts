import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { configSchema, loadConfig } from '../src/config';
import { repoRoot } from './support/stack';

describe('loadConfig', function () {
  it('fills every default from one place when nothing is set', function () {
    const config = loadConfig({ HOME: '/home/u' });
    assert.equal(config.stateDir, path.resolve('.mlops'));
    assert.equal(config.cacheDir, '/home/u/.cache/temporal-mlops');
    assert.equal(config.artifactRoot, `file://${path.resolve('.mlops/artifacts')}`);
    assert.equal(config.temporal.connectionOptions.address, '127.0.0.1:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.training.gpus, 0);
    assert.equal(config.training.taskQueue, 'mlops-training');
    assert.equal(config.data.threads, 2);
    assert.equal(config.bigquery.stagingDays, 7);
    assert.equal(config.devServer.cliVersion, 'v1.5.1');
    assert.equal(config.worker.useBundle, false);
  });

  it('reads the Temporal connection through the SDK environment configuration', function () {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_NAMESPACE: 'ml' });
    assert.equal(config.temporal.connectionOptions.address, 'temporal.internal:7233');
    assert.equal(config.temporal.namespace, 'ml');
  });

  it('reports every bad variable, and unknown MLOPS_ names, in one non-retryable error', function () {
    const err = (() => {
      try {
        loadConfig({
          MLOPS_TRAINING_GPUS: 'two',
          MLOPS_TRAINING_TASK_QUEUE: 'gpu a100',
          MLOPS_DATA_THREADS: '0',
          MLOPS_SERVE_PORT: '70000',
          MLOPS_LOG_LEVEL: 'LOUD',
          MLOPS_ARTIFACT_RUT: '/x',
          MLOPS_TRAINERS: '{"xgb": "python train.py"}',
          MLOPS_PAYLOAD_KEYS: 'k1:c2hvcnQta2V5LXZhbHVl',
          MLOPS_SERVE_API_KEYS: 'almost-a-real-k,ey-0123456789',
        });
      } catch (e) {
        return e;
      }
      return assert.fail('loadConfig should throw');
    })();
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'MLOPS_ERR_CONFIG_INVALID');
    assert.equal(err.nonRetryable, true);
    for (const name of [
      'MLOPS_TRAINING_GPUS="two"',
      'MLOPS_TRAINING_TASK_QUEUE="gpu a100": must be letters, digits, dots, dashes and underscores',
      'MLOPS_DATA_THREADS="0"',
      'MLOPS_SERVE_PORT="70000"',
      'MLOPS_LOG_LEVEL="LOUD"',
      'MLOPS_ARTIFACT_RUT: not a known variable',
      'MLOPS_TRAINERS=',
      'MLOPS_PAYLOAD_KEYS=(value not shown): must be id:key pairs',
    ]) {
      assert.ok(err.message.includes(name), `the message should mention ${name}:\n${err.message}`);
    }
    assert.ok(!err.message.includes('c2hvcnQta2V5LXZhbHVl'), 'a key is never quoted');
    assert.ok(err.message.includes('MLOPS_SERVE_API_KEYS=(value not shown): must be comma-separated keys'));
    assert.ok(!err.message.includes('almost-a-real'), 'an API key is never quoted');
  });

  it("knows every MLOPS_ variable the project's own scripts and benchmarks read, so exporting one breaks nothing", function () {
    const read = new Set<string>();
    for (const dir of ['scripts', 'bench', 'src']) {
      for (const file of fs.readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[]) {
        if (!/\.(ts|cjs|sh)$/.test(file)) continue;
        const text = fs.readFileSync(path.join(repoRoot, dir, file), 'utf8');
        for (const m of text.matchAll(/(?:process\.env\.|env\.|\$\{?)(MLOPS_[A-Z0-9_]+)/g)) read.add(m[1]!);
      }
    }
    assert.ok(read.has('MLOPS_SYSTEM_PYTHON') && read.has('MLOPS_BENCH_NODE_FLAGS'), [...read].join(', '));
    for (const name of read) assert.ok(name in configSchema, `${name} is read but unknown to src/config.ts`);
    assert.doesNotThrow(() =>
      loadConfig({ MLOPS_SYSTEM_PYTHON: '/usr/bin/python3', MLOPS_BENCH_NODE_FLAGS: '--cpu-prof' }),
    );
  });

  it('returns a deep-frozen object and keeps gs:// artifact roots as they are', function () {
    const config = loadConfig({ MLOPS_ARTIFACT_ROOT: 'gs://ml-artifacts/team-a/', NODE_ENV: 'production' });
    assert.equal(config.artifactRoot, 'gs://ml-artifacts/team-a');
    assert.equal(config.worker.useBundle, true);
    assert.ok(
      Object.isFrozen(config) && Object.isFrozen(config.serve) && Object.isFrozen(config.temporal.connectionOptions),
    );
  });
});
