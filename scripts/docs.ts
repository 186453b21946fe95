/**
 * Writes the reference pages that mirror code: docs/errors.md (the error catalogue), docs/configuration.md (the
 * config schema) and docs/pipeline-input.md (the `trainingPipeline` input schema). `npm run docs` regenerates them; test/docs.test.ts fails when they are out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { renderConfigurationDoc, renderErrorsDoc, renderPipelineInputDoc } from '../src/docs/reference';
import { takeNoArguments } from '../src/entry-arguments';

takeNoArguments(
  'npm run docs',
  'npm run docs: rewrites docs/errors.md, docs/configuration.md and docs/pipeline-input.md from the code (the error\n' +
    'catalogue, the configuration schema and the pipeline input schema); test/docs.test.ts fails while they differ.',
);

const docs = path.resolve(__dirname, '..', 'docs');
fs.writeFileSync(path.join(docs, 'errors.md'), renderErrorsDoc());
fs.writeFileSync(path.join(docs, 'configuration.md'), renderConfigurationDoc());
fs.writeFileSync(path.join(docs, 'pipeline-input.md'), renderPipelineInputDoc());
console.log('wrote docs/errors.md, docs/configuration.md and docs/pipeline-input.md');
