import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import { servedChurn } from '../support/served-model';
import { repoRoot } from '../support/stack';

const run = promisify(execFile);

/** The README's serving example: one curl line (with `\` continuations joined). */
function readmeServeCommand(): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- serve-example:start -->\s*```sh\n([\s\S]*?)```\s*<!-- serve-example:end -->/.exec(readme);
  assert.ok(block, 'README.md must contain the serve-example block');
  const lines = block[1]!.replace(/\\\n\s*/g, '').split('\n');
  const curl = lines.filter((line) => line.startsWith('curl '));
  assert.equal(curl.length, 1);
  return curl[0]!;
}

describe('the serving example in the README', function () {
  let app: FastifyInstance;

  after(async () => {
    await app?.close();
  });

  it("answers the README's curl line with a labelled prediction from the deployed version", async function () {
    const served = await servedChurn();
    app = await buildServer({ store: served.store, modelName: 'churn', alias: 'production' });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const command = readmeServeCommand().replace('http://127.0.0.1:8080', url);
    const { stdout } = await run('bash', ['-c', command]);
    const body = JSON.parse(stdout) as {
      model: string;
      modelVersionId: string;
      predictions: { label: string; probabilities: Record<string, number> }[];
    };
    assert.equal(body.model, 'churn');
    assert.equal(body.modelVersionId, '1');
    assert.equal(body.predictions.length, 1);
    const [prediction] = body.predictions;
    assert.ok(Object.keys(prediction!.probabilities).includes(prediction!.label), stdout);
    const total = Object.values(prediction!.probabilities).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
  });
});
