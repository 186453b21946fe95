/**
 * What a model server process loads at start: not `@google-cloud/aiplatform` (about half a second of its generated
 * protobuf code, for Vertex AI training the server never does), until something asks for a Vertex client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

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
});
