// Lint runs as part of `npm test`; type-aware rules catch floating promises,
// which in an agent full of child processes and sockets are real bugs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Folders that do no I/O: of Node's modules they may use only crypto (hashes) and net (for isIP). */
const NO_IO = new Set(['src/model', 'src/cloud']);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // web/ is found by the project service through web/tsconfig.json (DOM, JSX).
    files: ['**/*.ts', 'web/**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test's test() and describe() return promises the runner awaits itself.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      'no-console': 'off',
    },
  },
  // The arrows of docs/architecture.md: each folder imports only the folders
  // below it. A relative import that climbs into another folder is checked
  // against the folder's allowed list.
  ...boundaries({
    'src/model': [],
    'src/kit': ['model'],
    'src/host': ['model', 'kit'],
    'src/virt': ['model', 'kit'],
    'src/net': ['model', 'kit'],
    'src/store': ['model', 'kit'],
    'src/overlay': ['model', 'kit'],
    'src/peer': ['model', 'kit'],
    'src/cloud': ['model', 'kit', 'overlay', 'peer'],
    'src/slivers': ['model', 'kit', 'host', 'virt', 'store'],
    'src/api': ['model', 'kit', 'host', 'virt', 'net', 'store', 'overlay', 'peer', 'cloud', 'slivers'],
    // The simulator runs the cloud cores over overlay views it builds itself (overlay's pure view and tags types only).
    'src/sim': ['model', 'kit', 'cloud', 'overlay'],
  }),
  // Pure cores: time, randomness and I/O come in as arguments (STYLE.md, habit 1).
  {
    files: ['src/model/**/*.ts', 'src/cloud/**/*.ts', 'src/overlay/lifecycle.ts', 'src/overlay/view.ts', 'src/overlay/tags.ts', 'src/peer/router.ts', 'src/net/ruleset.ts', 'src/net/pool.ts', 'src/testbed/switch-core.ts', 'src/sim/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...['Date', 'setTimeout', 'setInterval', 'setImmediate', 'performance', 'fetch', 'process'].map((name) => ({
        name, message: 'a pure core takes time, timers and I/O as arguments and returns commands',
      }))],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'take a seeded generator as an argument' }],
    },
  },
);

/** One config block per folder: relative imports may reach only the listed sibling folders. */
function boundaries(allowed) {
  return Object.entries(allowed).map(([folder, may]) => {
    const own = folder.slice('src/'.length);
    const ok = [own, ...may].join('|');
    return {
      files: [`${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': ['error', {
          patterns: [{
            // '../x/…' or '../../x/…' where x is not an allowed folder.
            regex: `^(\\.\\./)+(?!(${ok})/)[a-z-]+/`,
            message: `${folder}/ may import only from ${may.length === 0 ? 'itself' : may.join(', ')} (see docs/architecture.md)`,
          }, ...(NO_IO.has(folder) ? [{ regex: '^node:(?!(crypto|net)$)', message: `${folder}/ does no I/O: of node:* only crypto and net (isIP)` }] : [])],
        }],
      },
    };
  });
}
