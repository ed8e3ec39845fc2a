import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '*.config.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: ['./tsconfig.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is bundled into Temporal's deterministic sandbox: no I/O, no Node builtins, no Kubernetes client.
    // src/planning is imported by workflow code too, so the same boundary holds there.
    files: ['src/workflows/**/*.ts', 'src/planning/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node builtins.' })),
            { name: '@kubernetes/client-node', message: 'Kubernetes calls belong in activities.', allowTypeImports: true },
          ],
          patterns: [
            { group: ['**/activities/*', '!**/activities/types*'], message: 'Import activities as types only.', allowTypeImports: true },
          ],
        },
      ],
    },
  },
);
