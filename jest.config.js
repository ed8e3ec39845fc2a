/**
 * Jest runs TypeScript as ESM through ts-jest (see package.json "test", which adds --experimental-vm-modules).
 * Five test files run side by side (`maxWorkers: 5`: a real-stack file mostly waits on leases, pods and
 * outages; with four the cores were 87 % busy, with five 94 %, and the run 50 s shorter), the longest first (test/sequencer.mjs). Each jest worker
 * shares one control plane among the files it runs (test/helpers/shared-control-plane.ts); servers
 * that come back on the same port take it outside the ephemeral range (src/local/ports.ts). The global
 * setup builds dist/ once and makes the run folder; the teardown stops the shared control planes.
 * After each run the slowest files are listed with their seconds (test/slowest-files-reporter.mjs).
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  maxWorkers: 5,
  testSequencer: '<rootDir>/test/sequencer.mjs',
  globalSetup: '<rootDir>/test/global-setup.mjs',
  globalTeardown: '<rootDir>/test/global-teardown.mjs',
  reporters: ['default', '<rootDir>/test/slowest-files-reporter.mjs'],
};
