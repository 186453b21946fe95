/**
 * What a model server process loads at start: not `@google-cloud/aiplatform` (about half a second of its generated
 * protobuf code, for Vertex AI training the server never does), until something asks for a Vertex client; and
 * onnxruntime without its telemetry client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/stack';

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

  it('runs onnxruntime with its telemetry off unless the environment turns it on: no files in the temp or home folder', function () {
    // onnxruntime's Linux telemetry client writes mat-debug-<pid>.log and .ses into the temp folder the environment
    // names (TMPDIR), and a device id and an event database under ~/.cache/Microsoft. Each process here gets a temp
    // and a home folder of its own, so what it wrote is all those folders hold.
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
    // Each child starts without this process's ORT_DISABLE_TELEMETRY (it has loaded onnx-model, so it says 1) and
    // without CI: onnxruntime's client stays silent wherever CI is set, as on a CI host, which would hide both what
    // our default does and where the client writes.
    const inherited = { ...process.env };
    delete inherited.ORT_DISABLE_TELEMETRY;
    delete inherited.CI;
    const filesUnder = (dir: string): string[] =>
      fs
        .readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
    const runIn = (name: string, env: Record<string, string>) => {
      const tmp = tempDir(`${name}-tmp`);
      const home = tempDir(`${name}-home`);
      const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', loadModel], {
        encoding: 'utf8',
        env: { ...inherited, ...env, TMPDIR: tmp, HOME: home },
      });
      const seen = JSON.parse(out.trim().split('\n').pop()!) as { pid: number; env: string; width: number };
      // tsx keeps its compile cache in the temp folder too; only onnxruntime's files count here.
      const written = filesUnder(tmp)
        .filter((f) => !f.startsWith('tsx-'))
        .concat(filesUnder(home).map((f) => `~/${f}`))
        .sort();
      return { ...seen, written };
    };
    const ours = runIn('ours', {});
    assert.deepEqual(
      { env: ours.env, width: ours.width, written: ours.written },
      { env: '1', width: 2, written: [] },
      'the model ran with telemetry off and wrote nothing in the temp or home folder',
    );
    // A setting the environment already has is kept (here: telemetry left on, as a user may choose), and then
    // onnxruntime's client does write there: the check above looks where the files would go.
    const theirs = runIn('theirs', { ORT_DISABLE_TELEMETRY: '0' });
    assert.equal(theirs.env, '0');
    assert.ok(
      theirs.written.includes(`mat-debug-${theirs.pid}.log`) &&
        theirs.written.includes('.ses') &&
        theirs.written.some((f) => f.startsWith('~/.cache/Microsoft/')),
      `with telemetry on, it wrote [${theirs.written.join(', ')}]`,
    );
  });
});
