import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import type { Linter } from 'eslint';
import importX from 'eslint-plugin-import-x';
import ts from 'typescript';
import tseslint from 'typescript-eslint';
import { repoRoot } from './support/stack';

const srcRoot = path.join(repoRoot, 'src');

/** The unit of layering: a folder under src/, or a single top-level module such as `config` or `errors`. */
function unitOf(file: string): string {
  const [first = '', ...rest] = path.relative(srcRoot, file).split(path.sep);
  return rest.length > 0 ? first : first.replace(/\.ts$/, '');
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Unit → units it imports (type-only imports included: they couple the folders too), with one file as evidence. */
function unitGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(srcRoot)) {
    const from = unitOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const { fileName } of ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const to = unitOf(path.resolve(path.dirname(file), fileName));
      if (to !== from && !edges.has(to)) edges.set(to, path.relative(repoRoot, file));
    }
  }
  return graph;
}

/** Groups of units that reach each other (Tarjan's strongly connected components), only those of two or more. */
export function cycles(graph: Map<string, Iterable<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      group.push(member);
    } while (member !== node);
    if (group.length > 1) found.push(group.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the layers of src/', function () {
  it('the cycle finder reports folders that reach each other, directly or through others', function () {
    const graph = new Map<string, string[]>([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['d']],
    ]);
    assert.deepEqual(cycles(graph), [['a', 'b', 'c']]);
    assert.deepEqual(
      cycles(
        new Map([
          ['x', ['y']],
          ['y', []],
        ]),
      ),
      [],
    );
  });

  it('no folder of src/ imports a folder that imports it back', function () {
    const graph = unitGraph();
    const found = cycles(new Map([...graph].map(([unit, edges]) => [unit, [...edges.keys()]])));
    const explain = (group: string[]) =>
      group
        .flatMap((from) =>
          [...graph.get(from)!].filter(([to]) => group.includes(to)).map(([to, file]) => `${from} → ${to} (${file})`),
        )
        .join('; ');
    assert.deepEqual(found.map(explain), []);
  });

  describe('lint fails an import that crosses a layer', function () {
    let eslint: ESLint;

    before(async function () {
      const { layerRules } = (await import(path.join(repoRoot, 'eslint.layers.mjs'))) as {
        layerRules: Linter.Config[];
      };
      eslint = new ESLint({
        cwd: repoRoot,
        overrideConfigFile: true,
        overrideConfig: [
          {
            files: ['**/*.ts'],
            languageOptions: { parser: tseslint.parser },
            plugins: { 'import-x': importX as unknown as ESLint.Plugin },
          },
          ...layerRules,
        ],
      });
    });

    /** The rules that fire on `code` as if it were the file at `file` (relative to the repository root). */
    async function violations(file: string, code: string): Promise<string[]> {
      const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
      return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
    }

    it('a domain folder importing activities/ fails import-x/no-restricted-paths', async function () {
      const found = await violations(
        'src/warehouse/layer-probe.ts',
        "import { createPipelineActivities } from '../activities';\nexport const probe = createPipelineActivities;\n",
      );
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(
        found[0]!,
        /^import-x\/no-restricted-paths: Unexpected path "..\/activities" .* Domain folders are Temporal-free/,
      );
    });

    it('the model server importing a Temporal package or the workers fails', async function () {
      const found = await violations(
        'src/serving/layer-probe.ts',
        "import { Client } from '@temporalio/client';\nimport { createPipelineWorker } from '../workers/create-workers';\nexport const probe = [Client, createPipelineWorker];\n",
      );
      assert.equal(found.length, 2, found.join('\n'));
      assert.match(found.join('\n'), /no-restricted-imports: .*'@temporalio\/client'/);
      assert.match(
        found.join('\n'),
        /no-restricted-paths: Unexpected path "..\/workers\/create-workers" .* The model server runs without Temporal/,
      );
    });

    it('a workflow imports only its allow-list at run time; type-only imports of anything pass', async function () {
      const allowed = await violations(
        'src/workflows/layer-probe.ts',
        [
          "import { proxyActivities } from '@temporalio/workflow';",
          "import { z } from 'zod';",
          "import { searchAttributes } from '../contracts/search-attributes';",
          "import type { PipelineActivities } from '../activities';",
          "import { describeFailure } from './pipeline-status';",
          'export const probe = [proxyActivities, z, searchAttributes, describeFailure] as unknown as PipelineActivities;',
        ].join('\n'),
      );
      assert.deepEqual(allowed, []);
      const refused = await violations(
        'src/workflows/layer-probe.ts',
        "import fs from 'node:fs';\nimport { LocalArtifactStore } from '../artifacts';\nexport const probe = [fs, LocalArtifactStore];\n",
      );
      assert.equal(refused.length, 2, refused.join('\n'));
      for (const message of refused) assert.match(message, /^no-restricted-imports: .*replayed deterministically/);
    });
  });
});
