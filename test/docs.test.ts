import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  describeInputFields,
  renderConfigurationDoc,
  renderErrorsDoc,
  renderPipelineInputDoc,
} from '../src/docs/reference';
import { configSchema } from '../src/config';
import { errorCatalogue } from '../src/errors';
import { repoRoot } from './support/stack';

const readDoc = (name: string) => fs.readFileSync(path.join(repoRoot, 'docs', name), 'utf8');

describe('reference docs generated from the code (npm run docs rewrites them)', function () {
  it('docs/errors.md lists exactly the codes of src/errors.ts, with the same retryability', function () {
    const doc = readDoc('errors.md');
    const rows = [...doc.matchAll(/^\| `(MLOPS_ERR_[A-Z0-9_]+)` \| (yes|no) \|/gm)].map((m) => [m[1], m[2] === 'yes']);
    assert.deepEqual(
      rows,
      Object.entries(errorCatalogue).map(([code, spec]) => [code, spec.retryable]),
    );
    assert.equal(doc, renderErrorsDoc());
  });

  it('docs/configuration.md documents every variable of the config schema', function () {
    assert.equal(readDoc('configuration.md'), renderConfigurationDoc());
    // The first table; the second lists the variables read outside the configuration (setup, tests, Google's clients).
    const [settings] = readDoc('configuration.md').split('\nOther variables');
    const rows = [...settings!.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(rows, Object.keys(configSchema));
  });

  it('docs/pipeline-input.md is byte for byte what the pipeline input schema renders', function () {
    assert.equal(readDoc('pipeline-input.md'), renderPipelineInputDoc());
  });

  it('docs/pipeline-input.md has a row for every field a workflow author can set, with its default', function () {
    const doc = readDoc('pipeline-input.md');
    const rows = new Map([...doc.matchAll(/^\| `([^`]+)` \| (yes|no) \| ([^|]*) \|/gm)].map((m) => [m[1], m]));
    for (const field of ['modelName', 'dataset.uri', 'split.seed', 'trainer.vertex.pollSeconds', 'deployAlias'])
      assert.ok(rows.has(field), `a row for ${field}`);
    assert.ok(rows.has('preprocessing.features.<name>'), 'a record is documented per entry');
    assert.equal(rows.get('modelName')![2], 'yes');
    assert.equal(rows.get('split.testFraction')![3]!.trim(), '`0.2`');
    assert.equal(rows.get('dataset.format')![3]!.trim(), 'from the extension');
    assert.equal(rows.get('gate.minImprovement')![3]!.trim(), '`0`');
  });

  it('refuses to render an input field that has no description, so none goes undocumented', function () {
    const shape = { documented: z.string().describe('Says what it is.'), nested: z.object({ bare: z.number() }) };
    assert.throws(() => describeInputFields(shape), /"nested" has no \.describe\(\) text/);
    assert.deepEqual(describeInputFields({ n: z.number().default(3).describe('A number. ') }), [
      { path: 'n', required: false, fallback: '`3`', meaning: 'A number.' },
    ]);
  });

  it('every generated page names this test file as the one that locks it', function () {
    const self = path.relative(repoRoot, __filename).split(path.sep).join('/');
    for (const name of ['errors.md', 'configuration.md', 'pipeline-input.md'])
      assert.match(readDoc(name), new RegExp(`\`${self.replace(/\./g, '\\.')}\` fails when the two differ`), name);
  });
});
