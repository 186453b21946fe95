// The project's layers (shared/STYLE.md conventions 3 and 26), used by eslint.config.mjs and by test/architecture.test.ts,
// which shows that an import crossing a layer fails lint.
import { createNodeResolver } from 'eslint-plugin-import-x';

/** Temporal-free domain folders: they never reach up into the runtime layers. */
export const domainFolders = [
  'artifacts',
  'codec',
  'contracts',
  'drift',
  'evaluation',
  'google',
  'ingest',
  'models',
  'monitoring',
  'notifications',
  'preprocessing',
  'profiling',
  'registry',
  'reports',
  'rollout',
  'trainers',
  'vertex',
  'warehouse',
];
const runtimeFolders = ['activities', 'workers', 'serving', 'workflows'];
const src = (folder) => `./src/${folder}`;
/** Temporal packages that run code (a worker, a client, an activity context, the workflow sandbox). */
const temporalRuntime = [
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/workflow',
  '@temporalio/testing',
];

/** What a workflow file may import at run time (type-only imports of anything are allowed). */
const workflowAllowList = [
  '@temporalio/workflow',
  '@temporalio/common',
  'zod',
  '\\.\\./contracts/[\\w-]+',
  '\\.\\./errors',
  '\\./[\\w-]+',
];

export const layerRules = [
  // import-x resolves imports to files to check zones and cycles; without TypeScript extensions it finds none.
  { settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] } },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: domainFolders.map(src),
              from: runtimeFolders.map(src),
              message:
                'Domain folders are Temporal-free and never import activities/, workers/, serving/ or workflows/.',
            },
            {
              target: src('serving'),
              from: ['activities', 'workers', 'workflows'].map(src),
              message: 'The model server runs without Temporal: it never imports activities/, workers/ or workflows/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: [...domainFolders, 'serving'].map((folder) => `src/${folder}/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: temporalRuntime.map((name) => ({
            name,
            message: 'Domain modules and the model server do not depend on Temporal; activities adapt them.',
          })),
        },
      ],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?!(?:${workflowAllowList.join('|')})$)`,
              message:
                'Workflow code is replayed deterministically: at run time it imports only @temporalio/workflow, @temporalio/common, zod, contracts/, errors and its own folder (use `import type` or an activity).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
];
