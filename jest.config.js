/**
 * Jest runs TypeScript as ESM through ts-jest (see package.json "test", which adds --experimental-vm-modules).
 * One test file at a time (`maxWorkers: 1`). Four side by side ran the suite in 15 min instead of 42,
 * but a file's TCP proxy frees its port during an API server outage and another file's server can
 * take it (seen once: a TLS "wrong version number" in activity-faults); see test/helpers/tcp-proxy.ts.
 * `--maxWorkers=4` runs them side by side. The global setup builds dist/ once, before any file starts.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
  globalSetup: '<rootDir>/test/global-setup.mjs',
};
