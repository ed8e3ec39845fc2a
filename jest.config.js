/**
 * Jest runs TypeScript as ESM through ts-jest (see package.json "test", which adds --experimental-vm-modules).
 * Four test files run side by side: most of a real-stack test is waiting (leases, outages, pods of
 * a few seconds), and the machine sat three-quarters idle with one at a time (a fifth of it still
 * is with four). `--runInBand` (-i) runs them one at a time again. The global setup builds dist/
 * once, before any file starts.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  maxWorkers: 4,
  globalSetup: '<rootDir>/test/global-setup.mjs',
};
