import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { repoRoot } from './support/stack';

/** Folders of development-only code: local stack and emulators, doc generators, example-data generators. */
const devOnly = ['src/dev', 'src/docs', 'src/data'];
const isDevOnly = (file: string) =>
  devOnly.some((dir) => path.relative(repoRoot, file).split(path.sep).join('/').startsWith(`${dir}/`));

describe('the production build and image', function () {
  it('compile no development-only code: neither listed in tsconfig.build.json nor imported by what is', function () {
    const config = ts.getParsedCommandLineOfConfigFile(path.join(repoRoot, 'tsconfig.build.json'), undefined, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    })!;
    assert.deepEqual(config.fileNames.filter(isDevOnly), []);
    assert.ok(config.fileNames.some((f) => f.endsWith('src/workers/pipeline-worker.ts')));
    assert.ok(config.fileNames.some((f) => f.endsWith('src/serving/server.ts')));
    // The program follows imports, so an entry point (src/workers/*, src/serving/server.ts) that imported dev code
    // would pull it into the build here.
    const program = ts.createProgram({ rootNames: config.fileNames, options: { ...config.options, noEmit: true } });
    const compiled = program.getSourceFiles().map((f) => path.resolve(f.fileName));
    assert.deepEqual(compiled.filter(isDevOnly), []);
  });

  it('leave development-only code out of the Docker build context', function () {
    const ignored = fs
      .readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    for (const dir of devOnly) assert.ok(ignored.includes(dir), `.dockerignore lists ${dir}`);
  });
});
