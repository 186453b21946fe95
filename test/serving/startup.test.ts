/**
 * What a model server process loads at start: not `@google-cloud/aiplatform` (about half a second of its generated
 * protobuf code, for Vertex AI training the server never does), until something asks for a Vertex client; and
 * onnxruntime without its telemetry client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Runs `script` in a fresh Node process (through tsx, as the tests run the sources); returns its output. */
const freshProcess = (script: string) =>
  execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8' }).trim();

const aiplatformLoaded = `Object.keys(require.cache).some((k) => k.includes('node_modules/@google-cloud/aiplatform/'))`;

describe('the model server at start', function () {
  it('loads the composition root and the server without the Vertex AI client library, which loads on first use', function () {
    const out = freshProcess(`
      require('./src/dependencies');
      require('./src/serving/app');
      const before = ${aiplatformLoaded};
      require('./src/vertex/job-client').createVertexJobClient({ project: 'p', location: 'us-central1', apiEndpoint: 'http://127.0.0.1:1' });
      console.log(JSON.stringify({ before, after: ${aiplatformLoaded} }));
    `);
    assert.deepEqual(JSON.parse(out.split('\n').pop()!), { before: false, after: true });
  });

  it('runs onnxruntime with its telemetry off unless the environment turns it on: no files in the system temp folder', function () {
    // onnxruntime's Linux telemetry client writes these two files (the second only when it is missing).
    const debugLog = (pid: number) => path.join('/tmp', `mat-debug-${pid}.log`);
    const sessionFile = path.join('/tmp', '.ses');
    const hadSessionFile = fs.existsSync(sessionFile);
    const loadModel = `
      const { linearModelToOnnx } = require('./src/trainers/onnx-writer');
      const { loadOnnxModel } = require('./src/models/onnx-model');
      const bytes = linearModelToOnnx({ weights: [1, -1, 0.5, 0.5], bias: [0, 0], features: 2, outputs: 2, kind: 'classification', producerVersion: 't' });
      loadOnnxModel(bytes, 'memory://m', 2)
        .then(async (model) => {
          const out = await model.run(new Float32Array([1, 2]), 1);
          await model.close();
          console.log(JSON.stringify({ pid: process.pid, env: process.env.ORT_DISABLE_TELEMETRY, width: out.length }));
        });
    `;
    const ours = JSON.parse(freshProcess(loadModel).split('\n').pop()!) as { pid: number; env: string; width: number };
    assert.deepEqual({ env: ours.env, width: ours.width }, { env: '1', width: 2 }, 'the model ran, telemetry off');
    assert.equal(fs.existsSync(debugLog(ours.pid)), false, `${debugLog(ours.pid)} was written`);
    if (!hadSessionFile) assert.equal(fs.existsSync(sessionFile), false, `${sessionFile} was written`);
    // A setting the environment already has is kept (here: telemetry left on, as a user may choose).
    const theirs = JSON.parse(
      execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', loadModel], {
        encoding: 'utf8',
        env: { ...process.env, ORT_DISABLE_TELEMETRY: '0' },
      })
        .trim()
        .split('\n')
        .pop()!,
    ) as { pid: number; env: string };
    try {
      assert.equal(theirs.env, '0');
      assert.equal(fs.existsSync(debugLog(theirs.pid)), true, 'with telemetry left on, onnxruntime writes its log');
    } finally {
      fs.rmSync(debugLog(theirs.pid), { force: true });
      if (!hadSessionFile) fs.rmSync(sessionFile, { force: true });
    }
  });
});
