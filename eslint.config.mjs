// Flat ESLint config. The workflow sandbox rule is the one that matters most:
// workflow code is replayed, so it must never reach Node built-ins or I/O clients.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const nodeBuiltins = builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]));

/** Modules that do I/O or hold native handles; workflows may only import their types. */
const ioModules = [
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  '@temporalio/envconfig',
  'onnxruntime-node',
  'fastify',
];
const ioPatterns = [
  '@google-cloud/*',
  '@duckdb/*',
  '**/activities',
  '**/activities/*',
  '**/artifacts/*',
  '**/serving/*',
  '**/config',
  '**/dev/*',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.mlops/**', '**/*.mjs', '**/*.cjs', 'trainers/**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-deprecated': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...ioModules].map((name) => ({
            name,
            message: 'Workflow code is replayed deterministically: no Node built-ins or I/O modules (use an activity).',
            allowTypeImports: true,
          })),
          patterns: [
            {
              group: ioPatterns,
              message: 'Workflows import activities and I/O code with `import type` only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      // MockActivityEnvironment.run(activities.x, …) takes activity functions detached from their factory object.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
